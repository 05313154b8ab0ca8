import Foundation
import SnapshotEngine

/// The JSON shape of one VM's scheduled run (`run-due --json`).
struct RunJSON: Encodable {
    var vm: String
    var schedule: String
    var slot: Date?
    var outcome: String
    var snapshot: String?
    var pruned: [String]
    var message: String?
    /// The vault send after the snapshot (`policy set --vault`), nil without one.
    var sent: SendJSON?
    var vaultPruned: [String]
    /// The scheduled drill (`policy set --drill`), absent without one.
    var drill: ScheduledDrillJSON?

    init(_ run: ScheduledRun) {
        vm = run.vm; schedule = run.schedule; slot = run.slot; outcome = run.outcome.rawValue; snapshot = run.snapshotName
        pruned = run.pruned; message = run.message
        sent = run.sent.map { SendJSON(report: $0) }; vaultPruned = run.vaultPruned
        drill = run.drill.map(ScheduledDrillJSON.init)
    }
}

/// The JSON shape of a scheduled drill in `run-due --json`.
struct ScheduledDrillJSON: Encodable {
    var schedule: String
    var slot: Date?
    var outcome: String
    var report: DrillJSON?
    var message: String?

    init(_ drill: ScheduledDrill) {
        schedule = drill.schedule; slot = drill.slot; outcome = drill.outcome.rawValue; report = drill.report.map(DrillJSON.init)
        message = drill.message
    }
}
