import Foundation
import SnapshotCatalog
import SnapshotEngine
import TestSupport
import Testing

/// A randomized crash campaign (issue 10, "Done when"): the built `kvmsnap` binary runs `create`,
/// `create --full`, `delete`, `prune` and `restore` against one running test guest and is killed
/// with SIGKILL after a random delay (calibrated from how long each operation took when it was
/// not killed, so the kills land inside the operations, not only at fault points). After every
/// command, killed or not, the next command (`list`) must recover and:
/// - every snapshot that was ready before is still there and ready (except those the command was
///   deleting or pruning), and still holds the counter it was created with;
/// - the VM runs (libvirt says running, the guest prints a new counter, a plausible one) with no
///   block job left, and its persistent definition names the same, existing images as the live one;
/// - `check --json` reports nothing (no stray files, no drift, no job left running), and no file
///   in the store is unknown to the catalog.
/// Every few kills and at the end, EVERY ready snapshot is restored and the guest's first counter
/// must be the one recorded when that snapshot was created.
///
/// `KVMSNAP_CRASH_SEED` replays a run (the seed is printed), `KVMSNAP_CRASH_KILLS` sets the number
/// of kills (default 30), `KVMSNAP_CRASH_OPS` limits the operations (e.g. `create,delete`; for
/// narrowing down a failure). The first broken invariant ends the run with the seed and the step.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct RandomCrashTests {
    @Test func randomKillsDuringSnapshotOperationsLoseNothingAndRecover() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["KVMSNAP_CRASH_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let kills = environment["KVMSNAP_CRASH_KILLS"].flatMap { Int($0) } ?? 30
        let ops =
            try environment["KVMSNAP_CRASH_OPS"].map { list in
                try list.split(separator: ",").map { name in
                    try #require(CrashCampaign.Op(rawValue: String(name)), "unknown operation '\(name)' in KVMSNAP_CRASH_OPS")
                }
            } ?? CrashCampaign.Op.allCases
        print("RandomCrashTests: seed \(seed), \(kills) kills, operations \(ops.map(\.rawValue)) (replay with KVMSNAP_CRASH_SEED=\(seed))")

        // The guest holds the LibvirtdGate's shared side, so no test restarts libvirtd under it.
        let f = try EngineFixture(tag: "crash")
        defer {
            f.destroy()
            // The fixture's own connection is dead if libvirtd was restarted after all: clean up through virsh.
            if (try? HostTools.virsh(["domstate", f.guest.name])) != nil {
                _ = try? HostTools.virsh(["destroy", f.guest.name])
                _ = try? HostTools.virsh(["undefine", f.guest.name, "--nvram"])
            }
        }
        let campaign = CrashCampaign(fixture: f, seed: seed, ops: ops)
        let started = Date()
        do {
            try campaign.run(kills: kills)
            #expect(campaign.totalKills >= kills)
        } catch {
            Issue.record("seed \(seed), \(campaign.where): \(error)\n\(campaign.postMortem())")
        }
        print("RandomCrashTests: seed \(seed): \(campaign.summary) in \(Int(Date().timeIntervalSince(started))) s")
    }
}

/// The campaign's state: the guest, the random source, what each snapshot must hold.
private final class CrashCampaign {
    enum Op: String, CaseIterable { case create, full, delete, prune, restore }

    let f: EngineFixture
    let cli: CLI
    let vm: String
    let ops: [Op]
    var rng: SplitMix64
    /// Snapshot id → the guest's counter when it was created (read from its frozen vda layer at first sight).
    var expected: [String: Int] = [:]
    /// Seconds each operation took when it ran to the end (the last such run): kills are timed from it.
    var duration: [Op: Double] = [:]
    /// Seconds a `list` takes (start-up, connect, open the catalog): kills land after this much.
    var startup = 1.0
    var kills: [Op: Int] = [:]
    var completions: [Op: Int] = [:]
    var restoreRounds = 0
    var step = 0
    var current = "setting up"
    var serial = 0
    var log: [String] = []
    /// libvirtd's pid when the step began: a restart by something else is named in a failure.
    var libvirtdAtStep = CrashCampaign.libvirtdPID()
    /// Upper bound on snapshots: before a create or restore, deletes bring the count below it.
    let maxSnapshots = 6
    /// Every ready snapshot is restored after this many kills (and at the end).
    let restoreEvery = 8

