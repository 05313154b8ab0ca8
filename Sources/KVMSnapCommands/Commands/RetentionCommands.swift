import ArgumentParser
import Foundation
import KVMSnapCore

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Retention tools that need no VM.",
        subcommands: [RetentionSimulateCommand.self, RetentionBenchCommand.self])
}

/// Pure: reads a timeline file, runs the planner, prints. Opens neither libvirt nor the catalog.
struct RetentionSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Show what a policy would keep and prune on a timeline of snapshots (a JSON file).",
        discussion: """
            The timeline is a JSON array of {"name", "createdAt", "pinned"?, "expiresAt"?, "id"?, "state"?} \
            with ISO 8601 timestamps. Periods (hourly, daily, ...) are in the local time zone ($TZ).
            """)
    @Option(help: ArgumentHelp("Timeline JSON file.", valueName: "FILE")) var timeline: String
    @Option(help: ArgumentHelp("Plan as of this ISO 8601 instant (default: now).", valueName: "ISO8601")) var now: String?
    @OptionGroup var keep: RetentionOptions
    @Flag(help: "Print [{name, keep, reason}] in the timeline's order instead of a table.") var json = false

    func run() throws {
        let policy = try keep.policy()
        var instant = Date()
        if let now {
            switch Timestamp.parse(now) {
            case .success(let date): instant = date
            case .failure(let error): throw CommandFailure("bad --now: \(error)", exitCode: 64)
            }
        }
        let data = try Self.read(timeline)
        let candidates = try Timeline.decode(data)
        let plan = try RetentionPlanner.plan(candidates, policy: policy, now: instant, timeZone: .current)
        if json {
            FileHandle.standardOutput.write(Timeline.encode(plan))
            return
        }
        Output.table(
            ["NAME", "CREATED", "ACTION", "REASON"],
            zip(candidates, plan.decisions).map { c, d in
                [d.name, Output.localTime(c.createdAt), PruneCommand.word(d.action), d.reason ?? "-"]
            })
        Output.line()
        var tiers: [[String]] = []
        if policy.keepWithin != nil { tiers.append(["within \(policy.keepWithin!)", "\(plan.keptByRule[.within] ?? 0)"]) }
        for rule in RetentionRule.periodRules where policy.count(for: rule) != 0 {
            tiers.append(["\(rule.rawValue) \(policy.count(for: rule))", "\(plan.keptByRule[rule] ?? 0)"])
        }
        let byOverride = plan.kept.filter { $0.rule == nil }.count
        if byOverride > 0 { tiers.append(["pinned / not expired", "\(byOverride)"]) }
        Output.table(["RULE", "KEPT"], tiers)
        Output.line("total: \(plan.kept.count) kept, \(plan.pruned.count) pruned, \(plan.leftAlone.count) left alone (as of \(Output.isoUTC(instant)))")
    }

    /// The file's bytes, or a one-line error naming the file and the system's reason.
    static func read(_ path: String) throws -> Data {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CommandFailure("cannot read timeline \(path): \(String(cString: strerror(errno)))", exitCode: 64)
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do { return try handle.readToEnd() ?? Data() } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? "\(error.localizedDescription)"
            throw CommandFailure("cannot read timeline \(path): \(reason)", exitCode: 64)
        }
    }
}

/// Hidden, for `scripts/bench.sh`: plans a synthetic timeline built in memory and prints how long
/// `RetentionPlanner.plan` alone took (monotonic clock; building the timeline is not timed).
/// Timeline: snapshot i (0-based) at `--start` + i × `--step` seconds; named s<i>. `now` is one step
/// after the last snapshot. The same timeline is what the borg side of the benchmark builds.
struct RetentionBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Time the planner on a synthetic timeline.", shouldDisplay: false)
    @Option(help: "Number of snapshots.") var count: Int = 1_000_000
    @Option(help: "Seconds between snapshots.") var step: Int64 = 37 * 60
    @Option(parsing: .unconditional, help: "First snapshot, seconds since the epoch (UTC).") var start: Int64 = -441_763_200  // 1956-01-01
    @Option(help: "Repeat the planning this many times; prints every time.") var repeats: Int = 1
    @OptionGroup var keep: RetentionOptions

    static let maxCount = 10_000_000, maxRepeats = 1000

    func run() throws {
        let policy = try keep.policy()
        guard (0...Self.maxCount).contains(count) else { throw CommandFailure("--count must be 0...\(Self.maxCount)", exitCode: 64) }
        guard (1...Self.maxRepeats).contains(repeats) else { throw CommandFailure("--repeats must be 1...\(Self.maxRepeats)", exitCode: 64) }
        // The last instant (`now`, one step after the last snapshot) must be computable and in
        // years 0000...9999; the others lie between it and --start.
        let (span, spanOverflow) = Int64(count).multipliedReportingOverflow(by: step)
        let (last, lastOverflow) = start.addingReportingOverflow(span)
        let first = Date(timeIntervalSince1970: TimeInterval(start)), now = Date(timeIntervalSince1970: TimeInterval(last))
        guard !spanOverflow, !lastOverflow, Bounds.isSupportedInstant(first), Bounds.isSupportedInstant(now) else {
            throw CommandFailure("--start + --count × --step must stay within the years 0000-9999", exitCode: 64)
        }
        var candidates = [RetentionCandidate]()
        candidates.reserveCapacity(count)
        for i in 0..<count {
            candidates.append(RetentionCandidate(name: "s\(i)", createdAt: Date(timeIntervalSince1970: TimeInterval(start + Int64(i) * step))))
        }
        let utc = TimeZone(identifier: "UTC")!
        var runs: [String] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let plan = try RetentionPlanner.plan(candidates, policy: policy, now: now, timeZone: utc)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let kept = plan.decisions.reduce(0) { $0 + ($1.action == .keep ? 1 : 0) }
            runs.append("{\"seconds\": \(seconds), \"kept\": \(kept), \"count\": \(count)}")
        }
        Output.line("[" + runs.joined(separator: ", ") + "]")
    }
}
