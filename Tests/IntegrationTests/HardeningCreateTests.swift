import Foundation
import Libvirt
import SnapshotCatalog
import Testing

@testable import SnapshotEngine

/// Issue 10, items 1, 2 and 7: `create --full` survives SIGKILL at every step, a failed create's
/// rollback never deletes what the running VM may use, and create refuses to build on a broken chain.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct HardeningCreateTests {
    /// SIGKILL during `create --full`: while the frozen chain is being flattened (`.partial`
    /// written), while the block copy onto the new overlay runs, and after the pivot. The next
    /// command (a `delete` of another snapshot, which merges layers) recovers: the `--full` is
    /// finished when the VM was already moved onto the copy, else undone with no file left
    /// behind; the delete merges its own layers and never pivots the leftover copy job.
    @Test(arguments: ["create.full.partial", "create.full.copying", "create.full.pivoted"])
    func killedFullCreateIsFinishedOrUndoneByTheNextCommand(point: String) throws {
        let f = try EngineFixture(tag: "killfull")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try cli.createWhileCounting(vm, ["a", "b"], guest: g)
        try g.waitUntilStillCounting()

        try cli.killAt(point, ["create", vm, "--name", "c", "--full"], marker: g.directory + "/stalled")
        let journal = try #require(try f.lastJob("create")?.journal)
        #expect(journal.contains("\"full\":true"))

        // First command after the crash: delete an older snapshot (recovery, then a merge).
        let delete = try cli.run(["delete", vm, "b", "--yes"])
        #expect(delete.status == 0, "\(delete.stderr)")
        let expected: Set<String> = point == "create.full.pivoted" ? ["a", "c"] : ["a"]
        let states = try cli.snapshotStates(vm)
        #expect(Set(states.keys) == expected && states.values.allSatisfy { $0 == "ready" }, "\(states)")
        let job = try #require(
            try f.engine.catalog.read { try $0.jobs(vmUUID: f.engine.catalogVM(vm).uuid, limit: 10) }.first { $0.kind == "create" && $0.snapshotName == "c" })
        #expect(job.state == .failed, "\(job)")
        #expect(job.error?.contains(point == "create.full.pivoted" ? "completed from the journal" : "rolled back") == true, "\(String(describing: job.error))")

        // The VM runs on layers the catalog knows, takes new snapshots, and libvirt could start it.
        try assertHealthy(f)
        try g.waitUntilStillCounting()
        let more = try cli.run(["create", vm, "--name", "d"])
        #expect(more.status == 0, "\(more.stderr)")
        let restore = try cli.run(["restore", vm, "a", "--confirm", vm])
        #expect(restore.status == 0, "restore with a safety snapshot after recovery: \(restore.stderr)")
        try assertHealthy(f)
        try assertEveryReadySnapshotRestores(f)
        try assertHealthy(f)
    }

    /// The same on a shut-off VM (no block copy: the persistent definition is the switch): killed
    /// while flattening, the `--full` is undone and `virsh start` boots the recovered definition.
    @Test func killedFullCreateOfAShutOffVMIsUndone() throws {
        let f = try EngineFixture(tag: "killfulloff")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        try g.domain.destroy()
        #expect(try cli.run(["create", vm, "--name", "a"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        try cli.killAt("create.full.partial", ["create", vm, "--name", "c", "--full"], marker: g.directory + "/stalled")

        let delete = try cli.run(["delete", vm, "b", "--yes"])
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(try cli.snapshotStates(vm) == ["a": "ready"])
        try cli.expectCheckPasses(vm, "check: ")
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "start", vm])
        _ = try g.waitForFirstCounter()
        try assertHealthy(f)
        #expect(try cli.run(["create", vm, "--name", "d", "--full"]).status == 0)
        try assertEveryReadySnapshotRestores(f)
        try assertHealthy(f)
    }

    /// A leftover block copy someone else started (here by hand, like the one a killed `--full`
    /// used to leave): a delete that needs to merge the active layer refuses before changing
    /// anything, instead of pivoting that copy as if it were its own commit.
    @Test func deleteNeverCompletesABlockJobItDidNotStart() throws {
        let f = try EngineFixture(tag: "foreignjob")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try cli.createWhileCounting(vm, ["a", "b"], guest: g)
        let source = try g.currentSource()
        let foreign = g.directory + "/foreign-copy.qcow2"
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "blockcopy", vm, "vda", foreign, "--transient-job", "--wait", "--format", "qcow2"])
        let before = (try cli.snapshotStates(vm), filesUnder(f.storePath))

        // Deleting b leaves b's layer with the active layer as its only child: an active commit.
        let delete = try cli.run(["delete", vm, "b", "--yes"])
        #expect(delete.status == 3, "\(delete.stderr)")
        #expect(
            delete.stderr.split(separator: "\n").count == 1 && delete.stderr.contains("block job") && delete.stderr.contains(foreign),
            "\(delete.stderr)")
        #expect(try cli.snapshotStates(vm) == before.0)
        #expect(filesUnder(f.storePath) == before.1)
        #expect(try g.currentSource() == source, "the VM was moved off its layer")
        #expect(try g.domain.blockJobInfo(disk: "vda")?.type == .copy, "the foreign job is still there")

        // Once its owner aborts it, the delete works.
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "blockjob", vm, "vda", "--abort"])
        unlink(foreign)
        let retry = try cli.run(["delete", vm, "b", "--yes"])
        #expect(retry.status == 0, "\(retry.stderr)")
        try assertHealthy(f)
        try assertEveryReadySnapshotRestores(f)
    }

    /// The rollback of a failed create cannot read the VM's disks (libvirt did not answer) after
    /// libvirt had already moved the running VM onto the new overlays: nothing is deleted, the
    /// job stays open, and the next command (libvirt answering again) finishes the rollback.
    @Test func failedCreateNeverDeletesOverlaysTheVMMayUse() throws {
        let f = try EngineFixture(tag: "rollbackread")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try cli.createWhileCounting(vm, ["a"], guest: g)
        f.engine.faultInjector = { point throws(EngineError) in
            if point == "create.afterCapture" || point == "create.rollback.readDisks" {
                throw EngineError(.libvirt, "injected failure at \(point)")
            }
        }
        #expect(throws: EngineError.self) { try f.engine.createSnapshot(vm: vm, options: CreateOptions(name: "b")) }
        f.engine.faultInjector = nil

        // The capture had moved the VM onto a new overlay: it must still be there, in use.
        let overlay = try g.currentSource()
        #expect(FileManager.default.fileExists(atPath: overlay), "the rollback deleted the overlay the VM writes to")
        try g.waitUntilStillCounting()
        try TestGuest.run("qemu-img", ["info", "-U", "--backing-chain", overlay])
        let job = try #require(try f.lastJob("create"))
        #expect(job.state == .running, "the unfinished rollback stays in the journal: \(job)")

        // Another process finishes it: the snapshot is gone, the overlay is the VM's catalogued layer.
        #expect(try cli.snapshotStates(vm) == ["a": "ready"])
        #expect(try f.lastJob("create")?.state == .failed)
        try assertHealthy(f)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        try assertEveryReadySnapshotRestores(f)
    }

    /// A layer of the VM's current chain is deleted while QEMU still holds it open: create and
    /// the restore's safety snapshot refuse (exit 3) and change nothing, instead of marking a
    /// snapshot ready that could never be restored.
    @Test func createAndSafetySnapshotRefuseABrokenChain() throws {
        let f = try EngineFixture(tag: "brokenchain")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try cli.createWhileCounting(vm, ["a", "b"], guest: g)
        // b froze the overlay a put the VM on; it is the backing file of the VM's active layer.
        let frozen = try f.frozenLayerPath(try f.engine.snapshot(vm: vm, name: "b").record.id, disk: "vda")
        #expect(unlink(frozen) == 0)
        let before = (try cli.snapshotStates(vm), filesUnder(f.storePath), try g.currentSource())

        for args in [["create", vm, "--name", "c"], ["create", vm, "--name", "c", "--full"], ["restore", vm, "a", "--confirm", vm]] {
            let result = try cli.run(args)
            #expect(result.status == 3, "\(args): exit \(result.status) \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(
                lines.count == 1 && lines[0].hasPrefix("kvmsnap: error: ") && result.stderr.contains("chain") && result.stderr.contains(frozen),
                "\(args): \(result.stderr)")
            #expect(try cli.snapshotStates(vm) == before.0)
            #expect(filesUnder(f.storePath) == before.1, "\(args) left files behind")
            #expect(try g.currentSource() == before.2)
            #expect(g.isRunning)
        }
        let restore = try cli.run(["restore", vm, "a", "--confirm", vm])
        #expect(restore.stderr.contains("--no-safety-snapshot"), "\(restore.stderr)")
    }

    /// Sibling of item 2: `restore --as` fails after the new VM started. Its disks are removed
    /// only once the new VM is stopped and undefined, never left running on deleted files.
    @Test func failedRestoreAsNewVMIsRemovedBeforeItsDisks() throws {
        let f = try EngineFixture(tag: "cloneroll")
        let cloneName = f.guest.name + "-as"
        defer {
            if let clone = try? f.guest.connection.lookupDomain(name: cloneName) {
                try? clone.destroy(); try? clone.undefine(flags: [.nvram])
            }
            f.destroy()
        }
        let cli = CLI(f), vm = f.guest.name
        try cli.createWhileCounting(vm, ["base"], guest: f.guest)
        let uuid = try f.engine.catalogVM(vm).uuid
        let result = try cli.run(["restore", vm, "base", "--as", cloneName], environment: ["KVMSNAP_TEST_FAIL_AT": "clone.afterStart"])
        #expect(result.status == 1 && result.stderr.contains("injected failure at clone.afterStart"), "\(result.stderr)")
        #expect((try? f.guest.connection.lookupDomain(name: cloneName)) == nil, "the new VM was left defined or running")
        let others = filesUnder(f.storePath + "/vms").filter { !$0.hasPrefix(uuid) }
        #expect(!others.contains { $0.hasSuffix(".qcow2") }, "\(others)")
        #expect(f.guest.isRunning)
    }

    /// `check` reports a persistent definition naming a disk image that does not exist (what a
    /// killed `--full` followed by a delete used to leave: `virsh start` failed after shutdown).
    @Test func checkReportsADefinitionThatCouldNotStart() throws {
        let f = try EngineFixture(tag: "checkdef")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try cli.createWhileCounting(vm, ["a"], guest: f.guest)
        #expect(try cli.run(["check", vm]).status == 0)
        let missing = f.guest.directory + "/gone.qcow2"
        var definition = try DomainDefinition(xml: try f.guest.domain.xml(flags: [.inactive, .secure]))
        try definition.setDiskSource(target: "vda", path: missing, format: "qcow2")
        _ = try f.guest.connection.defineDomain(xml: definition.xml)
        let check = try cli.run(["check", vm])
        #expect(check.status != 0 && check.stdout.contains(missing) && check.stdout.contains("starting the VM would fail"), "\(check.stdout)")
        #expect(f.guest.isRunning)
    }

    /// Sibling of item 2 in revert: a revert fails after the VM was restored onto its new overlay
    /// and the VM could not be stopped. Putting the previous definition back must not delete the
    /// overlay the still running VM writes to.
    @Test func failedRevertNeverDeletesTheOverlayTheRunningVMUses() throws {
        let f = try EngineFixture(tag: "revertroll")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try cli.createWhileCounting(vm, ["a"], guest: g)
        f.engine.faultInjector = { point throws(EngineError) in
            if point == "revert.afterStart" || point == "revert.rollback.destroy" {
                throw EngineError(.libvirt, "injected failure at \(point)")
            }
        }
        #expect(throws: EngineError.self) { try f.engine.revert(vm: vm, to: "a") }
        f.engine.faultInjector = nil
        #expect(g.isRunning)
        let overlay = try g.currentSource()
        #expect(FileManager.default.fileExists(atPath: overlay), "the failed revert deleted the overlay the VM writes to")
        try g.waitUntilStillCounting()
        try TestGuest.run("qemu-img", ["info", "-U", "--backing-chain", overlay])
        let more = try cli.run(["create", vm, "--name", "b"])
        #expect(more.status == 0, "\(more.stderr)")
        try assertEveryReadySnapshotRestores(f)
    }

    // MARK: Helpers

    /// The VM runs on layers the catalog knows, `check` is clean (no stray files), and the
    /// persistent definition names images that exist with intact chains (`virsh start` would work).
    func assertHealthy(_ f: EngineFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let cli = CLI(f)
        #expect(f.guest.isRunning, sourceLocation: sourceLocation)
        let check = try cli.run(["check", f.guest.name])
        #expect(check.status == 0, "check: \(check.stdout) \(check.stderr)", sourceLocation: sourceLocation)
        let domain = try f.guest.connection.lookupDomain(name: f.guest.name)
        for xml in [try domain.xml(flags: [.inactive]), try domain.xml(flags: [])] {
            for disk in try DomainDefinition(xml: xml).disks {
                let path = try #require(disk.path)
                #expect(FileManager.default.fileExists(atPath: path), "definition names missing \(path)", sourceLocation: sourceLocation)
                try TestGuest.run("qemu-img", ["info", "-U", "--backing-chain", path])
            }
        }
        #expect(try domain.blockJobInfo(disk: "vda") == nil, "a block job is left on vda", sourceLocation: sourceLocation)
    }

    /// Reverts to every ready snapshot and checks the guest resumes from the counter its disk holds.
    func assertEveryReadySnapshotRestores(_ f: EngineFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: (f.guest.latestCounter ?? 0) + 1)
        let states = try cli.snapshotStates(vm)
        for name in states.keys.sorted() where states[name] == "ready" {
            let info = try f.engine.snapshot(vm: vm, name: name)
            let expected = try #require(try TestGuest.diskCounter(f.frozenLayerPath(info.record.id, disk: "vda")))
            let result = try cli.run(["revert", vm, name, "--confirm", vm])
            #expect(result.status == 0, "\(name): \(result.stderr)", sourceLocation: sourceLocation)
            let first = try f.guest.waitForFirstCounter()
            #expect(first >= expected && first <= expected + 2, "\(name): \(first) vs \(expected)", sourceLocation: sourceLocation)
        }
    }
}
