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
