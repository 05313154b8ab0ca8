import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// A kvmsnap command (or engine call) running on another thread while the test breaks
/// something under it; `value()` waits for its result.
final class Background<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<T, any Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        Thread.detachNewThread { [self] in
            outcome = Result { try body() }
            done.signal()
        }
    }

    func value(timeout: Double = 600) throws -> T {
        guard done.wait(timeout: .now() + timeout) == .success, let outcome else {
            throw TestGuestError("background call did not finish within \(timeout) s")
        }
        return try outcome.get()
    }
}

/// Issue 10, items 3, 4, 5 and 8: libvirtd dying under a restore, recovery that must not take a
/// live job for a dead one, decisions read under the VM's lock, and the snapshot states the
/// product really leaves behind.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct HardeningRecoveryTests {
    /// Once the guest counts to 2, snapshots it as "target" and lets it count on; returns the
    /// snapshot and the counter the guest reached after it.
    func snapshotTargetAndCountOn(_ f: EngineFixture) throws -> (snapshot: SnapshotRecord, before: Int) {
        try f.guest.waitForCounter(atLeast: 2)
        let (snap, _) = try f.snapshot("target")
        return (snap, try f.guest.waitUntilStillCounting())
    }

    /// Expects the guest to count on past `before`: it kept running and was not restored.
    func expectCountedOn(from before: Int, _ guest: TestGuest, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let after = try guest.waitUntilStillCounting()
        #expect(
            after > before, "the guest went on counting from \(before), it was not restored (printed \(after))",
            sourceLocation: sourceLocation)
    }

    /// The VM's newest job of `kind`, read from the catalog alone (libvirt may be gone).
    func lastJob(_ f: EngineFixture, uuid: String, _ kind: String) throws -> JobRecord? {
        try f.engine.catalog.read { try $0.jobs(vmUUID: uuid, kinds: [kind], limit: 1) }.first
    }

    /// Stall environment: kvmsnap stops at `point`, touches `<dir>/stalled` and goes on once `<dir>/release` exists.
    func stall(_ point: String, _ dir: String) -> [String: String] {
        ["KVMSNAP_TEST_STALL_AT": point, "KVMSNAP_TEST_STALL_MARKER": dir + "/stalled", "KVMSNAP_TEST_STALL_RELEASE": dir + "/release"]
    }

    func release(_ dir: String) { _ = FileManager.default.createFile(atPath: dir + "/release", contents: nil) }

    /// A test guest for a test that kills libvirtd: no other test guest exists meanwhile
    /// (``LibvirtdGate``), and whatever happens libvirtd runs again and the guest is removed.
    func withLibvirtdKillFixture(_ tag: String, _ body: (EngineFixture) throws -> Void) throws {
        try LibvirtdGate.exclusive {
            let f = try EngineFixture(tag: tag)
            defer {
                if !((try? ExternalProcess.run("virsh", ["-c", IntegrationEnvironment.uri, "version"]))?.succeeded ?? false) {
                    try? Libvirtd.restart()
                }
                try? f.guest.reconnect()
                f.destroy()
            }
            try body(f)
        }
    }

    /// Item 3: libvirtd SIGKILLed after the restore stopped the VM, and not back before the restore
    /// gives up waiting for it (no wait here). The restore cannot roll back without libvirt: it
    /// says so in one line and leaves the rollback pending; `check` reports it;
    /// the next command, once libvirt answers, rolls back to the safety snapshot (the guest
    /// continues from its pre-restore counter) and `check` is clean again.
    @Test func libvirtdKilledAfterTheStopLeavesARollbackTheNextCommandFinishes() throws {
        try withLibvirtdKillFixture("lvdstop") { f in
            let cli = CLI(f), vm = f.guest.name, g = f.guest
            try g.waitForCounter(atLeast: 2)
            let (snap, counter) = try f.snapshot("target")
            try g.waitForCounter(atLeast: (counter ?? 0) + 4)
            let before = try g.waitUntilStillCounting()
            let environment = stall("restore.revert", g.directory).merging(["KVMSNAP_TEST_LIBVIRT_WAIT": "0"]) { $1 }
            let restore = Background { try cli.run(["restore", vm, "target", "--confirm", vm], environment: environment) }
            try waitForFile(g.directory + "/stalled")
            #expect(!g.isRunning, "the restore had stopped the VM")
            try Libvirtd.kill()
            release(g.directory)
            let failed = try restore.value()
            try Libvirtd.restart()
            #expect(failed.status == 1, "\(failed.stderr)")
            #expect(failed.stderr.split(separator: "\n").count == 1 && failed.stderr.contains("libvirt stopped answering"), "\(failed.stderr)")
            #expect(try lastJob(f, uuid: snap.vmUUID, "restore")?.state == .pending)

            try g.reconnect()
            let pending = try cli.run(["check", vm])
            #expect(pending.status == 1 && pending.stdout.contains("(restore) is not finished"), "\(pending.stdout)")
            #expect(!g.isRunning, "check changes nothing")

            // The next command on the VM finishes the rollback.
            let states = try cli.snapshotStates(vm)
            #expect(states.count == 2 && states.values.allSatisfy { $0 == "ready" }, "\(states)")
            let resumed = try g.waitForFirstCounter()
            #expect(resumed >= before && resumed <= before + 4, "after the rollback the guest printed \(resumed); before the restore \(before)")
            #expect(g.isRunning)
            let job = try lastJob(f, uuid: snap.vmUUID, "restore")
            #expect(job?.state == .failed && job?.error?.contains("rolled back to safety snapshot 'pre-restore-") == true, "\(String(describing: job))")
            try cli.expectCheckPasses(vm)
        }
    }

    /// Item 3: libvirtd SIGKILLed after the restore had started the VM on the snapshot, and back
    /// while the restore waits for it: the restore sees it took effect and succeeds (exit 0, job
    /// succeeded), the guest runs on from the snapshot's counter. Then, the VM shut off behind kvmsnap's back: `check`
    /// reports that the last restore left it running.
    @Test func libvirtdKilledAfterTheStartKeepsTheRestoreThatWorked() throws {
        try withLibvirtdKillFixture("lvdstart") { f in
            let cli = CLI(f), vm = f.guest.name, g = f.guest
            try g.waitForCounter(atLeast: 2)
            let (snap, counter) = try f.snapshot("target")
            let value = try #require(counter)
            try g.waitForCounter(atLeast: value + 4)
            let restore = Background { try cli.run(["restore", vm, "target", "--confirm", vm], environment: stall("restore.verify", g.directory)) }
            try waitForFile(g.directory + "/stalled")
            try Libvirtd.kill()
            try Libvirtd.restart()
            release(g.directory)
            let restored = try restore.value()
            #expect(restored.status == 0 && (restored.stdout + restored.stderr).contains("it stands"), "\(restored.stdout)\(restored.stderr)")

            try g.reconnect()
            #expect(try cli.snapshotStates(vm).count == 2)
            let job = try lastJob(f, uuid: snap.vmUUID, "restore")
            #expect(job?.state == .succeeded && job?.note?.contains("it stands") == true, "\(String(describing: job))")
            #expect(g.isRunning)
            let first = try g.waitForFirstCounter()
            #expect(first >= value && first <= value + 2, "the guest printed \(first) after the restore; the snapshot holds \(value)")
            try g.waitForCounter(atLeast: first + 2)
            let current = try f.engine.catalog.read { try $0.vm(uuid: snap.vmUUID) }
            #expect(current?.currentSnapshotID == snap.id)
            try cli.expectCheckPasses(vm)

            // The guest's QEMU dies (libvirt: shut off, crashed): drift, unlike a requested shutdown
            // (CheckRunStateTests).
            let pid = try String(contentsOfFile: "/run/libvirt/qemu/\(vm).pid", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(kill(try #require(pid_t(pid)), SIGKILL) == 0)
            #expect(HostTools.wait(timeout: 30) { !g.isRunning })
            let drift = try cli.run(["check", vm])
            #expect(drift.status == 1 && drift.stdout.contains("VM is shut off, but the last restore (job \(job?.id ?? 0)) left it running"), "\(drift.stdout)")
        }
    }

    /// Item 5: a create that waited for the lock while a restore to s1 held the VM takes s1
    /// (the state it captures descends from) as its parent, not s2, what was current before.
    @Test func createWaitingForARestoreTakesTheRestoredSnapshotAsParent() throws {
        let f = try EngineFixture(tag: "raceparent")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (s1, _) = try f.snapshot("s1")
        try g.waitUntilStillCounting()
        let (s2, _) = try f.snapshot("s2")
        let restore = Background {
            try cli.run(["restore", vm, "s1", "--confirm", vm, "--no-safety-snapshot"], environment: stall("restore.revert", g.directory))
        }
        try waitForFile(g.directory + "/stalled")
        f.engine.lockWait = 300
        let engine = f.engine
        let create = Background { try engine.createSnapshot(vm: vm, options: CreateOptions(name: "s3")).snapshot }
        sleep(2)  // the create has looked the VM up and waits for its lock
        release(g.directory)
        let restored = try restore.value()
        #expect(restored.status == 0, "\(restored.stderr)")
        let s3 = try create.value()
        #expect(s3.parentID == s1.id, "s3's parent is \(String(describing: s3.parentID)); s1 \(s1.id), s2 \(s2.id)")
        #expect(try f.engine.catalogVM(vm).currentSnapshotID == s3.id)
    }

    /// Item 5: a create that waited for the lock while the delete of the current snapshot s2
    /// held the VM takes s1 (s2's parent, current after the delete) as its parent; it used to
    /// take the deleted s2 and fail with "FOREIGN KEY constraint failed".
    @Test func createWaitingForTheDeleteOfTheCurrentSnapshotTakesItsParent() throws {
        let f = try EngineFixture(tag: "racedelete")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (s1, _) = try f.snapshot("s1")
        try g.waitUntilStillCounting()
        try f.snapshot("s2")
        let delete = Background { try cli.run(["delete", vm, "s2", "--yes"], environment: stall("delete.started", g.directory)) }
        try waitForFile(g.directory + "/stalled")
        f.engine.lockWait = 300
        let engine = f.engine
        let create = Background { try engine.createSnapshot(vm: vm, options: CreateOptions(name: "s3")).snapshot }
        sleep(2)  // the create has looked the VM up and waits for its lock
        release(g.directory)
        let deleted = try delete.value()
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let s3 = try create.value()
        #expect(s3.parentID == s1.id, "s3's parent is \(String(describing: s3.parentID)); s1 \(s1.id)")
        #expect(try cli.snapshotStates(vm) == ["s1": "ready", "s3": "ready"])
    }

    /// Item 4: `list` while a run-due job runs must not take it for a dead one (marking it
    /// interrupted and firing on-failure hooks): run-due holds the VM's lock for its whole job.
    @Test func listDuringRunDueLeavesItsLiveJobAlone() throws {
        let f = try EngineFixture(tag: "rundueliv")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 1)
        let hookFired = g.directory + "/on-failure-fired"
        #expect(try cli.run(["hook", "add", "--phase", "on-failure"], command: ["/bin/sh", "-c", "echo \"$KVMSNAP_JOB_ID\" >> \(hookFired)"]).status == 0)
        #expect(try cli.run(["policy", "set", vm, "--keep-last", "5", "--schedule", "*/10 * * * *"]).status == 0)
        let environment = stall("run-due.started", g.directory).merging(["TZ": "UTC"]) { $1 }
        let runDue = Background { try cli.run(["run-due", "--now", "2030-01-10T10:00:00Z"], environment: environment) }
        try waitForFile(g.directory + "/stalled")
        let uuid = try f.engine.catalogVM(vm).uuid

        let listed = try cli.run(["list", vm])
        #expect(listed.status == 0, "\(listed.stderr)")
        let checked = try cli.run(["check", vm])
        #expect(checked.stdout.contains("(run-due) is running now"), "\(checked.stdout)")
        let during = try lastJob(f, uuid: uuid, "run-due")
        #expect(during?.state == .running, "\(String(describing: during))")
        #expect(!FileManager.default.fileExists(atPath: hookFired), "on-failure hook fired for a live job")

        release(g.directory)
        let ran = try runDue.value()
        #expect(ran.status == 0, "\(ran.stdout)\(ran.stderr)")
        let after = try lastJob(f, uuid: uuid, "run-due")
        #expect(after?.state == .succeeded && after?.id == during?.id, "\(String(describing: after))")
        #expect(try cli.snapshotStates(vm) == ["auto-20300110-1000": "ready"])
        #expect(!FileManager.default.fileExists(atPath: hookFired))

        // A run-due that really died (SIGKILL) at the same point: its owner is gone, and that
        // is what check says and what the next command acts on (once, with the on-failure hook).
        try cli.killAt("run-due.started", ["run-due", "--now", "2030-01-10T10:10:00Z"], marker: g.directory + "/killed")
        let dead = try cli.run(["check", vm])
        #expect(dead.status == 1 && dead.stdout.contains("(run-due) was left running by a kvmsnap process that died"), "\(dead.stdout)")
        #expect(try cli.run(["list", vm]).status == 0)
        let interrupted = try lastJob(f, uuid: uuid, "run-due")
        #expect(interrupted?.state == .failed && interrupted?.error?.contains("interrupted") == true, "\(String(describing: interrupted))")
        #expect(FileManager.default.fileExists(atPath: hookFired), "the on-failure hook runs for the job whose owner died")
    }

    /// Item 8: a create SIGKILLed after the capture, and the VM deleted before any kvmsnap
    /// command ran again: nothing can complete that snapshot. Recovery marks it failed (it was
    /// left pending forever before, and prune skipped it as "in progress"); prune deletes it
    /// and its memory file.
    @Test func abandonedCaptureIsMarkedFailedAndPruneRemovesIt() throws {
        let f = try EngineFixture(tag: "abandoned")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        #expect(try cli.run(["create", vm, "--name", "s1"]).status == 0)
        try cli.killAt("create.afterCapture", ["create", vm, "--name", "s2"], marker: g.directory + "/stalled")
        let uuid = try f.engine.catalogVM(vm).uuid
        let s2 = try #require(try f.engine.catalog.read { try $0.snapshot(vmUUID: uuid, name: "s2") })
        #expect(s2.state == .pending)
        let memory = try #require(s2.memoryPath)
        #expect(FileManager.default.fileExists(atPath: memory))

        // The VM's owner deletes it.
        try HostTools.virsh(["destroy", vm])
        try HostTools.virsh(["undefine", vm])

        #expect(try cli.snapshotStates(vm) == ["s1": "ready", "s2": "failed"])
        let job = try lastJob(f, uuid: uuid, "create")
        #expect(job?.state == .failed && job?.error?.contains("the VM is no longer defined") == true, "\(String(describing: job))")
        let plan = try #require(try cli.run(["prune", vm, "--keep-last", "1", "--dry-run", "--json"]).json as? [[String: Any]])
        let row = plan.first { $0["name"] as? String == "s2" }
        #expect(row?["action"] as? String == "prune" && row?["reason"] as? String == "failed", "\(plan)")
        #expect(row?["reclaimBytes"] as? Int == Int(ImageTool.allocatedBytes(memory)), "\(plan)")
        let pruned = try cli.run(["prune", vm, "--keep-last", "1"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(try cli.snapshotStates(vm) == ["s1": "ready"])
        #expect(!FileManager.default.fileExists(atPath: memory))
    }

    // MARK: issue 11: the restore's safety snapshot is captured with the guest paused

    /// Slows libvirt's memory write for the VM's next capture (libvirt applies the migration speed
    /// limit to a snapshot's memory image), so a test can act while the guest is paused for it.
    func slowCaptures(_ vm: String, mibPerSecond: Int) throws {
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "migrate-setspeed", vm, String(mibPerSecond)])
    }

    /// Waits until libvirt shows the VM paused by a snapshot job (the safety capture is under way).
    func waitUntilPausedForSnapshot(_ g: TestGuest, timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? g.connection.lookupDomain(name: g.name).isPausedForSnapshot) == true { return }
            usleep(20_000)
        }
        throw TestGuestError("the VM was never paused for the safety snapshot")
    }

    /// kvmsnap SIGKILLed while libvirt writes the safety snapshot's memory with the guest paused:
    /// libvirt finishes the capture and resumes the guest, the next command completes (or drops)
    /// the safety snapshot and leaves the guest running on from where it was, with nothing to undo.
    @Test func killedDuringThePausedSafetyCaptureLeavesTheGuestRunning() throws {
        let f = try EngineFixture(tag: "killsafety")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        let (snap, before) = try snapshotTargetAndCountOn(f)
        try slowCaptures(vm, mibPerSecond: 4)
        let victim = try cli.start(["restore", vm, "target", "--confirm", vm])
        try waitUntilPausedForSnapshot(g)
        victim.signal(SIGKILL)
        victim.wait()

        // The next command waits for libvirt's capture, then finishes both jobs.
        let states = try cli.snapshotStates(vm)
        #expect(states["target"] == "ready" && states.values.allSatisfy { $0 == "ready" }, "\(states)")
        #expect(g.isRunning, "the guest runs again after the interrupted safety capture")
        try expectCountedOn(from: before, g)
        let job = try lastJob(f, uuid: snap.vmUUID, "restore")
        #expect(job?.state == .failed && job?.error?.contains("before the VM was touched") == true, "\(String(describing: job))")
        try cli.expectCheckPasses(vm)
    }

    /// libvirtd SIGKILLed while the guest is paused for the safety capture: once libvirtd is back
    /// the guest runs again (libvirt resumes a guest its dead snapshot job paused; kvmsnap makes
    /// sure), the restore failed without touching the VM, and the next command leaves it clean.
    @Test func libvirtdKilledDuringThePausedSafetyCaptureLeavesTheGuestRunning() throws {
        try withLibvirtdKillFixture("lvdsafety") { f in
            let cli = CLI(f), vm = f.guest.name, g = f.guest
            let (snap, before) = try snapshotTargetAndCountOn(f)
            try slowCaptures(vm, mibPerSecond: 4)
            let restore = Background { try cli.run(["restore", vm, "target", "--confirm", vm], environment: ["KVMSNAP_TEST_LIBVIRT_WAIT": "0"]) }
            try waitUntilPausedForSnapshot(g)
            try Libvirtd.kill()
            let failed = try restore.value()
            try Libvirtd.restart()
            #expect(failed.status != 0, "\(failed.stdout)")
            try g.reconnect()

            let states = try cli.snapshotStates(vm)
            #expect(states["target"] == "ready", "\(states)")
            let deadline = Date().addingTimeInterval(30)
            while !g.isRunning, Date() < deadline { usleep(200_000) }
            #expect(g.isRunning, "the guest runs again after libvirtd came back")
            try expectCountedOn(from: before, g)
            #expect(try lastJob(f, uuid: snap.vmUUID, "restore")?.state == .failed)
            try cli.expectCheckPasses(vm)
        }
    }
}
