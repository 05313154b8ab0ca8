import ArgumentParser
import Dispatch
import Foundation
import KVMSnapCore
import SnapshotEngine

/// What run-due and the daemon share: one run, its output, and the metrics file.
enum Scheduler {
    static func parseNow(_ text: String) throws -> Date {
        switch Timestamp.parse(text) {
        case .success(let date): return date
        case .failure(let error): throw CommandFailure("--now: \(error.description)", exitCode: 64)
        }
    }

    /// Runs due schedules once; returns how many VMs failed. Writes metrics when asked (not
    /// when another run holds the lock: that run writes them).
    static func runOnce(engine: SnapshotEngine, now: Date, metricsTextfile: String?, json: Bool) throws -> Int {
        switch try engine.runDue(now: now) {
        case .alreadyRunning:
            Output.notice("another run-due is running; nothing done")
            if json { Output.json(["alreadyRunning": true]) }
            return 0
        case .ran(let report):
            if json {
                Output.json(report.runs.map(RunJSON.init))
            } else {
                for run in report.runs {
                    Output.line(describe(run))
                    if let drill = run.drill { Output.line(describe(drill, vm: run.vm)) }
                }
                if report.runs.isEmpty { Output.line("no VM has a scheduled policy ('kvmsnap policy set VM|--default --schedule CRON ...')") }
            }
            // The run's alerts (stale restore points, failed jobs), on the run's clock (--now).
            let base = report.now.addingTimeInterval(report.duration), start = ContinuousClock.now
            AlertDelivery.deliver(catalog: engine.catalog) { base.addingTimeInterval(Double((ContinuousClock.now - start).components.seconds)) }
            if let metricsTextfile {
                let now = report.now.addingTimeInterval(report.duration)
                let text = MetricsTextfile.render(try engine.metrics(now: now), runDueDuration: report.duration)
                try MetricsTextfile.write(text, to: metricsTextfile)
            }
            return report.failed.count
        }
    }

    static func describe(_ drill: ScheduledDrill, vm: String) -> String {
        let slot = drill.slot.map { " (slot \(Output.localTime($0)))" } ?? ""
        switch drill.outcome {
        case .drilled:
            guard let report = drill.report else { return "\(vm): drilled\(slot)" }
            let result = report.passed ? "passed" : "FAILED (\(report.checkResults.first { !$0.passed }?.name ?? "clone"))"
            return "\(vm): drill of '\(report.snapshotName)' \(result)\(slot); 'kvmsnap drill report \(vm)'"
        case .upToDate: return "\(vm): drill up to date\(slot)"
        case .noSlot: return "\(vm): drill schedule \"\(drill.schedule)\" has no slot yet"
        case .failed: return "\(vm): drill FAILED\(slot): \(drill.message ?? "unknown error")"
        }
    }

    static func describe(_ run: ScheduledRun) -> String {
        let slot = run.slot.map { " (slot \(Output.localTime($0)))" } ?? ""
        switch run.outcome {
        case .snapshot:
            var text = "\(run.vm): took \(run.snapshotName ?? "?")\(slot)"
            if let message = run.message { text = "\(run.vm): \(message)\(slot)" }
            if !run.pruned.isEmpty { text += "; pruned \(run.pruned.joined(separator: ", "))" }
            return text
        case .upToDate: return "\(run.vm): up to date\(slot)"
        case .noSlot: return "\(run.vm): schedule \"\(run.schedule)\" has no slot yet"
        case .missing: return "\(run.vm): \(run.message ?? "not defined in libvirt; skipped")"
        case .failed: return "\(run.vm): FAILED\(slot): \(run.message ?? "unknown error")"
        }
    }
}
