import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Capture {
    /// Names the `--full` copy and its overlay for each captured disk (nothing is created yet).
    func planFullCopies(vmUUID: String, captured: [DomainDisk]) -> [String: FullCopyPaths] {
        Dictionary(
            uniqueKeysWithValues: captured.map { disk in
                (
                    disk.target,
                    FullCopyPaths(
                        copy: store.layerPath(vmUUID: vmUUID, layerID: Identifier.make("l-")),
                        top: store.layerPath(vmUUID: vmUUID, layerID: Identifier.make("l-")))
                )
            })
    }

    /// `--full`: a standalone copy F of the frozen chain, a new overlay B on F, and the VM moved
    /// onto B (live: block copy of the tiny new overlay, then pivot). Returns (F, B).
    ///
    /// Resumable: when the VM already runs on B (the pivot happened before a crash), only the
    /// persistent definition is checked. Every file is named in the job's journal beforehand.
    func makeFullCopy(domain: Domain, vm: VMRecord, disk: String, frozen: LayerRecord, paths: FullCopyPaths) throws(EngineError) -> (LayerRecord, LayerRecord) {
        if try layerStore.currentDiskSources(domain)[disk] != paths.top {
            progress?("full copy \(disk)", nil)
            try ImageTool.flatten(source: frozen.path, to: paths.copy) { () throws(EngineError) in try inject(.createFullPartial) }
            try ImageTool.createOverlay(path: paths.top, backing: paths.copy, backingFormat: "qcow2")
            if try layerStore.isActiveChecked(domain) {
                let destination = "<disk type='file'><source file='\(Self.xmlEscape(paths.top))'/><driver type='qcow2'/></disk>"
                try lv("cannot move \(disk) onto the full copy") { () throws(LibvirtError) in
                    try domain.blockCopy(disk: disk, destinationXML: destination, flags: [.shallow, .reuseExternal, .transientJob])
                }
                try inject(.createFullCopying)
                try lv("cannot move \(disk) onto the full copy") { () throws(LibvirtError) in
                    try domain.waitForBlockJob(disk: disk, timeout: .seconds(600))
                    try domain.pivotBlockJob(disk: disk)
                }
                try inject(.createFullPivoted)
            }
        }
        // Keep the persistent definition on the same chain (libvirt updates it on pivot; offline we must).
        try layerStore.repointDefinition(domain: domain, disk: disk, path: paths.top)
        let now = clock.now()
        let copyID = StoreLayout.layerID(fromPath: paths.copy)
        return (
            LayerRecord(id: copyID, vmUUID: vm.uuid, diskTarget: disk, path: paths.copy, format: "qcow2", parentLayerID: nil, role: .fullCopy, createdAt: now),
            LayerRecord(
                id: StoreLayout.layerID(fromPath: paths.top), vmUUID: vm.uuid, diskTarget: disk, path: paths.top, format: "qcow2",
                parentLayerID: copyID, role: .overlay, createdAt: now)
        )
    }
}
