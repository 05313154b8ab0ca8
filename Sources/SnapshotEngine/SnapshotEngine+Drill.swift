import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Vault

extension SnapshotEngine {
    var drills: Drills { Drills(restorer: restorer) }

    /// Runs a restore drill of `vm` (``Drills``): the VM's lock is held throughout, so
    /// snapshots of it wait; the VM itself keeps running untouched. Returns the recorded report;
    /// a failed check is `passed == false` in it, not an error.
    public func drill(vm nameOrUUID: String, options: DrillOptions) throws(EngineError) -> DrillRecord {
        if let pattern = options.consolePattern, (try? NSRegularExpression(pattern: pattern)) == nil {
            throw EngineError(.invalidInput, "--check-console: not a valid regular expression: \(pattern)")
        }
        if let port = options.port, !(1...65_535).contains(port) { throw EngineError(.invalidInput, "--check-port must be 1-65535") }
        if let vaultName = options.fromVault {
            return try drillFromVault(vm: nameOrUUID, vault: vaultName, options: options)
        }
        let (vm, domain) = try vmForCatalogWork(nameOrUUID)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try drills.run(vm: vm, options: options)
    }

    /// A drill of vault snapshot `options.snapshot` of `vm` (nil: the VM's newest in the vault):
    /// refused before anything is written when the manifest or a chunk is damaged or missing.
    /// The VM must be in this catalog (its lock and journal make a killed drill's clean-up
    /// certain); restore it `--as` first otherwise.
    private func drillFromVault(vm nameOrUUID: String, vault name: String, options: DrillOptions) throws(EngineError) -> DrillRecord {
        var options = options
        if options.snapshot == nil { options.snapshot = try newestVaultSnapshot(vault: name, vm: nameOrUUID) }
        let snapshot = options.snapshot ?? ""
        let (repository, manifest) = try vaults.restorable(vault: name, vm: nameOrUUID, snapshot: snapshot)
        guard let vm = try db({ () throws(CatalogError) in try catalog.read { try $0.vm(uuid: manifest.vmUUID) } }) else {
            throw EngineError(
                .notFound,
                "VM \(manifest.vm) (\(manifest.vmUUID)) is not in this host's catalog: restore it first ('restore --from-vault \(name) "
                    + "\(manifest.vm) \(snapshot) --as NEW'), then drill NEW")
        }
        let lock = try lockVM(vm, domain: try? connection.lookupDomain(uuid: vm.uuid))
        defer { withExtendedLifetime(lock) {} }
        return try drills.run(vm: vm, options: options, vault: DrillVaultSource(name: name, repository: repository, manifest: manifest))
    }

    /// The name of `vm`'s newest snapshot in vault `name` (`drill --latest --from-vault`).
    private func newestVaultSnapshot(vault name: String, vm: String) throws(EngineError) -> String {
        let held = try vaults.snapshots(name, vm: vm)
        guard let newest = held.max(by: { $0.createdAt < $1.createdAt }) else {
            throw EngineError(.notFound, "vault '\(name)' holds no snapshot of '\(vm)' (see 'kvmsnap vault snapshots \(name)')")
        }
        guard Set(held.map(\.vmUUID)).count == 1 else {
            throw EngineError(.conflict, "vault '\(name)' holds several VMs named '\(vm)': name the VM by its UUID")
        }
        return newest.snapshot
    }

    /// Drill reports, newest first, of one VM (name or UUID, also a VM that no longer exists) or all.
    public func drillReports(vm nameOrUUID: String? = nil, limit: Int = 100) throws(EngineError) -> [DrillRecord] {
        try DrillReports(catalog: catalog).list(vm: nameOrUUID, limit: limit)
    }
}

/// The drill reports in the catalog, for `drill report` (also while libvirtd is down) and for the
/// alert sender. Needs no libvirt connection.
public struct DrillReports: CatalogService, Sendable {
    public let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    /// Reports, newest first, of one VM (name or UUID, also a VM that no longer exists) or all.
    public func list(vm nameOrUUID: String? = nil, limit: Int = 100) throws(EngineError) -> [DrillRecord] {
        let all = try db { () throws(CatalogError) in try catalog.read { try $0.drills(limit: nameOrUUID == nil ? limit : 1_000_000) } }
        guard let nameOrUUID else { return all }
        return Array(all.filter { $0.vmName == nameOrUUID || $0.vmUUID.lowercased() == nameOrUUID.lowercased() }.prefix(limit))
    }

    /// Reports recorded after report `id` (every report when nil), oldest first: what an alert
    /// sender has not handled yet. It keeps the last id it handled and emits drill-passed or
    /// drill-failed (``DrillRecord/passed``) for each.
    public func after(id: Int64?) throws(EngineError) -> [DrillRecord] {
        try db { () throws(CatalogError) in try catalog.read { try $0.drills(after: id) } }
    }
}
