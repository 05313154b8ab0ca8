import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

struct DeleteJournal: Codable {
    var snapshotID: String
    /// Files that belong to the snapshot alone and go once its row is gone.
    var files: [String]
}

extension SnapshotEngine {
    /// Deletes snapshot `name`. Never changes what any other snapshot restores, nor the VM:
    /// the snapshot's own files go, then layers nothing needs are deleted or merged.
    public func deleteSnapshot(vm nameOrUUID: String, name: String) throws(EngineError) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        guard let snapshot = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(vmUUID: vm.uuid, name: name) } }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
        }
        try requireInStep(domain: domain, vm: vm)
        try delete(snapshot: snapshot, vm: vm, domain: domain)
    }

    /// Refuses (conflict, before anything changes) when a disk kvmsnap tracks now uses an image
    /// the catalog does not know (changed outside kvmsnap): deleting or merging layers could
    /// then take away what that image is backed by.
    func requireInStep(domain: Domain?, vm: VMRecord) throws(EngineError) {
        guard let domain else { return }
        let layers = try db { () throws(CatalogError) in try catalog.read { try $0.layers(vmUUID: vm.uuid) } }
        let known = Set(layers.map(\.path)), tracked = Set(layers.map(\.diskTarget))
        for (target, path) in try currentDiskSources(domain).sorted(by: { $0.key < $1.key }) where tracked.contains(target) && !known.contains(path) {
            throw Self.changedOutside(vm: vm, disk: target, path: path)
        }
    }

    static func changedOutside(vm: VMRecord, disk: String, path: String) -> EngineError {
        EngineError(.conflict, "disk \(disk) of \(vm.name) now uses \(path), which is not in kvmsnap's chain (changed outside kvmsnap?); run 'kvmsnap check \(vm.name)'; nothing was changed")
    }

    /// The VM by name or UUID: from libvirt when it is defined, else from the catalog alone.
    /// `register`: a defined VM the catalog does not know yet is recorded (and a rename
    /// followed); without it (commands that only read, or refuse before changing anything) the
    /// catalog is not written and such a VM is returned unsaved, with no snapshots.
    func vmForCatalogWork(_ nameOrUUID: String, register: Bool = true) throws(EngineError) -> (VMRecord, Domain?) {
        if let domain = try? domain(nameOrUUID) {
            return (register && !catalog.isReadOnly ? try vmRecord(for: domain) : try unsavedRecord(for: domain), domain)
        }
        let record = try db { () throws(CatalogError) in
            try catalog.read { db in try db.vm(named: nameOrUUID) ?? db.vm(uuid: nameOrUUID) }
        }
        guard let record else { throw EngineError(.notFound, "no VM named '\(nameOrUUID)' on \((try? connection.uri) ?? "this connection") or in the catalog") }
        return (record, nil)
    }

    /// The catalog's record of a defined VM under its current name, or a new one, without
    /// writing anything (``vmRecord(for:)`` records it).
    func unsavedRecord(for domain: Domain) throws(EngineError) -> VMRecord {
        let uuid = try lv("cannot read VM UUID") { () throws(LibvirtError) in try domain.uuidString }
        var record = try db { () throws(CatalogError) in try catalog.read { try $0.vm(uuid: uuid) } }
            ?? VMRecord(uuid: uuid, name: domain.name, createdAt: clock.now())
        record.name = domain.name
        return record
    }

    func delete(snapshot: SnapshotRecord, vm: VMRecord, domain: Domain?) throws(EngineError) {
        let files = [snapshot.memoryPath, snapshot.nvramPath].compactMap { $0 }
        try refuseForeignBlockJobs(domain: domain, vm: vm)
        let job = try startJob(kind: .delete, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name,
                               journal: Self.encode(DeleteJournal(snapshotID: snapshot.id, files: files)))
        var deleted = false
        do {
            try inject(.deleteStarted)
            // One transaction: the snapshot disappears and its children hang off its parent.
            try db { () throws(CatalogError) in
                try catalog.write { db in
                    for var child in try db.children(of: snapshot.id) {
                        child.parentID = snapshot.parentID
                        try db.update(child)
                    }
                    if var current = try db.vm(uuid: vm.uuid), current.currentSnapshotID == snapshot.id {
                        current.currentSnapshotID = snapshot.parentID
                        try db.save(current)
                    }
                    if var record = try db.vm(uuid: vm.uuid), record.labBaselineID == snapshot.id {
                        record.labBaselineID = nil
                        try db.save(record)
                    }
                    try db.deleteSnapshot(id: snapshot.id)
                }
            }
            deleted = true
            try inject(.deleteAfterCatalog)
            for file in files { unlink(file) }
            try reclaim(vmUUID: vm.uuid, domain: domain)
            finishJob(job, error: nil)
        } catch {
            finishJob(job, error: error)
            guard deleted else { throw error }
            // The snapshot is gone already: whatever reclaim refused, this is no refusal (a
            // refusal, exit 3, changes nothing) but a deletion whose clean-up failed.
            let refusal: Set<EngineError.Code> = [.conflict, .unsupported, .busy, .invalidInput, .notFound]
            throw EngineError(refusal.contains(error.code) ? .io : error.code,
                              "snapshot '\(snapshot.name)' was deleted, but reclaiming its layers failed: \(error.message)")
        }
    }

    /// Deletes or merges every layer nothing needs any more, one ``LayerTree/ReclaimStep`` at a time.
    /// Each step is idempotent, so a crashed run is finished by running it again.
    func reclaim(vmUUID: String, domain: Domain?) throws(EngineError) {
        // Without the domain we cannot tell which layers hold the VM's current data: keep all.
        guard domain != nil else { return }
        while true {
            let (tree, refs, layers, _) = try layerState(vmUUID: vmUUID, domain: domain)
            guard let step = tree.reclaimPlan(keeping: refs).first else { return }
            switch step {
            case .delete(let id):
                guard let layer = layers[id] else { return }
                try inject(.reclaimDelete)
                // Kept unless the VM (running, or as `virsh start` would open it) is known not to use it.
                if let domain, try imagesInUse(domain).contains(layer.path) {
                    throw EngineError(.conflict, "refusing to delete \(layer.path): the VM still uses it (catalog out of step; run 'kvmsnap check')")
                }
                unlink(layer.path)
                try db { () throws(CatalogError) in try catalog.write { try $0.deleteLayer(id: id) } }
            case .commit(let childID, let parentID):
                guard let child = layers[childID], let parent = layers[parentID] else { return }
                try commit(child: child, into: parent, domain: domain, tree: tree, layers: layers)
            }
        }
    }

    /// The running domain's live definition (disk tops and full backing chains); nil when it is off.
    /// Throws when libvirt does not say: a merge chosen on a guess ("not running") would run
    /// `qemu-img` on images the VM has open and delete a layer it may still read.
    func liveDefinition(_ domain: Domain?) throws(EngineError) -> DomainDefinition? {
        guard let domain, try isActiveChecked(domain) else { return nil }
        let xml = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: []) }
        return try DomainDefinition(xml: xml)
    }

    /// Merges `child` into `parent` (its only child): live block commit when the VM runs on that
    /// chain, `qemu-img commit` otherwise; then children and references move to `parent`.
    func commit(child: LayerRecord, into parent: LayerRecord, domain: Domain?, tree: LayerTree, layers: [String: LayerRecord]) throws(EngineError) {
        progress?("merge \(child.diskTarget)", nil)
        let live = try liveDefinition(domain)
        let running = live != nil
        let liveChain = live?.chainPaths ?? []
        if running, liveChain.contains(parent.path), !liveChain.contains(child.path) {
            // A live commit a crashed run started has finished: libvirt already dropped `child`
            // from the chain and re-pointed its children at `parent`. Only the catalog is behind.
        } else if let domain, let live, liveChain.contains(child.path) {
            let isActiveLayer = live.disks.first { $0.target == child.diskTarget }?.path == child.path
            // A job already on the disk is finished here only when it is exactly the merge this
            // step starts (an active commit into `parent` a crashed run left); anything else
            // (a copy, a commit whose base libvirt does not show) is someone else's.
            let leftover = try blockJob(on: domain, disk: child.diskTarget)
            if let leftover, !(isActiveLayer && leftover.type == .activeCommit && leftover.destination == parent.path) {
                throw Self.foreignBlockJob(leftover, disk: child.diskTarget, vmName: domain.name)
            }
            try lv("block commit of \(child.diskTarget) failed") { () throws(LibvirtError) in
                if leftover == nil {
                    try domain.blockCommit(disk: child.diskTarget, base: parent.path, top: child.path, bandwidth: 0,
                                           flags: isActiveLayer ? [.active] : [])
                }
                try domain.waitForBlockJob(disk: child.diskTarget, timeout: .seconds(3600))
                if isActiveLayer { try domain.pivotBlockJob(disk: child.diskTarget) }
            }
            if isActiveLayer { try repointDefinition(domain: domain, disk: child.diskTarget, path: parent.path) }
        } else if FileManager.default.fileExists(atPath: child.path) {
            try ImageTool.commitOffline(child: child.path)
            // Checked: a definition left naming `child` (deleted below) could not start the VM.
            if let domain, !running, try currentDiskSources(domain)[child.diskTarget] == child.path {
                try repointDefinition(domain: domain, disk: child.diskTarget, path: parent.path)
            }
        }
        // Images backed by `child` now read the same through `parent`. A live commit re-pointed
        // only the one on the VM's chain; the others (other snapshots' layers branching off
        // `child`) are re-pointed here, or they would stay backed by the file deleted below.
        for grandchild in tree.children(of: child.id) {
            guard let g = layers[grandchild], !liveChain.contains(g.path) else { continue }
            try ImageTool.rebaseUnsafe(image: g.path, newBacking: parent.path, backingFormat: parent.format)
        }
        try inject(.reclaimAfterMerge)
        try db { () throws(CatalogError) in
            try catalog.write { db in
                for id in tree.children(of: child.id) {
                    if var g = try db.layer(id: id) { g.parentLayerID = parent.id; try db.update(g) }
                }
                for var record in try db.disks(vmUUID: child.vmUUID) where record.layerID == child.id {
                    record.layerID = parent.id
                    try db.save(record)
                }
                try db.deleteLayer(id: child.id)
            }
        }
        unlink(child.path)
    }
}