    init(fixture: EngineFixture, seed: UInt64, ops: [Op]) {
        f = fixture
        cli = CLI(fixture)
        vm = fixture.guest.name
        self.ops = ops
        rng = SplitMix64(seed: seed)
    }

    var totalKills: Int { kills.values.reduce(0, +) }
    var `where`: String {
        let now = Self.libvirtdPID()
        return "step \(step): \(current)"
            + (now == libvirtdAtStep ? "" : " (libvirtd was restarted by something else during this step: pid \(libvirtdAtStep) → \(now))")
    }
    var summary: String {
        let perOp = Op.allCases.map { "\($0.rawValue) \(kills[$0, default: 0])/\(kills[$0, default: 0] + completions[$0, default: 0])" }
        let times = Op.allCases.compactMap { op in duration[op].map { "\(op.rawValue) \(String(format: "%.1f", $0)) s" } }
        return "\(totalKills) kills in \(step) steps (killed/run: \(perOp.joined(separator: ", "))), \(restoreRounds) restore-all rounds "
            + "(\(expected.count) snapshots at the end); last uninterrupted durations: \(times.joined(separator: ", "))"
    }

    func run(kills target: Int) throws {
        try f.guest.waitForCounter(atLeast: 2)
        // Calibration: each operation once, uninterrupted (also a plain check that each works).
        for op in [Op.create, .create, .full, .restore, .create, .delete, .create, .prune] where ops.contains(op) || op == .create {
            try perform(op, killing: false)
        }
        try restoreEverySnapshot()
        var round: [Op] = []
        var sinceRestore = 0
        while totalKills < target {
            guard step < target * 4 + 20 else { throw CrashFailure("only \(totalKills) kills landed in \(step) steps") }
            if round.isEmpty { round = ops.shuffled(using: &rng) }
            let before = totalKills
            let op = round.removeFirst()
            try makeRoom(for: op)
            try perform(op, killing: true)
            if totalKills > before { sinceRestore += 1 }
            if sinceRestore >= restoreEvery {
                try restoreEverySnapshot()
                sinceRestore = 0
            }
        }
        if sinceRestore > 0 { try restoreEverySnapshot() }
    }

    // MARK: - One step

    /// One command of the campaign and what it may take away.
    struct Command {
        var args: [String]
        /// Snapshot ids it deletes (delete, prune): the only ready ones allowed to go.
        var mayLose: Set<String> = []
        /// Snapshot id a restore goes to.
        var target: String?
    }

