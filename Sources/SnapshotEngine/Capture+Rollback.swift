import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Capture {
    /// Undoes a create that failed or whose process died, disk by disk. A new file the VM may use
    /// (the capture's overlay, or after the pivot a `--full` copy and the overlay on it) holds
    /// the guest's live data: it stays, as a catalogued layer. Every other new file goes: the
    /// memory image, unused overlays, and a `--full` copy (also `.partial`) whose block copy
    /// (recognised by its destination) is cancelled first. The snapshot row is dropped.
    ///
    /// Nothing is deleted unless libvirt said which images the VM uses: when it could not, the
    /// error is returned with the catalog and the files as they were (the job stays open).
    func rollBackCreate(domain: Domain, vmUUID: String, journal: CreateJournal, adopted: [LayerRecord]) -> EngineError? {
        let inUse: Set<String>
        do throws(EngineError) {
            for (target, paths) in journal.fullCopies ?? [:] {
                if let job = try layerStore.blockJob(on: domain, disk: target), job.type == .copy, job.destination == paths.top {
                    try lv("cannot cancel the --full copy of \(target)") { () throws(LibvirtError) in try domain.blockJobAbort(disk: target) }
                }
            }
            try inject(.createRollbackReadDisks)
            inUse = try layerStore.imagesInUse(domain)
        } catch {
            return error
        }
        var keep: [LayerRecord] = []
        var remove = journal.memoryPath.map { [$0] } ?? []
        for (target, overlay) in journal.newOverlays.sorted(by: { $0.key < $1.key }) {
            if inUse.contains(overlay) {
                keep.append(
                    LayerRecord(
                        id: StoreLayout.layerID(fromPath: overlay), vmUUID: vmUUID, diskTarget: target, path: overlay,
                        format: "qcow2", parentLayerID: journal.frozen[target], role: .overlay, createdAt: clock.now()))
            } else {
                remove.append(overlay)
            }
            guard let paths = journal.fullCopies?[target] else { continue }
            if inUse.contains(paths.top) {
                let copyID = StoreLayout.layerID(fromPath: paths.copy)
                keep.append(
                    LayerRecord(
                        id: copyID, vmUUID: vmUUID, diskTarget: target, path: paths.copy, format: "qcow2",
                        parentLayerID: nil, role: .fullCopy, createdAt: clock.now()))
                keep.append(
                    LayerRecord(
                        id: StoreLayout.layerID(fromPath: paths.top), vmUUID: vmUUID, diskTarget: target, path: paths.top,
                        format: "qcow2", parentLayerID: copyID, role: .overlay, createdAt: clock.now()))
            } else {
                remove += [paths.top, paths.copy, ImageTool.partialPath(paths.copy)]
            }
        }
        let switched = !keep.isEmpty
        let unused = remove
        do throws(EngineError) {
            remove = try db { () throws(CatalogError) in
                try catalog.write { db in
                    for layer in keep where try db.layer(path: layer.path) == nil { try db.insert(layer) }
                    try db.deleteSnapshot(id: journal.snapshotID)
                    if !switched { for layer in adopted { try db.deleteLayer(id: layer.id) } }
                    // A file the catalog holds as a layer is reclaim's to delete, never a rollback's.
                    return try unused.filter { try db.layer(path: $0) == nil }
                }
            }
        } catch {
            return error
        }
        for path in remove { unlink(path) }
        return nil
    }

    /// A create whose rollback could not finish: the job stays `running` in the journal, marked
    /// for rollback (with what happened in its note), so the next kvmsnap command on the VM
    /// finishes the rollback as for a create whose process died. Returns the error to report.
    func leaveRollbackToRecovery(_ job: JobRecord, journal: CreateJournal, vm: VMRecord, error: EngineError, unfinished: EngineError) -> EngineError {
        let failure = EngineError(
            error.code,
            "\(error.message); the rollback could not finish (\(unfinished.message)) and stays in the journal: "
                + "the next kvmsnap command on \(vm.name) completes it"
        )
        var open = job, marked = journal
        marked.rollBack = true
        open.journal = SnapshotEngine.encode(marked)
        open.note = failure.message
        do { try jobJournal.update(open) } catch let writeError {
            // Recovery still rolls back from the unmarked journal (it finds no ready snapshot);
            // only the note and the rollBack mark are lost, and that is said here.
            diagnostics.swallowed("marking create job \(job.id ?? 0) of \(vm.name) for rollback", writeError)
        }
        return failure
    }

    /// Returns true when the snapshot was completed, false when it was rolled back.
    /// A `--full` create is completed only once every disk was moved onto its copy (the pivot,
    /// after which the copy is whole); before that it is undone (see ``rollBackCreate``).
    func recoverCreate(journal: CreateJournal, vm: VMRecord, domain: Domain) throws(EngineError) -> Bool {
        // A capture pauses the guest (all along for a restore's safety snapshot, at the end of a
        // live one). Recovery runs once libvirt's job is over; libvirt resumes a guest its dead
        // snapshot job paused when it restarts, and this makes sure of it whatever the capture.
        if (try? domain.isPausedForSnapshot) == true {
            try lv("cannot resume the VM the interrupted capture paused") { () throws(LibvirtError) in try domain.resume() }
        }
        let found = try db { () throws(CatalogError) in try catalog.read { try $0.snapshot(id: journal.snapshotID) } }
        if found?.state == .ready {
            // Died after the snapshot was recorded: only unused layers may be left to reclaim.
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return true
        }
        guard var snapshot = found, snapshot.state == .pending else {
            // Rolled back before (or never recorded): files may still be left to remove.
            if found == nil, let unfinished = rollBackCreate(domain: domain, vmUUID: vm.uuid, journal: journal, adopted: []) { throw unfinished }
            return false
        }
        let sources = try layerStore.currentDiskSources(domain)
        let landed =
            !journal.newOverlays.isEmpty
            && journal.newOverlays.allSatisfy { target, overlay in
                sources[target] == (journal.full ? journal.fullCopies?[target]?.top : overlay)
            }
        var memoryReadable = true
        if landed, let memoryPath = journal.memoryPath {
            chmod(memoryPath, 0o600)
            do throws(LibvirtError) { _ = try connection.saveImageXML(path: memoryPath) } catch {
                // Decides for a rollback (no unverified snapshot becomes ready); the cause is kept.
                diagnostics.swallowed("reading back the memory image \(memoryPath) of the interrupted create", EngineError(.libvirt, error.message))
                memoryReadable = false
            }
        }
        if landed && memoryReadable && journal.rollBack != true {
            let definition = try DomainDefinition(xml: snapshot.configXML)
            let captured = definition.disks.filter { journal.newOverlays[$0.target] != nil }
            try finishCreate(domain: domain, vm: vm, snapshot: &snapshot, journal: journal, captured: captured)
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            return true
        }
        if let unfinished = rollBackCreate(domain: domain, vmUUID: vm.uuid, journal: journal, adopted: []) { throw unfinished }
        return false
    }
}
