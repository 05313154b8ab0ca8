import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension SnapshotEngine {
    /// Finishes or rolls back jobs of this VM that a crashed kvmsnap left `running`.
    ///
    /// Called with the VM's lock held. Every job is started and run by a process holding that lock
    /// (``startJob(kind:vm:snapshotID:snapshotName:journal:)``), so a job of another process still
    /// marked running has lost its owner: the kernel released the lock when it died. A `pending`
    /// job is a restore or revert that waits for libvirt to answer again (``markPending(_:_:)``).
    /// - create: if the VM already runs on the new overlays, libvirt finished the capture: the
    ///   snapshot is completed when its memory image reads back, else dropped (the VM keeps its
    ///   data). Otherwise the half-made files are removed. No unverified snapshot becomes ready.
    /// - delete: the snapshot's files and unneeded layers are removed (each step is idempotent).
    /// - restore: once the VM was touched (stop and later), it is rolled back to the safety
    ///   snapshot, as a failed stage would have been; without one it is left usable (resumed).
    /// - revert (also each VM of a lab reset): finished, by reverting to the same snapshot again;
    ///   the caller asked for exactly that state and nothing of the VM's before is kept anyway.
    /// - guard: the pinned snapshot stays; the job is marked failed with how to roll back.
    /// - drill: the throwaway clone, its isolated network and its overlays are removed.
    func recoverInterruptedJobs(vm: VMRecord, domain: Domain?) throws(EngineError) {
        let jobs = try jobJournal.unfinished(vmUUID: vm.uuid)
        for job in jobs where job.pid != getpid() {
            if let domain { waitForDomainJob(domain) }
            let outcome = try recover(job, vm: vm, domain: domain)
            let entry = outcome.journalEntry
            finishJob(job, error: entry.error, note: entry.note)
        }
        try failAbandonedCaptures(vm: vm)
    }

    /// Finishes or rolls back one interrupted job, by kind (see ``recoverInterruptedJobs(vm:domain:)``).
    private func recover(_ job: JobRecord, vm: VMRecord, domain: Domain?) throws(EngineError) -> RecoveryOutcome {
        let rolledBack = RecoveryOutcome.rolledBack("interrupted (kvmsnap process \(job.pid) died); rolled back")
        switch job.jobKind {
        case .create:
            guard let journal = job.decodedJournal(CreateJournal.self), let domain else {
                return .abandoned(
                    "interrupted (kvmsnap process \(job.pid) died) and not finished: "
                        + (domain == nil ? "the VM is no longer defined" : "its journal is unreadable")
                        + "; the unfinished snapshot is marked failed (prune deletes it)")
            }
            return try capture.recoverCreate(journal: journal, vm: vm, domain: domain)
                ? .completed("interrupted; completed from the journal") : rolledBack
        case .delete:
            guard let journal = job.decodedJournal(DeleteJournal.self) else { return rolledBack }
            return try snapshotService.recoverDelete(journal: journal, vm: vm, domain: domain)
        // These two stop and replace the VM: one attempt only. A failure is recorded and
        // never retried by later commands (which would stop the VM again on every `list`).
        case .restore:
            do { return try restorer.recoverRestore(job: job, vm: vm, domain: domain) } catch {
                try keepPendingIfLibvirtIsGone(job, vm: vm, error)
                return .failed(Self.recoveryFailed(job, vm: vm, error))
            }
        case .revert:
            do { return try restorer.recoverRevert(job: job, vm: vm, domain: domain) } catch {
                try keepPendingIfLibvirtIsGone(job, vm: vm, error)
                return .failed(Self.recoveryFailed(job, vm: vm, error))
            }
        case .guard:
            return try guardService.recover(job, vm: vm, domain: domain)
        case .send:
            // A send changes nothing locally; its chunks and checkpoint in the vault make the
            // next send of the same snapshot resume.
            return .rolledBack("interrupted (kvmsnap process \(job.pid) died); nothing changed locally, send again to resume")
        case .vaultRestore:
            return recoverVaultRestore(job)
        case .drill:
            return drills.recover(job)
        // A prune's deletes are jobs of their own, recovered as such.
        case .forget, .runDue, .prune, nil:
            try reclaim(vmUUID: vm.uuid, domain: domain)
            return .abandoned("interrupted (kvmsnap process \(job.pid) died)")
        }
    }

    /// Marks `failed` every pending snapshot of the VM whose create job is over: nothing will
    /// complete it any more (a recovery that could not run, a rollback whose catalog write failed).
    /// Prune deletes failed snapshots, their files with them; restore refuses them.
    func failAbandonedCaptures(vm: VMRecord) throws(EngineError) {
        // Runs with every lock of the VM: a cheap indexed read first, a write only when needed.
        let pending = try db { () throws(CatalogError) in try catalog.read { try $0.snapshotIDs(vmUUID: vm.uuid, state: .pending) } }
        guard !pending.isEmpty else { return }
        try db { () throws(CatalogError) in
            try catalog.write { db in
                for id in pending {
                    guard var snapshot = try db.snapshot(id: id), snapshot.state == .pending else { continue }
                    if let jobID = snapshot.jobID, let job = try db.job(id: jobID), job.state == .running || job.state == .pending { continue }
                    snapshot.state = .failed
                    try db.update(snapshot)
                }
            }
        }
    }

    /// A recovery libvirt cut short (it died again): the job stays pending for the next command,
    /// and `error` is rethrown. Does nothing while libvirt answers.
    private func keepPendingIfLibvirtIsGone(_ job: JobRecord, vm: VMRecord, _ error: EngineError) throws(EngineError) {
        guard !libvirtAnswers else { return }
        try markPending(job, "libvirt stopped answering while the \(job.kind) was being finished (\(error.message))")
        throw error
    }

    /// Leaves a restore or revert that libvirt cut short `pending` (see ``recoverInterruptedJobs(vm:domain:)``):
    /// nothing can be decided or undone without libvirt, so the next command on the VM finishes it.
    func markPending(_ job: JobRecord, _ message: String) throws(EngineError) {
        try jobJournal.markPending(job, message)
    }

    static func recoveryFailed(_ job: JobRecord, vm: VMRecord, _ error: EngineError) -> EngineError {
        EngineError(
            error.code, "interrupted (kvmsnap process \(job.pid) died) and its recovery failed, not retried: \(error.message); see 'kvmsnap check \(vm.name)'")
    }

    /// Waits until libvirt has no job running on the domain (a capture a dead client started).
    func waitForDomainJob(_ domain: Domain, timeout: Duration = .seconds(600)) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, let info = try? domain.jobInfo(), info.type != .none {
            usleep(200_000)
        }
    }
}
