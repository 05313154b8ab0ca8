import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault

extension Vaults {
    /// Opens vault `name`, reads and authenticates the manifest of `vm`'s snapshot `snapshot`
    /// and checks that every chunk it references exists: a restore refuses before it writes
    /// anything when one is missing (named) or the manifest is damaged (named).
    func restorable(vault name: String, vm: String, snapshot: String) throws(EngineError) -> (VaultRepository, VaultManifest) {
        let (_, repository) = try open(name)
        let manifest = try Self.manifest(in: repository, vault: name, vm: vm, snapshot: snapshot)
        try vault { () throws(VaultError) in try repository.preflight(manifest) }
        return (repository, manifest)
    }

    /// The manifest of `vm` (a UUID, or a name the vault's manifests carry) at `snapshot`.
    static func manifest(in repository: VaultRepository, vault name: String, vm: String, snapshot: String) throws(EngineError) -> VaultManifest {
        guard VaultLayout.isSafeComponent(snapshot) else { throw EngineError(.invalidInput, "'\(snapshot)' is not a snapshot name") }
        if UUID(uuidString: vm) != nil {
            let key = VaultLayout.manifest(vmUUID: vm.lowercased(), snapshot: snapshot)
            if try vault({ () throws(VaultError) in try repository.backend.exists(key) }) {
                return try vault { () throws(VaultError) in try repository.manifest(key: key) }
            }
        }
        let suffix = "/\(snapshot)\(VaultLayout.manifestSuffix)"
        let keys = try vault { () throws(VaultError) in try repository.manifestKeys() }.filter { $0.hasSuffix(suffix) }
        var found: [VaultManifest] = []
        for key in keys {
            let manifest = try vault { () throws(VaultError) in try repository.manifest(key: key) }
            if manifest.vm == vm || manifest.vmUUID == vm.lowercased() { found.append(manifest) }
        }
        guard let first = found.first else {
            throw EngineError(.notFound, "vault '\(name)' has no snapshot '\(snapshot)' of VM '\(vm)' (see 'kvmsnap vault snapshots \(name)')")
        }
        guard found.count == 1 else {
            throw EngineError(.conflict, "vault '\(name)' holds \(found.count) VMs named '\(vm)' with a snapshot '\(snapshot)': name the VM by its UUID")
        }
        return first
    }
}

extension VaultManifest {
    /// Bytes a restore writes: the disks' non-zero slots, memory and NVRAM.
    var restoreBytes: Int64 {
        disks.reduce(0) { $0 + $1.allocatedBytes } + (memory?.size ?? 0) + (nvram?.size ?? 0)
    }
}