    /// Runs `op` (an operation that fits the current snapshot count), killing it after a random
    /// part of its calibrated duration when `killing`, then checks every invariant.
    func perform(_ requested: Op, killing: Bool) throws {
        step += 1
        current = "list before the next command"
        libvirtdAtStep = Self.libvirtdPID()
        let ready = try readySnapshots()
        let op = fitting(requested, count: ready.count)
        let command = try self.command(op, ready: ready)
        let args = command.args
        let counterBefore = try require(f.guest.latestCounter, "no counter on the console before the command")
        // Uniform over the part of the operation after the program's start-up.
        let window = max(0.05, (duration[op] ?? 3) - startup)
        let delay = killing ? startup + Double.random(in: 0...1, using: &rng) * window : nil
        current = "\(args.joined(separator: " "))" + (delay.map { String(format: ", kill after %.2f s", $0) } ?? "")

        let started = Date()
        let (outcome, ran) = try execute(args, killAfter: delay)
        let killed = outcome.wasSignalled && outcome.status == 128 + SIGKILL
        if killed {
            kills[op, default: 0] += 1
        } else {
            try require(outcome.status == 0, "the command failed without being killed (exit \(outcome.status)): \(outcome.standardError)")
            completions[op, default: 0] += 1
            duration[op] = ran
        }
        let (mayLose, target) = (command.mayLose, command.target)

        // The next command recovers.
        let recoveryStarted = Date()
        let after = try readySnapshots(recovering: true)
        let recovery = Date().timeIntervalSince(recoveryStarted)
        let entry = String(
            format: "step %d: %@ → %@ after %.2f s; list recovered in %.2f s", step, current,
            killed ? "KILLED" : "finished", ran, recovery)
        log.append(entry)
        print("RandomCrashTests: \(entry)")

        // Nothing that was ready is lost.
        let lost = Set(ready.keys).subtracting(after.keys).subtracting(mayLose)
        try require(
            lost.isEmpty, "ready snapshots lost: \(lost.map { ready[$0]! }.sorted()) (before: \(ready.values.sorted()), after: \(after.values.sorted()))")
        if !killed {
            switch op {
            case .create, .full:
                try require(after.values.contains(args[3]), "'\(args[3])' is missing after its create succeeded")
            case .delete, .prune:
                try require(Set(after.keys).isDisjoint(with: mayLose), "snapshots still there after they were deleted: \(mayLose.compactMap { after[$0] })")
            case .restore:
                break
            }
        }
        for id in Set(ready.keys).subtracting(after.keys) { expected[id] = nil }

        // The VM runs, and the guest's counter is where this command can have left it.
        let counter = try guestRuns()
        let elapsed = Int(Date().timeIntervalSince(started).rounded(.up))
        var plausible = [counterBefore]
        if let target, let c = expected[target] { plausible.append(c) }
        try require(
            plausible.contains { counter >= $0 && counter <= $0 + elapsed + 3 },
            "after the command the guest counts at \(counter); before it was \(counterBefore)"
                + (target.map { ", the restore target holds \(expected[$0] ?? -1)" } ?? "") + " (\(elapsed) s ago)")
        if op == .restore, !killed, let target {
            let first = try f.guest.waitForFirstCounter()
            let c = expected[target]!
            try require(first >= c && first <= c + 2, "restored '\(ready[target]!)' (counter \(c)) but the guest first printed \(first)")
        }

        // Snapshots this command made: remember their counters; each was taken while it ran.
        for id in Set(after.keys).subtracting(ready.keys).sorted() {
            let c = try diskCounter(id, after[id]!)
            try require(c >= counterBefore, "new snapshot '\(after[id]!)' holds counter \(c), but the guest had printed \(counterBefore) before the command")
            if op == .create || op == .full {
                try require(c <= counter + 1, "new snapshot '\(after[id]!)' holds counter \(c), the guest printed only up to \(counter)")
            }
            expected[id] = c
        }
        try require(Set(expected.keys) == Set(after.keys), "bookkeeping: \(expected.keys.sorted()) vs \(after.keys.sorted())")
        try checkClean()
        // Every remaining snapshot still holds its counter (merges must not change what it reads).
        for (id, c) in expected {
            let now = try diskCounter(id, after[id]!)
            try require(now == c, "snapshot '\(after[id]!)' now holds counter \(now), it was created with \(c)")
        }
    }

    /// The command line for `op` on the current snapshots (id → name).
    func command(_ op: Op, ready: [String: String]) throws -> Command {
        serial += 1
        switch op {
        case .create:
            return Command(args: ["create", vm, "--name", "c\(serial)"])
        case .full:
            return Command(args: ["create", vm, "--name", "f\(serial)", "--full"])
        case .delete:
            let id = Self.byName(ready).randomElement(using: &rng)!
            return Command(args: ["delete", vm, ready[id]!, "--yes"], mayLose: [id])
        case .prune:
            // Keep the newest K of the snapshots prune may touch (safety snapshots expire later: kept).
            let keep = max(1, ready.count - Int.random(in: 1...3, using: &rng))
            let args = ["prune", vm, "--keep-last", "\(keep)"]
            let plan = try run(args + ["--dry-run", "--json"])
            let rows = try require(plan.json as? [[String: Any]], "prune --dry-run failed: \(plan.stderr)")
            let names = Set(rows.filter { $0["action"] as? String == "prune" }.compactMap { $0["name"] as? String })
            return Command(args: args, mayLose: Set(ready.filter { names.contains($0.value) }.keys))
        case .restore:
            let id = Self.byName(ready).randomElement(using: &rng)!
            return Command(args: ["restore", vm, ready[id]!, "--confirm", vm], target: id)
        }
    }

    /// Starts kvmsnap with `args` and, after `delay` seconds, SIGKILLs it if it still runs (the
    /// kvmsnap process only, as an OOM kill or `kill -9` would; programs it started live on).
    /// Returns how it ended and how long it ran.
    func execute(_ args: [String], killAfter delay: Double?) throws -> (ExternalProcess.Outcome, Double) {
        while true {
            let started = Date()
            let victim = try ExternalProcess.start(
                CLI.binary, args + ["--connect", IntegrationEnvironment.uri, "--catalog", cli.catalog, "--store", cli.store],
                captureOutput: true)
            if let delay {
                while Date().timeIntervalSince(started) < delay && Self.alive(victim.pid) { usleep(5_000) }
                if Self.alive(victim.pid) { kill(victim.pid, SIGKILL) }
            }
            let outcome = victim.wait(timeout: .seconds(900))
            if try !libvirtdWasDown(status: outcome.status, stderr: outcome.standardError) {
                return (outcome, Date().timeIntervalSince(started))
            }
        }
    }

