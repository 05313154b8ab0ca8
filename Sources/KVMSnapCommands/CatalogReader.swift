import Foundation
import SnapshotCatalog
import SnapshotEngine

/// What the catalog-only commands (`jobs`, `policy show`, `hook list`, `lab list`) read: the
/// catalog alone, so they work while libvirtd is down. Each query is the engine's catalog-only
/// service that the engine's method of the same name calls (``JobJournal``, ``Hooks``,
/// ``CatalogVMs``, ``Policies``), so it answers as that method does; catalog failures are the
/// engine's `.catalog` error (exit 1).
struct CatalogReader {
    let catalog: Catalog

    /// Jobs, newest first, optionally of one VM (name or UUID, also VMs that no longer exist);
    /// as ``SnapshotEngine/jobs(vm:failedOnly:limit:)``.
    func jobs(vm: String? = nil, failedOnly: Bool = false, limit: Int = 200) throws(EngineError) -> [JobRecord] {
        try JobJournal(catalog: catalog).list(vm: vm, failedOnly: failedOnly, limit: limit)
    }

    /// Drill reports, newest first; as ``SnapshotEngine/drillReports(vm:limit:)``.
    func drills(vm: String?, limit: Int = 100) throws(EngineError) -> [DrillRecord] {
        try DrillReports(catalog: catalog).list(vm: vm, limit: limit)
    }

    /// Every hook, in id order.
    func hooks() throws(EngineError) -> [HookRecord] {
        try Hooks(catalog: catalog).all()
    }

    /// The VMs marked as lab VMs, by name.
    func labVMs() throws(EngineError) -> [VMRecord] {
        try CatalogVMs(catalog: catalog).labs()
    }

    /// The catalog's VM named `nameOrUUID` (or with that UUID), for when libvirt cannot be asked;
    /// `unreachable` says why in the not-found message.
    func vm(_ nameOrUUID: String, unreachable uri: String) throws(EngineError) -> VMRecord {
        guard let record = try CatalogVMs(catalog: catalog).find(nameOrUUID) else {
            throw EngineError(.notFound, "no VM named '\(nameOrUUID)' in the catalog (libvirt at \(uri) is not reachable)")
        }
        return record
    }

    /// The policy that applies to the VM with `vmUUID` (its own, else the default), or the
    /// default alone for nil; as ``SnapshotEngine/effectivePolicy(vm:)``.
    func effectivePolicy(vmUUID: String?) throws(EngineError) -> EffectivePolicy? {
        try Policies(catalog: catalog).effective(vmUUID: vmUUID)
    }
}
