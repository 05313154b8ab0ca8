import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault

/// One VM's vault retention plan (`vault prune`).
public struct VaultPruneResult: Sendable {
    public var vm: String
    public var vmUUID: String
    public var plan: RetentionPlan
    /// Every snapshot of the VM the plan looked at, by manifest key.
    public var snapshots: [String: VaultSnapshotSummary]
    /// This VM's manifests that cannot be read: not planned, neither kept nor pruned.
    public var damaged: [DamagedManifest] = []
}

// Vault administration: listing, verify, prune, gc, pins. None of it needs libvirt or a VM lock;
// a vault's own marks keep gc and sends apart.
extension Vaults {
    /// The vault's snapshots, oldest first; `vm` filters by VM name or UUID (as the manifests
    /// record them, so it works on a host that never saw the VM).
    func snapshots(_ name: String, vm: String?) throws(EngineError) -> [VaultSnapshotSummary] {
        let (_, repository) = try open(name)
        let all = try vault { () throws(VaultError) in try repository.snapshots() }
        guard let vm else { return all }
        return all.filter { $0.vm == vm || $0.vmUUID.lowercased() == vm.lowercased() }
    }

    /// The readable snapshots and the damaged manifests (of `vm`, by name or UUID, when given).
    func snapshotListing(_ name: String, vm: String?) throws(EngineError) -> VaultSnapshotListing {
        let (_, repository) = try open(name)
        var listing = try vault { () throws(VaultError) in try repository.listSnapshots() }
        guard let vm else { return listing }
        listing.snapshots = listing.snapshots.filter { $0.vm == vm || $0.vmUUID.lowercased() == vm.lowercased() }
        let uuids = Set(listing.snapshots.map { $0.vmUUID.lowercased() } + [vm.lowercased()])
        listing.damaged = listing.damaged.filter { uuids.contains($0.vmUUID.lowercased()) }
        return listing
    }

    /// Deletes a manifest that cannot be read (`vault forget --damaged`); `vm` is the UUID its
    /// key names, or a VM name the vault's readable manifests record.
    func forgetDamaged(_ name: String, vm: String, snapshot: String) throws(EngineError) -> DamagedManifest {
        let listing = try snapshotListing(name, vm: vm)
        let uuid = listing.snapshots.first { $0.vm == vm }?.vmUUID ?? vm.lowercased()
        guard VaultLayout.isSafeComponent(uuid), VaultLayout.isSafeComponent(snapshot) else {
            throw EngineError(.invalidInput, "bad VM or snapshot name")
        }
        let (_, repository) = try open(name)
        do {
            return try repository.forgetDamaged(vmUUID: uuid, snapshot: snapshot)
        } catch {
            switch error {
            case .missingObject: throw EngineError(.notFound, "vault '\(name)' has no manifest \(VaultLayout.manifest(vmUUID: uuid, snapshot: snapshot))")
            case .badConfig(let reason): throw EngineError(.invalidInput, "\(reason); nothing was changed")
            default: throw EngineError(error)
            }
        }
    }

    /// Checks every manifest and chunk reference; `readData` re-hashes every chunk. Works
    /// without the key of an encrypted vault (existence and framing only).
    func verify(_ name: String, readData: Bool) throws(EngineError) -> VaultVerifyReport {
        let (_, repository) = try open(name, needKey: false)
        return try vault { () throws(VaultError) in try repository.verify(readData: readData) }
    }

    /// Plans (and unless `dryRun`, applies) vault retention per VM. Deletes manifests only;
    /// `gc` reclaims the chunks. Pinned snapshots are kept.
    func prune(_ name: String, vm: String?, policy: RetentionPolicy, now: Date, dryRun: Bool) throws(EngineError) -> [VaultPruneResult] {
        let listing = try snapshotListing(name, vm: vm)
        let all = listing.snapshots
        if let vm, all.isEmpty, listing.damaged.isEmpty { throw EngineError(.notFound, "vault '\(name)' holds no snapshot of '\(vm)'") }
        let (_, repository) = try open(name)
        var results: [VaultPruneResult] = []
        for uuid in Set(all.map(\.vmUUID) + listing.damaged.map(\.vmUUID)).sorted() {
            let plan = try vault { () throws(VaultError) in try repository.prune(vmUUID: uuid, policy: policy, now: now, dryRun: dryRun) }
            let mine = all.filter { $0.vmUUID == uuid }
            results.append(
                VaultPruneResult(
                    vm: mine.last?.vm ?? uuid, vmUUID: uuid, plan: plan,
                    snapshots: Dictionary(mine.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a }),
                    damaged: listing.damaged.filter { $0.vmUUID == uuid }))
        }
        return results
    }

    /// Deletes chunks no manifest references (older than `grace`); defers while a send runs.
    func gc(_ name: String, grace: TimeInterval, dryRun: Bool) throws(EngineError) -> VaultGCReport {
        let (_, repository) = try open(name)
        do {
            return try repository.gc(grace: grace, now: clock.now(), dryRun: dryRun)
        } catch {
            // A manifest that cannot be read may be the only reference to some chunks: nothing is
            // deleted until it is repaired or dropped on purpose.
            guard let damaged = Self.damaged(error) else { throw EngineError(error) }
            throw EngineError(
                .io,
                "\(error.description); gc deletes nothing while a manifest cannot be read (it may be the only reference to its chunks). "
                    + "To drop it: kvmsnap vault forget \(name) \(damaged.vmUUID) \(damaged.snapshot) --damaged")
        }
    }

    /// Pins or unpins a vault snapshot (`vm`: name or UUID as the vault records it).
    func setPinned(_ pinned: Bool, vault name: String, vm: String, snapshot: String) throws(EngineError) {
        guard let found = try snapshots(name, vm: vm).first(where: { $0.snapshot == snapshot }) else {
            throw EngineError(.notFound, "vault '\(name)' has no snapshot \(vm)/\(snapshot)")
        }
        let (_, repository) = try open(name)
        try vault { () throws(VaultError) in try repository.setPinned(pinned, vmUUID: found.vmUUID, snapshot: snapshot) }
    }
}

extension Vaults {
    /// The damaged manifest an error names, if it names one.
    static func damaged(_ error: VaultError) -> DamagedManifest? {
        switch error {
        case .badManifest(let key, _), .unsupportedFormat(let key, _):
            key.hasPrefix(VaultLayout.snapshotsPrefix) ? DamagedManifest(key: key, error: error) : nil
        default: nil
        }
    }
}
