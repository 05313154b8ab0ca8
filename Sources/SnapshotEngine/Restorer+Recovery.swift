import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Restorer {
    /// Finishes a revert whose process died; returns what was done.
    /// - took effect (the VM runs, as asked, on overlays of the snapshot's layers): bookkeeping only;
    /// - never touched the VM (same disks, same running state): nothing, the new overlays go;
    /// - half-way (stopped, or redefined but not started): reverted to the snapshot again.
    func recoverRevert(job: JobRecord, vm: VMRecord, domain: Domain?) throws(EngineError) -> RecoveryOutcome {
        let died = job.state == .pending ? "libvirt stopped answering" : "kvmsnap process \(job.pid) died"
        guard let domain, let journal = job.decodedJournal(RevertJournal.self),
            let snapshot = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(id: journal.snapshotID) } }),
            snapshot.state == .ready
        else {
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return .abandoned("interrupted (\(died)); the revert could not be finished (snapshot or VM gone)")
        }
        let progress = try revertProgress(domain: domain, snapshot: snapshot, start: journal.start)
        let sources = progress.sources
        let active = progress.state != nil && progress.state != .shutoff
        if progress.tookEffect {
            try markCurrent(snapshot.id, vm: vm)
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return .completed("interrupted (\(died)) after the revert to '\(snapshot.name)' took effect; bookkeeping finished")
        }
        if sources == journal.previousSources && (!journal.wasActive || active) {
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return .rolledBack("interrupted (\(died)) before the revert touched the VM; nothing changed")
        }
        try revertLocked(domain: domain, vm: try currentVM(vm), snapshot: snapshot, start: journal.start)
        return .completed("interrupted (\(died)); finished from the journal: reverted to '\(snapshot.name)'")
    }

    /// Where a revert to `snapshot` stands on `domain`: its disks' sources, its state, and whether
    /// it took effect (every disk on an overlay of the snapshot's layer, in the state `start`
    /// asks for). Read checked: a guess ("no disks", "no state") would revert a VM the revert
    /// never touched.
    func revertProgress(domain: Domain, snapshot: SnapshotRecord, start: StartMode) throws(EngineError) -> RevertProgress {
        let sources = try layerStore.currentDiskSources(domain)
        let state: DomainState? = try lv("cannot read VM state") { () throws(LibvirtError) in try domain.state().state }
        let (disks, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.disks(ofSnapshot: snapshot.id), try db.layers(vmUUID: snapshot.vmUUID)) }
        }
        let landed =
            !disks.isEmpty
            && disks.allSatisfy { disk in
                sources[disk.diskTarget].flatMap { path in layers.first { $0.path == path } }?.parentLayerID == disk.layerID
            }
        let started =
            switch start {
            case .running: state == .running
            case .paused: state == .paused
            case .off: state == .shutoff
            }
        return RevertProgress(sources: sources, state: state, tookEffect: landed && started)
    }

    /// Finishes a restore whose process died, or whose rollback waited for libvirt (`pending`);
    /// returns what was done (``RecoveryOutcome/stands(note:)`` when the restore stands).
    /// A restore that had reached start or verify and verifies now (state and disks as asked)
    /// took effect: it stands. Otherwise it is rolled back, as a failed stage would have been.
    func recoverRestore(job: JobRecord, vm: VMRecord, domain: Domain?) throws(EngineError) -> RecoveryOutcome {
        let died = job.state == .pending ? "libvirt stopped answering" : "kvmsnap process \(job.pid) died"
        let stage: RestoreStage?
        switch job.restoreStage {
        case .finishing:
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return .completed("interrupted (\(died)) after the restore was verified; it stands, and the old layers were reclaimed now")
        case .pipeline(let current): stage = current
        case nil: stage = nil
        }
        let touching: Set<RestoreStage> = [.stop, .revert, .start, .verify]
        guard let domain else {
            return .abandoned("interrupted (\(died)); the VM is no longer defined, nothing to finish")
        }
        guard let stage, touching.contains(stage) else {
            // A guest the safety capture left paused is resumed by the capture's own recovery.
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return .rolledBack("interrupted (\(died)) before the VM was touched; nothing to undo")
        }
        let journal = job.decodedJournal(RestoreJournal.self)
        if stage == .start || stage == .verify, let journal, let id = job.snapshotID,
            let target = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(id: id) } }), target.state == .ready,
            restoreVerifies(domain: domain, vm: vm, snapshot: target, target: journal.target)
        {
            try markCurrent(target.id, vm: vm)
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return .stands(
                note:
                    "interrupted at stage \(stage.rawValue) (\(died)); the restore to '\(target.name)' had taken effect (verified afterwards: VM "
                    + "\(journal.target.rawValue) on the snapshot's layers), so it stands"
            )
        }
        var safety: SnapshotRecord?
        if let id = journal?.safetySnapshotID, let record = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(id: id) } }),
            record.state == .ready
        {
            safety = record
        }
        if let journal, safety != nil || (job.state == .pending && journal.previousXML != nil) {
            let done = try rollBackRestore(
                domain: domain, vm: vm, safety: safety, previousXML: journal.previousXML ?? "",
                wasRunning: journal.wasRunning)
            if safety == nil { try layerStore.reclaim(vmUUID: vm.uuid, domain: domain) }
            return .rolledBack("interrupted at stage \(stage.rawValue) (\(died)); \(done)")
        }
        // No safety snapshot: the previous memory is gone. Leave the VM usable, not paused half-way.
        if journal?.target == .running, (try? domain.state().state) == .paused {
            do throws(LibvirtError) { try domain.resume() } catch {
                diagnostics.swallowed("resuming \(vm.name) after the interrupted restore", EngineError(.libvirt, error.message))
            }
        }
        try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
        let state = (try? domain.state().state).map { "\($0)" } ?? "unknown"
        return .abandoned("interrupted at stage \(stage.rawValue) (\(died)); no safety snapshot to roll back to, VM left \(state)")
    }

    /// Whether an interrupted restore verifies now; why not goes to the diagnostics (the answer
    /// decides for a rollback, so the failure itself is not an error).
    private func restoreVerifies(domain: Domain, vm: VMRecord, snapshot: SnapshotRecord, target: RestoreTarget) -> Bool {
        do { try verifyRestore(domain: domain, vm: vm, snapshot: snapshot, target: target) } catch {
            diagnostics.swallowed("verifying the interrupted restore of \(vm.name) to '\(snapshot.name)' (so it is rolled back)", error)
            return false
        }
        return true
    }
}

/// Where an interrupted revert stands (``Restorer/revertProgress(domain:snapshot:start:)``).
struct RevertProgress {
    var sources: [String: String]
    var state: DomainState?
    var tookEffect: Bool
}
