import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension SnapshotEngine {
    /// The restore's safety snapshot: a create that, refused because of the VM's current state
    /// (a broken chain, layers changed outside kvmsnap), says how to restore without one.
    func safetySnapshot(domain: Domain, vm: VMRecord, options: CreateOptions) throws(EngineError) -> CreateResult {
        do { return try create(domain: domain, vm: vm, options: options) } catch where error.code == .conflict {
            throw EngineError(error.code, "\(error.message); to restore anyway, discarding the VM's current state, add --no-safety-snapshot")
        }
    }
}

extension SnapshotEngine {
    /// What `check` reports about the VM's persistent definition: disk images it names that do
    /// not exist (a running VM keeps going, but `virsh start` after a shutdown would fail).
    func definitionProblems(_ domain: Domain) -> [String] {
        let definition: DomainDefinition
        do {
            let xml = try lv("cannot read the VM's persistent definition") { () throws(LibvirtError) in try domain.xml(flags: [.inactive]) }
            definition = try DomainDefinition(xml: xml)
        } catch {
            return [error.message]
        }
        return definition.disks.compactMap { disk in
            guard disk.skipReason == nil, let path = disk.path, !FileManager.default.fileExists(atPath: path) else { return nil }
            return "the VM's definition names \(path) for disk \(disk.target), which does not exist: starting the VM would fail"
        }
    }
}
