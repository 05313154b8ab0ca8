import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct CLISnapshotTests {
    @Test func badInputIsRefusedWithOneLineAndNothingChanges() throws {
        let f = try EngineFixture(tag: "badinput")
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        try cli.createWhileCounting(vm, ["keep"], guest: f.guest)
        let before = (try cli.snapshotStates(vm), filesUnder(f.storePath), try f.guest.currentSource())

        let cases: [(args: [String], status: Int32, message: String)] = [
            (["create", "no-such-vm-\(UUID().uuidString.prefix(6))", "--name", "x"], 2, "no VM named"),
            (["create", vm, "--name", ""], 64, "must not be empty"),
            (["create", vm, "--name", "a/b"], 64, "must not contain '/'"),
            (["create", vm, "--name", "tab\there"], 64, "control characters"),
            (["create", vm, "--name", String(repeating: "n", count: 65)], 64, "longer than 64"),
            (["create", vm, "--name", "keep"], 3, "already has a snapshot named 'keep'"),
            (["create", vm, "--name", "x", "--expires", "soon"], 64, "bad --expires"),
            (["create", vm, "--name", "x", "--expires", "2001-01-01"], 64, "in the past"),
            (["show", vm, "missing"], 2, "no snapshot named 'missing'"),
            (["delete", vm, "missing", "--yes"], 2, "no snapshot named 'missing'"),
        ]
        for c in cases {
            let result = try cli.run(c.args)
            #expect(result.status == c.status, "\(c.args): exit \(result.status), stderr \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(
                lines.count == 1 && lines[0].hasPrefix("kvmsnap: error: ") && lines[0].contains(c.message),
                "\(c.args): stderr \(result.stderr)")
        }
        let after = (try cli.snapshotStates(vm), filesUnder(f.storePath), try f.guest.currentSource())
        #expect(after.0 == before.0 && after.1 == before.1 && after.2 == before.2)
        #expect(f.guest.isRunning)
    }

    @Test func diskTypesThatCannotBeSnapshottedAreRefusedBeforeAnyChange() throws {
        // A vmdk disk can't carry a qcow2 overlay chain kvmsnap manages: refused, nothing changes.
        let f = try EngineFixture(tag: "vmdk", start: false)
        defer { f.destroy() }
        let vmdk = f.guest.directory + "/vdb.vmdk"
        try TestGuest.run("qemu-img", ["create", "-q", "-f", "vmdk", vmdk, "16M"])
        var xml = try f.guest.domain.xml(flags: [.inactive])
        xml = xml.replacingOccurrences(
            of: "</devices>",
            with: """
                <disk type='file' device='disk'><driver name='qemu' type='vmdk'/><source file='\(vmdk)'/><target dev='vdb' bus='virtio'/></disk></devices>
                """)
        _ = try f.guest.connection.defineDomain(xml: xml)
        let result = try CLI(f).run(["create", f.guest.name, "--name", "x"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("format 'vmdk' is not qcow2 or raw"), "\(result.stderr)")
        #expect(try CLI(f).snapshotStates(f.guest.name).isEmpty)
        #expect(filesUnder(f.storePath + "/vms").allSatisfy { !$0.hasSuffix(".qcow2") && !$0.hasSuffix(".mem") })
    }

    @Test func incrementalTakesAboutWhatTheGuestWrote() throws {
        // The guest writes 16 MiB of random data to vdb 10 s after boot.
        let f = try EngineFixture(tag: "incsize", diskMiB: [64, 64], cmdline: "kvmsnap.autowrite=16:10")
        defer { f.destroy() }
        let cli = CLI(f)
        try f.guest.waitForCounter(atLeast: 1)
        #expect(try cli.run(["create", f.guest.name, "--name", "before"]).status == 0)
        let deadline = Date().addingTimeInterval(90)
        while !f.guest.consoleTail().contains("wrote=16") {
            if Date() > deadline { Issue.record("guest never wrote: \(f.guest.consoleTail())"); return }
            usleep(300_000)
        }
        let result = try cli.run(["create", f.guest.name, "--name", "after", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(result.json as? [String: Any])
        let diskBytes = try #require(json["diskBytes"] as? Int)
        let mib = Double(diskBytes) / 1_048_576
        // 16 MiB of data plus qcow2 metadata and the counter's clusters; not the 128 MiB of disks.
        #expect(mib >= 16 && mib <= 18, "incremental holds \(mib) MiB after a 16 MiB write")
        #expect(json["kind"] as? String == "incremental")
    }

    @Test func secondOperationOnTheSameVMIsRefusedAsBusy() throws {
        let f = try EngineFixture(tag: "busy")
        defer { f.destroy() }
        let cli = CLI(f)
        try f.guest.waitForCounter(atLeast: 1)
        let marker = f.guest.directory + "/stalled"
        let first = try cli.start(
            ["create", f.guest.name, "--name", "first"],
            environment: ["KVMSNAP_TEST_STALL_AT": "create.beforeCapture", "KVMSNAP_TEST_STALL_MARKER": marker])
        defer { first.signal(SIGKILL); first.wait() }
        try waitForFile(marker)
        let second = try cli.run(["create", f.guest.name, "--name", "second"])
        #expect(second.status == 75)
        #expect(second.stderr.contains("VM \(f.guest.name) is busy: job ") && second.stderr.contains("(create) since"), "\(second.stderr)")
        first.signal(SIGKILL)
        first.wait()
        // Once the holder is gone the VM is free again, and the interrupted job was rolled back.
        #expect(try cli.run(["create", f.guest.name, "--name", "second"]).status == 0)
        #expect(try cli.snapshotStates(f.guest.name) == ["second": "ready"])
    }

    /// SIGKILL at each step of create and delete: afterwards the VM runs on a valid chain, and
    /// every snapshot `list` reports ready really restores its counter.
    @Test(arguments: ["create.beforeCapture", "create.afterCapture", "delete.afterCatalog", "reclaim.afterMerge"])
    func killAtAnyStepKeepsTheVMAndEveryReadySnapshotRestorable(point: String) throws {
        let f = try EngineFixture(tag: "kill")
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        try cli.createWhileCounting(vm, ["a", "b"], guest: f.guest)
        try f.guest.waitUntilStillCounting()

        let args = point.hasPrefix("create") ? ["create", vm, "--name", "c"] : ["delete", vm, "a", "--yes"]
        try cli.killAt(point, args, marker: f.guest.directory + "/stalled")

        // The VM still runs and keeps counting on a chain qemu-img can walk.
        let counting = try f.guest.waitUntilStillCounting()
        try TestGuest.run("qemu-img", ["info", "-U", "--backing-chain", try f.guest.currentSource()])

        // The next command recovers; whatever it reports ready must restore.
        let states = try cli.snapshotStates(vm)
        #expect(states.values.allSatisfy { $0 == "ready" }, "\(states)")
        try cli.expectCheckPasses(vm, "check after recovery: ")
        for name in states.keys.sorted() {
            let info = try f.engine.snapshot(vm: vm, name: name)
            let expected = try #require(try TestGuest.diskCounter(f.frozenLayerPath(info.record.id, disk: "vda")))
            let result = try cli.run(["revert", vm, name, "--confirm", vm])
            #expect(result.status == 0, "\(result.stderr)")
            let first = try f.guest.waitForFirstCounter()
            #expect(first >= expected && first <= expected + 2 && first < counting, "\(name): \(first) vs \(expected)")
        }
    }
}
