import ArgumentParser
import Foundation
import KVMSnapCore

#if canImport(Glibc)
import Glibc
#endif

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