    /// Runs kvmsnap with `args`; again when it could not connect at all (libvirtd restarted by
    /// another test on this host: nothing was done).
    func run(_ args: [String]) throws -> CLI.Result {
        while true {
            let result = try cli.run(args)
            if try !libvirtdWasDown(status: result.status, stderr: result.stderr) { return result }
        }
    }

    /// True (after waiting until qemu:///system answers again) when kvmsnap failed because it
    /// could not connect to libvirtd, before doing anything.
    func libvirtdWasDown(status: Int32, stderr: String) throws -> Bool {
        guard status == 1, stderr.hasPrefix("kvmsnap: error: cannot connect to ") else { return false }
        print("RandomCrashTests: libvirtd is down (\(stderr.trimmingCharacters(in: .newlines))); waiting, then running the command again")
        let back = HostTools.wait(timeout: 180) { (try? HostTools.virsh(["version"])) != nil }
        try require(back, "libvirtd did not come back within 180 s")
        return true
    }

    /// libvirtd's pid file, as written when it starts.
    static func libvirtdPID() -> String {
        ((try? String(contentsOfFile: "/run/libvirtd.pid", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The operation to run instead of `op`: a VM without two snapshots gets a create first.
    func fitting(_ op: Op, count: Int) -> Op {
        count < 2 ? (op == .full && ops.contains(.full) ? .full : .create) : op
    }

    /// Deletes snapshots (uninterrupted, fully checked) until `op` fits under ``maxSnapshots``:
    /// creates and restores (a restore adds a safety snapshot) each add one.
    func makeRoom(for op: Op) throws {
        guard op == .create || op == .full || op == .restore else { return }
        while try readySnapshots().count >= maxSnapshots { try perform(.delete, killing: false) }
    }

    // MARK: - Checks

    /// id → name of the VM's snapshots per `list --json`, all of which must be ready.
    /// With `recovering`, this is the first command after a (possibly killed) one.
    func readySnapshots(recovering: Bool = false) throws -> [String: String] {
        let started = Date()
        let result = try run(["list", vm, "--json"])
        startup = min(startup, Date().timeIntervalSince(started))
        try require(result.status == 0, "list\(recovering ? " (the first command after)" : "") failed: exit \(result.status) \(result.stderr)")
        let rows = try require(result.json as? [[String: Any]], "list --json printed no JSON array: \(result.stdout)")
        var ready: [String: String] = [:]
        for row in rows {
            let id = row["id"] as? String ?? "?", name = row["name"] as? String ?? "?", state = row["state"] as? String ?? "?"
            try require(state == "ready", "snapshot '\(name)' is \(state) after list\(recovering ? " recovered" : "")")
            ready[id] = name
        }
        return ready
    }

    /// The VM runs: libvirt says so, the guest prints a new counter (returned), no block job is
    /// left on its disks, and its persistent definition uses the same, existing images.
    /// (Asked through virsh: a fresh connection each time.)
    func guestRuns() throws -> Int {
        let state = try HostTools.virsh(["domstate", vm]).trimmingCharacters(in: .whitespacesAndNewlines)
        try require(state == "running", "the VM is \(state), not running")
        let seen = f.guest.latestCounter
        let deadline = Date().addingTimeInterval(20)
        var counter: Int?
        while Date() < deadline {
            if let latest = f.guest.latestCounter, latest != seen { counter = latest; break }
            usleep(100_000)
        }
        let running = try require(counter, "the VM runs but the guest printed no new counter in 20 s; console: \(f.guest.consoleTail())")
        let live = try DomainDefinition(xml: try HostTools.virsh(["dumpxml", vm]))
        let persistent = try DomainDefinition(xml: try HostTools.virsh(["dumpxml", "--inactive", vm]))
        for disk in live.disks {
            let job = try ExternalProcess.run("virsh", ["-c", IntegrationEnvironment.uri, "blockjob", vm, disk.target, "--info"])
            try require(
                job.succeeded && job.standardOutput.contains("No current block job"),
                "a block job is left on \(disk.target): \(job.standardOutput)\(job.standardError)".trimmingCharacters(in: .whitespacesAndNewlines))
            let defined = persistent.disks.first { $0.target == disk.target }?.path
            try require(
                defined == disk.path, "the persistent definition names \(defined ?? "nothing") for \(disk.target), the VM runs on \(disk.path ?? "nothing")")
            try require(disk.path.map { FileManager.default.fileExists(atPath: $0) } ?? false, "\(disk.target)'s image \(disk.path ?? "") does not exist")
        }
        return running
    }

    /// `check --json` reports nothing, and every file in the store is one the catalog knows.
    func checkClean() throws {
        let check = try run(["check", vm, "--json"])
        let reports = try require(check.json as? [[String: Any]], "check --json printed no JSON: exit \(check.status) \(check.stderr)")
        let problems = reports.flatMap { $0["problems"] as? [String] ?? ["(unreadable report)"] }
        try require(check.status == 0 && problems.isEmpty, "check: exit \(check.status): \(problems.joined(separator: " | "))")
        let uuid = try f.engine.catalogVM(vm).uuid
        let known = try f.engine.catalog.read { db in
            Set(try db.layers(vmUUID: uuid).map(\.path)).union(try db.snapshots(vmUUID: uuid).flatMap { [$0.memoryPath, $0.nvramPath].compactMap { $0 } })
        }
        let stray = filesUnder(f.storePath).filter { relative in
            let path = f.storePath + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFDIR else { return false }
            return !relative.hasPrefix("locks/") && !known.contains(path)
        }
        try require(stray.isEmpty, "files in the store the catalog does not know: \(stray.sorted())")
    }

    /// The counter in snapshot `id`'s frozen vda layer.
    func diskCounter(_ id: String, _ name: String) throws -> Int {
        try require(try TestGuest.diskCounter(f.frozenLayerPath(id, disk: "vda")), "snapshot '\(name)' has no counter on its vda layer")
    }

    /// Restores every ready snapshot (without safety snapshots) and checks the guest's first
    /// counter against the one recorded when the snapshot was created.
    func restoreEverySnapshot() throws {
        restoreRounds += 1
        let ready = try readySnapshots()
        for (id, name) in ready.sorted(by: { $0.value < $1.value }) {
            current = "restore-all round \(restoreRounds): restore \(name)"
            let c = try require(expected[id], "no counter recorded for '\(name)'")
            let result = try run(["restore", vm, name, "--confirm", vm, "--no-safety-snapshot"])
            try require(result.status == 0, "restore failed: exit \(result.status) \(result.stderr)")
            let first = try f.guest.waitForFirstCounter()
            try require(first >= c && first <= c + 2, "'\(name)' was created at counter \(c), after its restore the guest first printed \(first)")
        }
        current = "after restore-all round \(restoreRounds)"
        try require(try readySnapshots() == ready, "restore-all changed the snapshot set")
        _ = try guestRuns()
        try checkClean()
        print("RandomCrashTests: restore-all round \(restoreRounds): \(ready.count) snapshots restored their counters")
    }

    /// What a failure report needs: the steps so far, `check`, the last jobs, the disks.
    func postMortem() -> String {
        var lines = ["steps:"] + log.suffix(8).map { "  " + $0 }
        if let check = try? cli.run(["check", vm]) { lines.append("check: \(check.stdout)\(check.stderr)") }
        if let uuid = try? f.engine.catalogVM(vm).uuid,
            let jobs = try? f.engine.catalog.read({ try $0.jobs(vmUUID: uuid, limit: 4) })
        {
            for job in jobs { lines.append("job \(job.id ?? 0) \(job.kind) \(job.state) stage \(job.stage ?? "-"): \(job.error ?? "")") }
        }
        if let disks = try? HostTools.virsh(["domblklist", vm]) { lines.append("domblklist:\n\(disks)") }
        return lines.joined(separator: "\n")
    }

    /// Snapshot ids in name order (ids are random per run, names are not: a seed replays the choices).
    static func byName(_ snapshots: [String: String]) -> [String] { snapshots.sorted { $0.value < $1.value }.map(\.key) }

    /// True while `pid` runs (not yet exited: a zombie counts as exited).
    static func alive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
}

private struct CrashFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Throws `CrashFailure(message)` unless `condition` holds.
private func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CrashFailure(message()) }
}

/// The value, or `CrashFailure(message)` when it is nil.
private func require<T>(_ value: T?, _ message: @autoclosure () -> String) throws -> T {
    guard let value else { throw CrashFailure(message()) }
    return value
}
