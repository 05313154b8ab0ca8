import Foundation
import KVMSnapCore
import Notify
import SnapshotCatalog

/// The engine's side of alerts: turns a failed job, a failed vault verify and run-due's
/// staleness check into events in the catalog's outbox (``Notify/Outbox``). Sends nothing
/// itself: the commands deliver the outbox after their work (``Notify/Deliverer``), so a slow
/// receiver never holds a VM's lock. Recording is best effort towards the operation (its own
/// failure goes to the diagnostics, never fails the job), and writes nothing when no rule asks.
///
/// State: none; built per call.
struct Alerts: Sendable {
    let catalog: Catalog
    let clock: any EngineClock
    let diagnostics: Diagnostics

    var outbox: Outbox { Outbox(catalog: catalog) }

    /// A top-level job ended failed: a `failed-job` event, once per job id.
    func failedJob(_ job: JobRecord, error: EngineError) {
        guard let id = job.id, !catalog.isReadOnly else { return }
        let event = AlertEvent.failedJob(
            AlertEvent.Job(id: id, kind: job.kind, stage: job.stage, error: error.message),
            vm: job.vmName, vmUUID: job.vmUUID, snapshot: job.snapshotName, host: Outbox.hostName, time: clock.now())
        record(event, dedupKey: AlertDedupKey.failedJob(jobID: id))
    }

    /// `vault verify` found problems or could not run.
    func vaultVerifyFailed(vault: String, errors: [String]) {
        guard !catalog.isReadOnly else { return }
        let now = clock.now()
        record(
            AlertEvent.vaultVerifyFailed(vault: vault, errors: errors, host: Outbox.hostName, time: now),
            dedupKey: AlertDedupKey.vaultVerify(vault: vault, at: now))
    }

    /// run-due's check of the stale-restore-point rules at `now`.
    func checkStaleness(now: Date) {
        do { try outbox.checkStaleness(now: now) } catch { diagnostics.swallowed("checking for stale restore points", error) }
    }

    func record(_ event: AlertEvent, dedupKey: String) {
        do { try outbox.record(event, dedupKey: dedupKey) } catch {
            diagnostics.swallowed("recording the \(event.type.rawValue) alert (\(event.title))", error)
        }
    }
}

extension SnapshotEngine {
    var alerts: Alerts { Alerts(catalog: catalog, clock: clock, diagnostics: diagnostics) }

    /// Records an alert event for the targets whose rules match it (drills report
    /// `drill-passed` / `drill-failed` through this, with ``KVMSnapCore/AlertDedupKey/drill(vmUUID:passed:runID:)``).
    public func recordAlert(_ event: AlertEvent, dedupKey: String) {
        alerts.record(event, dedupKey: dedupKey)
    }
}
