import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct RestoreTests {
    /// The counter the guest shows right now, after making sure it is still climbing.
    func stillCounting(_ guest: TestGuest) throws -> Int {
        let now = guest.latestCounter ?? 0
        return try guest.waitForCounter(atLeast: now + 2)
    }

    @Test func refusalsChangeNothingAndTheGuestKeepsCounting() throws {
        let f = try EngineFixture(tag: "refuse")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try cli.createWhileCounting(vm, ["s1"], guest: f.guest)
        let states = try cli.snapshotStates(vm)
        let source = try f.guest.currentSource()
        let cases: [([String], String)] = [
            (["restore", vm, "s1", "--confirm", vm.uppercased()], "does not match the VM name"),
            (["restore", vm, "s1"], "stdin is not a terminal; pass --confirm"),
            (["restore", vm, "nope", "--confirm", vm], "no snapshot named 'nope'"),
        ]
        for (args, message) in cases {
            let before = try f.guest.waitUntilStillCounting()
            let result = try cli.run(args)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(args): \(result.stderr)")
            let after = try f.guest.waitUntilStillCounting()
            #expect(after > before, "counter stopped climbing after \(args)")
        }
        #expect(try cli.snapshotStates(vm) == states)
        #expect(try f.guest.currentSource() == source)
    }

    @Test func restoreRunningAndShutOffSnapshotsAndTheSafetySnapshotUndoesIt() throws {
        let f = try EngineFixture(tag: "restore")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (_, live) = try f.snapshot("live")
        let liveCounter = try #require(live)
        try g.waitForCounter(atLeast: liveCounter + 4)

        // Restore the running snapshot: memory comes back.
        let before = try g.waitUntilStillCounting()
        let result = try cli.run(["restore", vm, "live", "--confirm", vm, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(result.json as? [String: Any])
        #expect(report["restoredMemory"] as? Bool == true)
        // The agent runs in the snapshot's memory, so verify pinged it.
        #expect(report["guestAgentAnswered"] as? Bool == true, "\(report)")
        let downtime = try #require(report["guestDowntimeSeconds"] as? Double)
        #expect(downtime > 0 && downtime < 60)
        let first = try g.waitForFirstCounter()
        #expect(first >= liveCounter && first <= liveCounter + 2 && first < before, "first \(first), snapshot \(liveCounter), before \(before)")
        let safety = try #require(report["safetySnapshot"] as? String)
        #expect(safety.hasPrefix("pre-restore-"))
        let safetyInfo = try f.engine.snapshot(vm: vm, name: safety)
        let expires = try #require(safetyInfo.record.expiresAt)
        #expect(abs(expires.timeIntervalSinceNow - 7 * 86_400) < 600)

        // Restoring the safety snapshot returns to the pre-restore state (the counter near `before`).
        try g.waitForCounter(atLeast: first + 2)
        #expect(try cli.run(["restore", vm, safety, "--confirm", vm, "--no-safety-snapshot"]).status == 0)
        let back = try g.waitForFirstCounter()
        #expect(back >= before && back <= before + 4, "safety restore printed \(back), pre-restore counter was \(before)")

        // A snapshot of the shut-off VM: restore boots from its disk contents.
        try g.domain.destroy()
        let offCounter = try #require(try TestGuest.diskCounter(try g.currentSource()))
        #expect(try cli.run(["create", vm, "--name", "off"]).status == 0)
        try g.refresh()
        try g.domain.start()
        try g.waitForCounter(atLeast: offCounter + 4)
        let restored = try cli.run(["restore", vm, "off", "--confirm", vm])
        #expect(restored.status == 0, "\(restored.stderr)")
        // The agent answered before the restore, so verify waited for it after the boot.
        #expect(restored.stdout.contains("guest agent: answered a ping"), "\(restored.stdout) \(restored.stderr)")
        let booted = try g.waitForFirstCounter()
        #expect(booted == offCounter + 1, "booted at \(booted), disk held \(offCounter)")
        #expect(try cli.run(["check", vm]).status == 0)
    }

    @Test(arguments: ["restore.revert", "restore.start", "restore.verify.agent", "truncated-memory"])
    func injectedFailureRollsBackToTheStateBeforeTheRestore(fault: String) throws {
        let f = try EngineFixture(tag: "rollback")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (snap, counter) = try f.snapshot("target")
        try g.waitForCounter(atLeast: (counter ?? 0) + 4)
        var environment: [String: String] = [:]
        if fault == "truncated-memory" {
            // A damaged memory image: libvirt fails while loading it, in the revert stage.
            let path = try #require(snap.memoryPath)
            #expect(truncate(path, 4096) == 0)
        } else {
            environment["KVMSNAP_TEST_FAIL_AT"] = fault
        }
        let before = try g.waitUntilStillCounting()
        let result = try cli.run(["restore", vm, "target", "--confirm", vm], environment: environment)
        #expect(result.status != 0)
        let stage = fault == "restore.start" ? "start" : fault == "restore.verify.agent" ? "verify" : "revert"
        #expect(
            result.stderr.contains("restore failed at stage \(stage)") && result.stderr.contains("rolled back to safety snapshot"),
            "\(result.stderr)")
        // The guest resumed from where it was before the restore, not from the snapshot.
        let resumed = try g.waitForFirstCounter()
        #expect(resumed >= before && resumed <= before + 4, "after rollback the guest printed \(resumed); before the restore \(before)")
        #expect(try g.isRunning)
        try TestGuest.run("qemu-img", ["info", "-U", "--backing-chain", try g.currentSource()])
        let check = try cli.run(["check", vm])
        #expect(check.status == 0 || fault == "truncated-memory", "\(check.stdout)")
        let job = try f.engine.catalog.read { try $0.jobs(vmUUID: snap.vmUUID, limit: 5) }.first { $0.kind == "restore" }
        #expect(job?.state == .failed && job?.error?.contains("stage \(stage)") == true)
    }

    /// kvmsnap killed (SIGKILL) after it stopped the VM, or after the revert left it paused: the
    /// next command on the VM rolls it back to the safety snapshot, as a failed stage would.
    @Test(arguments: ["restore.revert", "restore.start"])
    func killedRestoreIsRolledBackByTheNextCommand(point: String) throws {
        let f = try EngineFixture(tag: "killrestore")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (_, counter) = try f.snapshot("target")
        try g.waitForCounter(atLeast: (counter ?? 0) + 4)
        let before = try g.waitUntilStillCounting()
        try cli.killAt(point, ["restore", vm, "target", "--confirm", vm], marker: g.directory + "/stalled")
        #expect(!g.isRunning, "the restore had stopped the VM (or left it paused) when it was killed")

        // The next command on the VM finds the dead restore and rolls back.
        let states = try cli.snapshotStates(vm)
        #expect(states.count == 2 && states.values.allSatisfy { $0 == "ready" }, "\(states)")
        let resumed = try g.waitForFirstCounter()
        #expect(resumed >= before && resumed <= before + 4, "after recovery the guest printed \(resumed); before the restore \(before)")
        #expect(g.isRunning)
        let job = try f.lastJob("restore")
        #expect(job?.state == .failed && job?.error?.contains("rolled back to safety snapshot 'pre-restore-") == true, "\(String(describing: job))")
        try cli.expectCheckPasses(vm)
    }

    /// A lab reset killed after it stopped the VM and defined the baseline's configuration on
    /// new overlays: the next command finishes the reset, and no stray overlay is left.
    @Test func killedLabResetIsFinishedByTheNextCommand() throws {
        let f = try EngineFixture(tag: "killreset")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (_, counter) = try f.snapshot("baseline")
        let base = try #require(counter)
        #expect(try cli.run(["lab", "mark", vm, "--baseline", "baseline"]).status == 0)
        try g.waitForCounter(atLeast: base + 4)
        try cli.killAt("revert.beforeStart", ["reset", vm], marker: g.directory + "/stalled")
        #expect(!g.isRunning, "the reset had stopped the VM when it was killed")

        #expect(try cli.snapshotStates(vm) == ["baseline": "ready"])
        let first = try g.waitForFirstCounter()
        #expect(first >= base && first <= base + 2, "after recovery the guest printed \(first); baseline \(base)")
        let job = try f.lastJob("revert")
        #expect(job?.state == .failed && job?.error?.contains("finished from the journal: reverted to 'baseline'") == true, "\(String(describing: job))")
        try cli.expectCheckPasses(vm, "stray files or drift after recovery: ")
    }

    @Test func restoreAsNewVMRunsBesideTheUntouchedOriginalAndExportDiskHasTheSnapshotsBytes() throws {
        let f = try EngineFixture(tag: "clone")
        let cloneName = f.guest.name + "-as"
        defer {
            if let clone = try? f.guest.connection.lookupDomain(name: cloneName) {
                try? clone.destroy(); try? clone.undefine(flags: [.nvram])
            }
            f.destroy()
        }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (_, counter) = try f.snapshot("base")
        let base = try #require(counter)
        let source = try g.currentSource()
        let result = try cli.run(["restore", vm, "base", "--as", cloneName])
        #expect(result.status == 0, "\(result.stderr)")
        let clone = try g.connection.lookupDomain(name: cloneName)
        #expect(try clone.state().state == .running)
        #expect(try clone.uuidString != (try g.domain.uuidString))
        // The clone boots from the snapshot's disk: its console (its own file) starts at base + 1.
        let cloneLog = (g.consoleLog as NSString).deletingPathExtension + "-\(cloneName).log"
        let deadline = Date().addingTimeInterval(60)
        var cloneFirst: Int?
        while cloneFirst == nil && Date() < deadline {
            cloneFirst = TestGuest.counters(inLog: cloneLog).first
            usleep(300_000)
        }
        #expect(cloneFirst == base + 1, "clone printed \(String(describing: cloneFirst)), snapshot disk held \(base)")
        // The original kept running on its own disk and kept counting.
        #expect(try g.currentSource() == source)
        _ = try g.waitUntilStillCounting()

        // export-disk: a standalone image with the snapshot's sector 0.
        let exported = g.directory + "/export.raw"
        let export = try cli.run(["export-disk", vm, "base", "--disk", "vda", "--to", exported, "--format", "raw"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try TestGuest.diskCounter(exported) == base)
        let info = try TestGuest.run("qemu-img", ["info", "--output=json", exported])
        #expect(info.contains("\"format\": \"raw\"") && !info.contains("backing-filename"))
        #expect(try cli.run(["export-disk", vm, "base", "--disk", "vda", "--to", exported]).status == 3)
    }

    @Test func threeLabVMsResetInParallelToTheirBaselines() throws {
        var fixtures: [EngineFixture] = []
        defer { for fixture in fixtures { fixture.destroy() } }
        // One catalog and store for all three, as on a real host.
        let first = try EngineFixture(tag: "lab", memoryMiB: 160)
        fixtures.append(first)
        for _ in 0..<2 { fixtures.append(try EngineFixture(tag: "lab", memoryMiB: 160)) }
        let cli = CLI(first)
        var baselines: [Int] = []
        for f in fixtures {
            try f.guest.waitForCounter(atLeast: 2)
            #expect(try cli.run(["create", f.guest.name, "--name", "baseline"]).status == 0)
            let info = try first.engine.snapshot(vm: f.guest.name, name: "baseline")
            baselines.append(try #require(try TestGuest.diskCounter(first.frozenLayerPath(info.record.id, disk: "vda"))))
            #expect(try cli.run(["lab", "mark", f.guest.name, "--baseline", "baseline"]).status == 0)
        }
        // A VM that is not a lab is refused and pointed at restore.
        let plain = try cli.run(["reset", "no-such-lab"])
        #expect(plain.status != 0)
        for (f, b) in zip(fixtures, baselines) { try f.guest.waitForCounter(atLeast: b + 4) }
        let reset = try cli.run(["reset", "--all-labs", "--json"])
        #expect(reset.status == 0, "\(reset.stderr)")
        let results = try #require(reset.json as? [[String: Any]])
        #expect(results.count == 3 && results.allSatisfy { $0["error"] == nil || $0["error"] is NSNull })
        for (f, b) in zip(fixtures, baselines) {
            let firstCounter = try f.guest.waitForFirstCounter()
            #expect(firstCounter >= b && firstCounter <= b + 2, "\(f.guest.name): \(firstCounter) vs baseline \(b)")
        }
        #expect(try cli.run(["lab", "unmark", fixtures[0].guest.name]).status == 0)
        let refused = try cli.run(["reset", fixtures[0].guest.name])
        #expect(refused.status == 3 && refused.stderr.contains("is not a lab VM") && refused.stderr.contains("kvmsnap restore"), "\(refused.stderr)")
    }

    /// A person at a terminal: a wrong name is refused, the right one restores.
    @Test func typedConfirmationAtTheInteractivePrompt() throws {
        let f = try EngineFixture(tag: "tmux")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (_, counter) = try f.snapshot("s1")
        try g.waitForCounter(atLeast: (counter ?? 0) + 4)
        let command =
            "\(CLI.binary) restore \(vm) s1 --connect \(IntegrationEnvironment.uri) --catalog \(cli.catalog) --store \(cli.store); echo EXIT=$?; sleep 60"

        // A tmux server of its own (-L), started by this test: the path a fresh CI machine takes.
        // (Foundation's Process waited for such a daemon to exit; ExternalProcess waits for the client.)
        let socket = "kvmsnap-test-\(UUID().uuidString.prefix(8))"
        defer { _ = try? ExternalProcess.run("tmux", ["-L", socket, "kill-server"], timeout: .seconds(10)) }
        func tmux(_ args: [String]) throws -> String {
            let outcome = try ExternalProcess.run("tmux", ["-L", socket] + args, timeout: .seconds(30))
            guard outcome.succeeded else { throw TestGuestError("tmux \(args.first ?? ""): \(outcome.standardError)") }
            return outcome.standardOutput
        }

        func session(typing answer: String) throws -> String {
            let name = "kvmsnap-\(UUID().uuidString.prefix(8))"
            _ = try tmux(["new-session", "-d", "-s", name, "-x", "200", "-y", "50", command])
            defer { _ = try? tmux(["kill-session", "-t", name]) }
            func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", name]) }
            let deadline = Date().addingTimeInterval(60)
            while !(try screen()).contains("Type VM name to confirm:") {
                if Date() > deadline { throw TestGuestError("no prompt: \(try screen())") }
                usleep(200_000)
            }
            let prompt = try screen()
            #expect(prompt.contains("snapshot:  's1'") && prompt.contains("current data will be lost") && prompt.contains("memory:    restored"))
            _ = try tmux(["send-keys", "-t", name, answer, "Enter"])
            while !(try screen()).contains("EXIT=") {
                if Date() > deadline.addingTimeInterval(120) { throw TestGuestError("no exit: \(try screen())") }
                usleep(300_000)
            }
            return try screen()
        }

        let wrong = try session(typing: vm.uppercased())
        #expect(wrong.contains("does not match") && wrong.contains("EXIT=64"), "\(wrong)")
        #expect(try cli.snapshotStates(vm).keys.sorted() == ["s1"])
        let right = try session(typing: vm)
        #expect(right.contains("restored \(vm) to 's1'") && right.contains("EXIT=0"), "\(right)")
        let first = try g.waitForFirstCounter()
        #expect(first >= (counter ?? 0) && first <= (counter ?? 0) + 2)
    }
}
