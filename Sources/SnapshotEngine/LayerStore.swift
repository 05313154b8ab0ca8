import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

/// The layer store: the VM's tree of disk layers as the catalog and libvirt see it, and the
/// mechanics that change it: reclaim (delete or merge what nothing needs), block jobs,
/// `qemu-img`, chain checks.
///
/// State: none of its own; the catalog's layer rows and the images on disk. A value built per
/// call from the engine's configuration (``SnapshotEngine/layerStore``). Calls: the catalog,
/// libvirt and ``ImageTool`` only; never another service.
struct LayerStore: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let configuration: EngineConfiguration

    var store: StoreLayout { configuration.store }
    var progress: ProgressHandler? { configuration.progress }

    /// The layer paths the domain currently runs on (live XML when active, else inactive), per disk.
    func currentDiskSources(_ domain: Domain) throws(EngineError) -> [String: String] {
        let flags: DomainXMLFlags = try isActiveChecked(domain) ? [] : [.inactive]
        let xml = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: flags) }
        let definition = try DomainDefinition(xml: xml)
        var result: [String: String] = [:]
        for disk in definition.disks where disk.skipReason == nil { if let path = disk.path { result[disk.target] = path } }
        return result
    }

    /// The catalog's layer tree for a VM plus what references it right now.
    /// `disks` are the snapshot-disk rows the references came from (one per snapshot and disk).
    func layerState(vmUUID: String, domain: Domain?) throws(EngineError)
        -> (tree: LayerTree, refs: LayerTree.References, layers: [String: LayerRecord], disks: [SnapshotDiskRecord])
    {
        let (layers, disks) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.layers(vmUUID: vmUUID), try db.disks(vmUUID: vmUUID)) }
        }
        let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
        var active = Set<String>()
        if let domain {
            let sources = Set(try currentDiskSources(domain).values)
            for layer in layers where sources.contains(layer.path) { active.insert(layer.id) }
        }
        let tree = LayerTree(layers.map { LayerTree.Layer(id: $0.id, parentID: $0.parentLayerID) })
        return (tree, LayerTree.References(snapshotTops: Set(disks.map(\.layerID)), active: active), byID, disks)
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
        EngineError(
            .conflict,
            "disk \(disk) of \(vm.name) now uses \(path), which is not in kvmsnap's chain (changed outside kvmsnap?); run 'kvmsnap check \(vm.name)'; nothing "
                + "was changed"
        )
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
                    try domain.blockCommit(
                        disk: child.diskTarget, base: parent.path, top: child.path, bandwidth: 0,
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

    /// Points disk `disk` of the persistent definition at `path` (a qcow2 image).
    func repointDefinition(domain: Domain, disk: String, path: String) throws(EngineError) {
        let xml = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        var definition = try DomainDefinition(xml: xml)
        guard definition.disks.first(where: { $0.target == disk })?.path != path else { return }
        try definition.setDiskSource(target: disk, path: path, format: "qcow2")
        _ = try lv("cannot update VM definition") { () throws(LibvirtError) in try connection.defineDomain(xml: definition.xml) }
    }
}

extension SnapshotEngine {
    /// The layer store, with the configuration as it is now.
    var layerStore: LayerStore { LayerStore(connection: connection, catalog: catalog, configuration: configuration) }

    // Forwarders: the engine's operations call the layer store through these.
    func currentDiskSources(_ domain: Domain) throws(EngineError) -> [String: String] { try layerStore.currentDiskSources(domain) }
    func layerState(vmUUID: String, domain: Domain?) throws(EngineError)
        -> (tree: LayerTree, refs: LayerTree.References, layers: [String: LayerRecord], disks: [SnapshotDiskRecord])
    {
        try layerStore.layerState(vmUUID: vmUUID, domain: domain)
    }
    func reclaim(vmUUID: String, domain: Domain?) throws(EngineError) { try layerStore.reclaim(vmUUID: vmUUID, domain: domain) }
    func requireInStep(domain: Domain?, vm: VMRecord) throws(EngineError) { try layerStore.requireInStep(domain: domain, vm: vm) }
    func isActiveChecked(_ domain: Domain) throws(EngineError) -> Bool { try layerStore.isActiveChecked(domain) }
    func imagesInUse(_ domain: Domain) throws(EngineError) -> Set<String> { try layerStore.imagesInUse(domain) }
    func validateChains(vm: VMRecord, captured: [DomainDisk], frozen: [String: String], layers: [LayerRecord]) throws(EngineError) {
        try layerStore.validateChains(vm: vm, captured: captured, frozen: frozen, layers: layers)
    }
    func refuseForeignBlockJobs(domain: Domain?, vm: VMRecord) throws(EngineError) { try layerStore.refuseForeignBlockJobs(domain: domain, vm: vm) }
    func blockJob(on domain: Domain, disk: String) throws(EngineError) -> DiskBlockJob? { try layerStore.blockJob(on: domain, disk: disk) }
    func repointDefinition(domain: Domain, disk: String, path: String) throws(EngineError) {
        try layerStore.repointDefinition(domain: domain, disk: disk, path: path)
    }
}
