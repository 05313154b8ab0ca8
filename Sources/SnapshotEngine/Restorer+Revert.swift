import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Restorer {
    /// Reverts the VM to snapshot `name` as a `revert` job (``SnapshotEngine/revert(vm:to:start:)``);
    /// the caller holds the VM's lock. When libvirt stops answering, the job is left pending for
    /// the next command.
    func revert(domain: Domain, vm: VMRecord, snapshotName name: String, start: StartMode) throws(EngineError) -> SnapshotRecord {
        let snapshot = try readySnapshot(vm: vm, name: name)
        let journal = RevertJournal(
            snapshotID: snapshot.id, start: start,
            previousSources: try layerStore.currentDiskSources(domain),
            wasActive: try layerStore.isActiveChecked(domain))
        let job = try jobJournal.start(
            kind: .revert, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name,
            journal: SnapshotEngine.encode(journal))
        do {
            try revertLocked(domain: domain, vm: vm, snapshot: snapshot, start: start)
            jobJournal.finish(job, error: nil)
        } catch {
            if !libvirtAnswers {
                let message =
                    "\(error.message); libvirt stopped answering, so the next kvmsnap command on \(vm.name) finishes the revert to '\(snapshot.name)' once "
                    + "libvirt answers again (see 'kvmsnap check \(vm.name)')"
                try jobJournal.markPending(job, message)
                throw EngineError(error.code, message)
            }
            jobJournal.finish(job, error: error)
            throw error
        }
        return snapshot
    }

    /// Checks that everything a revert to `snapshot` reads exists and is readable.
    func validateRestorable(vm: VMRecord, snapshot: SnapshotRecord) throws(EngineError) {
        let (disks, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.disks(ofSnapshot: snapshot.id), try db.layers(vmUUID: vm.uuid)) }
        }
        let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
        let tree = LayerTree(layers.map { .init(id: $0.id, parentID: $0.parentLayerID) })
        if disks.isEmpty { throw EngineError(.conflict, "snapshot '\(snapshot.name)' records no disks") }
        for disk in disks {
            for id in tree.chain(from: disk.layerID) {
                guard let layer = byID[id] else { throw EngineError(.conflict, "layer \(id) of \(disk.diskTarget) is missing from the catalog") }
                if access(layer.path, R_OK) != 0 {
                    throw EngineError(.io, "layer \(layer.path) of disk \(disk.diskTarget) is missing or unreadable")
                }
            }
        }
        if snapshot.hasMemory, let memoryPath = snapshot.memoryPath {
            let fd = open(memoryPath, O_RDONLY)
            if fd < 0 { throw EngineError(.io, "memory file \(memoryPath) is missing or unreadable: \(String(cString: strerror(errno)))") }
            close(fd)
        }
    }

    /// Stops a VM a failed revert may have started. Best effort: the caller decides from what
    /// libvirt reports afterwards, never from this succeeding.
    func stopAfterFailedRevert(_ domain: Domain) {
        guard SnapshotEngine.isActive(domain) else { return }
        do throws(EngineError) {
            try inject(.revertRollbackDestroy)
            try lv("cannot stop VM") { () throws(LibvirtError) in try domain.destroy() }
        } catch {
            progress?("could not stop the VM after the failed revert: \(error.message)", nil)
        }
    }

    /// - Parameter reclaim: remove the layers the VM ran on before right away; the restore
    ///   pipeline defers this until it has verified the result, so it can still roll back.
    func revertLocked(domain: Domain, vm: VMRecord, snapshot: SnapshotRecord, start: StartMode, reclaim reclaimNow: Bool = true) throws(EngineError) {
        try validateRestorable(vm: vm, snapshot: snapshot)
        let previousXML = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        try store.prepare(vmUUID: vm.uuid)

        // 1. New overlays on the snapshot's frozen layers: the snapshot's own layers stay untouched.
        // They go into the catalog before their files are made: if kvmsnap dies from here on,
        // reclaim sees them (kept when the VM runs on them, deleted otherwise), no stray files.
        let planned = try plannedOverlays(vm: vm, snapshot: snapshot)
        let overlays = planned.map(\.overlay)
        try db { () throws(CatalogError) in try catalog.write { db in for overlay in overlays { try db.insert(overlay) } } }
        func forgetOverlays() {
            for overlay in overlays { unlink(overlay.path) }
            do {
                try db { () throws(CatalogError) in try catalog.write { db in for overlay in overlays { try db.deleteLayer(id: overlay.id) } } }
            } catch {
                // The rows stay; reclaim drops them later as layers nothing references.
                diagnostics.swallowed("forgetting the new overlays of the failed revert of \(vm.name)", error)
            }
        }

        // 2. Their files, the configuration to define (persistent) and, with memory, the one to restore (live).
        var config = try DomainDefinition(xml: snapshot.configXML)
        var restoreDefinition: DomainDefinition?
        let useMemory = snapshot.hasMemory && start != .off
        do {
            for (overlay, base) in planned {
                try ImageTool.createOverlay(path: overlay.path, backing: base.path, backingFormat: base.format)
                try config.setDiskSource(target: overlay.diskTarget, path: overlay.path, format: "qcow2")
            }
            if useMemory, let memoryPath = snapshot.memoryPath {
                let saved = try lv("cannot read the saved memory image") { () throws(LibvirtError) in
                    try connection.saveImageXML(path: memoryPath, flags: [.secure])
                }
                var live = try DomainDefinition(xml: saved)
                for overlay in overlays { try live.setDiskSource(target: overlay.diskTarget, path: overlay.path, format: "qcow2") }
                restoreDefinition = live
            }
            try inject(.revertOverlaysMade)
        } catch {
            forgetOverlays()
            throw error
        }

        // 3. Stop, redefine, put NVRAM back, restore or boot. Any failure: previous definition back.
        do throws(EngineError) {
            try switchToSnapshot(domain: domain, snapshot: snapshot, config: config, restoreDefinition: restoreDefinition, start: start)
        } catch {
            stopAfterFailedRevert(domain)
            // Forget the new overlays only once the previous definition is back and libvirt says
            // the VM uses none of them: if it cannot say (libvirt gone) or the VM could not be
            // stopped, the VM may still write to them, so they stay catalogued.
            if (try? connection.defineDomain(xml: previousXML)) != nil, let inUse = try? layerStore.imagesInUse(domain),
                !overlays.contains(where: { inUse.contains($0.path) })
            {
                forgetOverlays()
            }
            throw error
        }

        try markCurrent(snapshot.id, vm: vm)
        // The layers the VM ran on before are now unreferenced: reclaim them.
        guard reclaimNow else { return }
        do { try layerStore.reclaim(vmUUID: vm.uuid, domain: domain) } catch {
            progress?("reclaim failed: \(error.message)", nil)
        }
    }

    /// Step 1 of a revert: one new overlay record per disk of `snapshot`, on the snapshot's
    /// frozen layer for that disk (its `base`). Nothing is written yet.
    private func plannedOverlays(vm: VMRecord, snapshot: SnapshotRecord) throws(EngineError) -> [(overlay: LayerRecord, base: LayerRecord)] {
        let (disks, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.disks(ofSnapshot: snapshot.id), try db.layers(vmUUID: vm.uuid)) }
        }
        let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
        var planned: [(overlay: LayerRecord, base: LayerRecord)] = []
        for disk in disks {
            guard let base = byID[disk.layerID] else { continue }
            let id = Identifier.make("l-")
            planned.append(
                (
                    LayerRecord(
                        id: id, vmUUID: vm.uuid, diskTarget: disk.diskTarget, path: store.layerPath(vmUUID: vm.uuid, layerID: id),
                        format: "qcow2", parentLayerID: base.id, role: .overlay, createdAt: clock.now()), base
                ))
        }
        return planned
    }

    /// Step 3 of a revert: stop, define the snapshot's configuration, put NVRAM back, then
    /// restore memory or boot. The caller puts the previous definition back on failure.
    private func switchToSnapshot(
        domain: Domain, snapshot: SnapshotRecord, config: DomainDefinition,
        restoreDefinition: DomainDefinition?, start: StartMode
    ) throws(EngineError) {
        try inject(.revertBeforeStop)
        if SnapshotEngine.isActive(domain) {
            try lv("cannot stop VM") { () throws(LibvirtError) in try domain.destroy() }
        }
        _ = try lv("cannot define the snapshot's configuration") { () throws(LibvirtError) in try connection.defineDomain(xml: config.xml) }
        if let saved = snapshot.nvramPath, let target = config.nvramPath {
            do {
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: saved, toPath: target)
            } catch { throw EngineError(.io, "cannot restore NVRAM to \(target): \(error.localizedDescription)") }
        }
        try inject(.revertBeforeStart)
        if let restoreDefinition, let memoryPath = snapshot.memoryPath {
            let watcher = JobProgressWatcher(domain: domain, stage: "restore memory", handler: progress)
            defer { watcher.stop() }
            try lv("cannot restore memory") { () throws(LibvirtError) in
                try connection.restoreDomain(from: memoryPath, xml: restoreDefinition.xml, flags: start == .paused ? [.paused] : [.running])
            }
        } else if start != .off {
            try lv("cannot start VM") { () throws(LibvirtError) in try domain.start(flags: start == .paused ? [.paused] : []) }
        }
        try inject(.revertAfterStart)
    }
}
