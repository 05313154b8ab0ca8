import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Quiesce (real guest agent, real ext4 freeze), hooks, guard and jobs, against libvirtd.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct GuardTests {
    private final class Seen: @unchecked Sendable {
        let lock = NSLock()
        var statuses: [String] = []
        func add(_ s: String) { lock.withLock { statuses.append(s) } }
    }

    @Test func quiesceFreezesTheGuestFilesystemAndThawsAfterSuccessAndAfterAFailure() throws {
        let f = try EngineFixture(tag: "quiesce", ext4MiB: 32)
        defer { f.destroy() }
        let g = f.guest
        try g.waitForCounter(atLeast: 1)
        try g.waitForAgent()
        #expect((try? String(contentsOfFile: g.consoleLog, encoding: .utf8))?.contains("mounted=/mnt/data") == true, "\(g.consoleTail())")
        #expect(try g.fsFreezeStatus() == "thawed")

        // Inside the capture window the guest's filesystems are frozen (asked through the agent).
        let seen = Seen()
        f.engine.faultInjector = { point throws(EngineError) in
            guard point == "create.frozen" else { return }
            seen.add((try? g.fsFreezeStatus()) ?? "unknown")
        }
        var options = CreateOptions(name: "quiesced")
        options.quiesce = .required
        let result = try f.engine.createSnapshot(vm: g.name, options: options)
        #expect(seen.statuses == ["frozen"])
        #expect(try g.fsFreezeStatus() == "thawed")
        #expect(result.snapshot.state == .ready && !result.snapshot.hasMemory)
        #expect(result.notices.contains { $0.contains("quiesced: disks only") }, "\(result.notices)")

        // A failure inside the window still thaws, and leaves no snapshot.
        f.engine.faultInjector = { point throws(EngineError) in
            if point == "create.frozen" { throw EngineError(.libvirt, "injected failure at \(point)") }
        }
        options.name = "broken"
        #expect(throws: EngineError.self) { try f.engine.createSnapshot(vm: g.name, options: options) }
        #expect(try g.fsFreezeStatus() == "thawed")
        #expect(try f.engine.snapshots(vm: g.name).1.contains { $0.record.name == "broken" && $0.record.state == .ready } == false)
        let seenCounter = g.latestCounter ?? 0
        try g.waitForCounter(atLeast: seenCounter + 2)
    }

    @Test func explicitQuiesceWithoutAgentFailsClearlyAndAutoSaysSo() throws {
        let f = try EngineFixture(tag: "noagent", cmdline: "kvmsnap.agent=0")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        let result = try cli.run(["create", vm, "--name", "q", "--quiesce"])
        #expect(result.status == 3)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && result.stderr.contains("no QEMU guest agent is connected"), "\(result.stderr)")
        #expect(try cli.snapshotStates(vm).isEmpty)

        var options = CreateOptions(name: "auto")
        options.quiesce = .auto
        options.diskOnly = true
        let auto = try f.engine.createSnapshot(vm: vm, options: options)
        #expect(auto.snapshot.state == .ready)
        #expect(auto.notices.contains { $0.contains("no QEMU guest agent connected") }, "\(auto.notices)")

        // Restoring memory of a guest without an agent: verify does not ping (nor fail), and says so.
        #expect(try cli.run(["create", vm, "--name", "mem"]).status == 0)
        let restored = try cli.run(["restore", vm, "mem", "--confirm", vm, "--no-safety-snapshot", "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let report = try #require(restored.json as? [String: Any])
        #expect(report["guestAgentAnswered"] == nil && report["restoredMemory"] as? Bool == true, "\(report)")
        #expect((report["notices"] as? [String])?.contains { $0.contains("guest agent was not running in the snapshot") } == true, "\(report)")
    }

    @Test func failingGuardRestoresAndOnFailureHookSeesTheError() throws {
        let f = try EngineFixture(tag: "guardfail")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        let envFile = g.directory + "/on-failure.env"
        #expect(try cli.run(["hook", "add", "--phase", "on-failure"], command: ["/bin/sh", "-c", "env >> \(envFile); echo --- >> \(envFile)"]).status == 0)
        try g.waitForCounter(atLeast: 2)

        let result = try cli.run(["guard", vm, "--name", "bc", "--on-failure", "restore"], command: ["sh", "-c", "exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("rolled back"), "\(result.stderr)")
        let info = try f.engine.snapshot(vm: vm, name: "bc")
        let snapCounter = try #require(try TestGuest.diskCounter(f.frozenLayerPath(info.record.id, disk: "vda")))
        let first = try g.waitForFirstCounter()
        #expect(first >= snapCounter && first <= snapCounter + 2, "first \(first), snapshot \(snapCounter)")

        let env = try String(contentsOfFile: envFile, encoding: .utf8)
        #expect(env.components(separatedBy: "---").count == 2, "on-failure ran more than once: \(env)")
        #expect(env.contains("KVMSNAP_KIND=guard") && env.contains("KVMSNAP_PHASE=on-failure") && env.contains("KVMSNAP_VM=\(vm)"))
        #expect(env.contains("KVMSNAP_ERROR=command 'sh -c exit 3' exited with status 3; rolled back to 'bc'"), "\(env)")

        let jobs = try #require(try cli.run(["jobs", vm, "--json"]).json as? [[String: Any]])
        let guardJob = try #require(jobs.first { $0["kind"] as? String == "guard" })
        #expect(guardJob["state"] as? String == "failed")
        #expect(guardJob["snapshot"] as? String == "bc")
        #expect((guardJob["error"] as? String)?.contains("exited with status 3") == true)
        let failedOnly = try #require(try cli.run(["jobs", "--failed", "--json"]).json as? [[String: Any]])
        #expect(failedOnly.allSatisfy { $0["state"] as? String == "failed" } && failedOnly.contains { $0["kind"] as? String == "guard" })
    }

    @Test func succeedingGuardLeavesThePinnedSnapshotAndATimeoutCountsAsFailure() throws {
        let f = try EngineFixture(tag: "guardok")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)

        let ok = try cli.run(["guard", vm], command: ["true"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stderr.contains("kvmsnap verified \(vm) before-change-"), "\(ok.stderr)")
        let (_, infos) = try f.engine.snapshots(vm: vm)
        let snap = try #require(infos.first { $0.record.name.hasPrefix("before-change-") }).record
        #expect(snap.pinned && snap.labels.contains("before-change"))
        // No restore happened: the console was not truncated and the counter keeps climbing.
        let counters = g.consoleCounters()
        #expect(counters.first == 1)
        try g.waitForCounter(atLeast: (counters.last ?? 0) + 2)

        let started = Date()
        let timedOut = try cli.run(["guard", vm, "--name", "slow", "--timeout", "2s"], command: ["sleep", "60"])
        #expect(timedOut.status != 0)
        #expect(Date().timeIntervalSince(started) < 45)
        #expect(timedOut.stderr.contains("killed after its timeout"), "\(timedOut.stderr)")
        #expect(timedOut.stderr.contains("kvmsnap restore \(vm) slow --confirm \(vm)"), "\(timedOut.stderr)")
        let jobs = try f.engine.jobs(vm: vm).filter { $0.kind == "guard" }
        #expect(jobs.map(\.state) == [.failed, .succeeded])
    }

    @Test func hooksSeeTheirEnvironmentPreHookFailureAbortsAndKilledHooksAreReported() throws {
        let f = try EngineFixture(tag: "hooks")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 1)
        let envFile = g.directory + "/pre.env"

        let added = try cli.run(["hook", "add", "--phase", "pre-snapshot", "--vm", vm, "--json"], command: ["/bin/sh", "-c", "env > \(envFile)"])
        #expect(added.status == 0, "\(added.stderr)")
        let hookID = try #require((added.json as? [String: Any])?["id"] as? Int)
        #expect(try cli.run(["create", vm, "--name", "one", "--disk-only"]).status == 0)
        let env = try String(contentsOfFile: envFile, encoding: .utf8)
        for expected in ["KVMSNAP_VM=\(vm)", "KVMSNAP_SNAPSHOT=one", "KVMSNAP_KIND=create", "KVMSNAP_PHASE=pre-snapshot"] {
            #expect(env.contains(expected), "\(expected) missing: \(env)")
        }
        #expect(env.range(of: #"KVMSNAP_JOB=\d+"#, options: .regularExpression) != nil)
        #expect(!env.contains("KVMSNAP_ERROR="))
        #expect(try cli.run(["hook", "remove", "\(hookID)"]).status == 0)

        // A failing pre-hook: nothing is captured.
        #expect(try cli.run(["hook", "add", "--phase", "pre-snapshot"], command: ["false"]).status == 0)
        let layersBefore = filesUnder(f.storePath)
        let refused = try cli.run(["create", vm, "--name", "two", "--disk-only"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pre-snapshot hook") && refused.stderr.contains("no snapshot was taken"), "\(refused.stderr)")
        #expect(try cli.snapshotStates(vm)["two"] == nil)
        #expect(filesUnder(f.storePath).filter { $0.hasSuffix(".qcow2") } == layersBefore.filter { $0.hasSuffix(".qcow2") })
        let listed = try #require(try cli.run(["hook", "list", "--json"]).json as? [[String: Any]])
        for hook in listed { #expect(try cli.run(["hook", "remove", "\(hook["id"] as! Int)"]).status == 0) }

        // A post-hook killed by its timeout is reported; the snapshot stands.
        #expect(try cli.run(["hook", "add", "--phase", "post-snapshot", "--timeout", "1s"], command: ["sleep", "30"]).status == 0)
        let started = Date()
        let slow = try cli.run(["create", vm, "--name", "three", "--disk-only"])
        #expect(slow.status == 0, "\(slow.stderr)")
        #expect(Date().timeIntervalSince(started) < 25)
        #expect(slow.stderr.contains("post-snapshot hook") && slow.stderr.contains("killed after its 1 s timeout"), "\(slow.stderr)")
        #expect(try cli.snapshotStates(vm)["three"] == "ready")
        let job = try #require(try f.engine.jobs(vm: vm).first { $0.snapshotName == "three" })
        #expect(job.state == .succeeded && job.note?.contains("killed") == true)
    }
}
