import ArgumentParser
import Dispatch
import Foundation
import KVMSnapCore
import SnapshotEngine

struct RunDueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-due",
        abstract: "Take the scheduled snapshots that are due, then prune (run it every minute: 'schedule install-systemd').",
        discussion: """
            For each VM in the catalog whose policy (its own, else the default) has a --schedule: when \
            the latest slot at or before now has not run yet, takes 'auto-YYYYMMDD-HHMM' (the slot's \
            local time) and prunes with the policy. Missed slots run once (only the latest). When \
            another run-due is running, prints a notice and exits 0. Exits 1 when any VM failed \
            (each failure is a failed 'run-due' job in the journal).
            """)
    @OptionGroup var global: GlobalOptions
    @Option(
        name: .customLong("now"),
        help: ArgumentHelp("Testing aid: evaluate schedules at this ISO 8601 time (e.g. 2030-01-10T03:00:30+01:00) instead of the clock.", valueName: "ISO8601")
    )
    var now: String?
    @Option(
        name: .customLong("metrics-textfile"),
        help: ArgumentHelp("Write Prometheus metrics here (atomically) for node_exporter's textfile collector.", valueName: "PATH"))
    var metricsTextfile: String?

    func run() throws {
        let at = try now.map(Scheduler.parseNow) ?? Date()
        if let metricsTextfile { try MetricsTextfile.checkTarget(metricsTextfile) }
        let engine = try Context(global).engine()
        let failed = try Scheduler.runOnce(engine: engine, now: at, metricsTextfile: metricsTextfile, json: global.json)
        if failed > 0 { throw CommandFailure("run-due: \(failed) scheduled VM\(failed == 1 ? "" : "s") failed (see above and the job journal)", exitCode: 1) }
    }
}
