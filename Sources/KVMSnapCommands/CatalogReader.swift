import Foundation
import SnapshotCatalog
import SnapshotEngine

/// What the catalog-only commands (`jobs`, `policy show`, `hook list`, `lab list`) read: the
/// catalog alone, so they work while libvirtd is down. Each query answers as the engine's
/// method of the same name does; catalog failures become the engine's `.catalog` error (exit 1).
struct CatalogReader {
    let catalog: Catalog

    /// Jobs, newest first, optionally of one VM (name or UUID, also VMs that no longer exist);
    /// as ``SnapshotEngine/jobs(vm:failedOnly:limit:)``.
    func jobs(vm: String? = nil, failedOnly: Bool = false, limit: Int = 200) throws(EngineError) -> [JobRecord] {
        let all = try read { try $0.jobs(states: failedOnly ? [.failed] : nil) }
        let filtered = all.filter { job in vm == nil || job.vmName == vm || job.vmUUID?.lowercased() == vm?.lowercased() }
        return Array(filtered.prefix(limit))
    }

    /// Every hook, in id order.
    func hooks() throws(EngineError) -> [HookRecord] {
        try read { try $0.hooks() }
    }

    /// The VMs marked as lab VMs, by name.
    func labVMs() throws(EngineError) -> [VMRecord] {
        try read { try $0.allVMs().filter { $0.labBaselineID != nil } }
    }

    /// The catalog's VM named `nameOrUUID` (or with that UUID), for when libvirt cannot be asked;
    /// `unreachable` says why in the not-found message.
    func vm(_ nameOrUUID: String, unreachable uri: String) throws(EngineError) -> VMRecord {
        guard let record = try read({ db in try db.vm(named: nameOrUUID) ?? db.vm(uuid: nameOrUUID) }) else {
            throw EngineError(.notFound, "no VM named '\(nameOrUUID)' in the catalog (libvirt at \(uri) is not reachable)")
        }
        return record
    }

    /// The policy that applies to the VM with `vmUUID` (its own, else the default), or the
    /// default alone for nil; as ``SnapshotEngine/effectivePolicy(vm:)``.
    func effectivePolicy(vmUUID: String?) throws(EngineError) -> EffectivePolicy? {
        let (own, fallback) = try read { db in
            (try vmUUID.flatMap { try db.policy(scope: SnapshotEngine.policyScope(vmUUID: $0)) },
             try db.policy(scope: SnapshotEngine.defaultPolicyScope))
        }
        if let own { return EffectivePolicy(policy: try SnapshotEngine.decodePolicy(own), source: .vm, updatedAt: own.updatedAt) }
        if let fallback {
            return EffectivePolicy(policy: try SnapshotEngine.decodePolicy(fallback), source: .default, updatedAt: fallback.updatedAt)
        }
        return nil
    }

    private func read<T>(_ body: (CatalogAccess) throws -> T) throws(EngineError) -> T {
        do { return try catalog.read(body) } catch { throw EngineError(.catalog, error.message) }
    }
}
