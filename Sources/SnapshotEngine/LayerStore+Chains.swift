import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension LayerStore {
    /// Whether the domain runs or is paused; throws when libvirt does not say (unlike ``isActive(_:)``,
    /// for decisions that delete or move data).
    func isActiveChecked(_ domain: Domain) throws(EngineError) -> Bool {
        try lv("cannot read VM state") { () throws(LibvirtError) in try domain.isActive }
    }

    /// Every image the VM may read or write: its live chains and block-job targets when it runs,
    /// plus the images its persistent definition names (what `virsh start` opens). Throws when
    /// libvirt does not answer: a caller about to delete a file must then keep it.
    func imagesInUse(_ domain: Domain) throws(EngineError) -> Set<String> {
        let inactive = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive]) }
        var paths = try DomainDefinition(xml: inactive).chainPaths
        if try isActiveChecked(domain) {
            let live = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: []) }
            paths.formUnion(try DomainDefinition(xml: live).chainPaths)
        }
        return paths
    }

    /// Refuses to build a snapshot on a chain that is already broken: for each captured disk, the
    /// catalog's layers from `frozen` down must exist, and `qemu-img` must open the disk's image
    /// with the same chain of files (a layer deleted while QEMU still holds it open would otherwise
    /// be frozen into a snapshot that can never be restored). Changes nothing.
    ///
    /// A broken chain is a conflict (exit 3), like a chain changed outside kvmsnap: the VM's state
    /// refuses the operation, and retrying cannot help until someone repairs or restores it.
    func validateChains(vm: VMRecord, captured: [DomainDisk], frozen: [String: String], layers: [LayerRecord]) throws(EngineError) {
        let byID = Dictionary(layers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for disk in captured {
            guard let top = disk.path else { continue }
            func broken(_ why: String) -> EngineError {
                EngineError(
                    .conflict,
                    "cannot snapshot \(vm.name): the backing chain of disk \(disk.target) is broken (\(why)); nothing was changed, see 'kvmsnap check "
                        + "\(vm.name)'"
                )
            }
            var expected: [LayerRecord] = []
            var cursor = frozen[disk.target].flatMap { byID[$0] }
            while let layer = cursor, expected.count <= byID.count {
                expected.append(layer)
                cursor = layer.parentLayerID.flatMap { byID[$0] }
            }
            for layer in expected where access(layer.path, R_OK) != 0 {
                throw broken("layer \(layer.path) is missing or unreadable")
            }
            let chain: [String]
            do { chain = try ImageTool.backingChain(top) } catch { throw broken(error.message) }
            let want = expected.map { ($0.path as NSString).standardizingPath }
            // An adopted original image may have backing files of its own, outside the catalog.
            let open = expected.last?.role == .original
            guard chain.starts(with: want), open || chain.count == want.count else {
                throw broken("its images are \(chain.joined(separator: " on ")), the catalog expects \(want.joined(separator: " on "))")
            }
        }
    }
}
