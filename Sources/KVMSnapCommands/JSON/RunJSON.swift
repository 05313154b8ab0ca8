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

    init(_ run: ScheduledRun) {
        vm = run.vm; schedule = run.schedule; slot = run.slot; outcome = run.outcome.rawValue; snapshot = run.snapshotName
        pruned = run.pruned; message = run.message
        sent = run.sent.map { SendJSON(report: $0) }; vaultPruned = run.vaultPruned
    }
}
