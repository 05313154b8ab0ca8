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

    /// Checks every manifest and chunk reference; `readData` re-hashes every chunk. Works
    /// without the key of an encrypted vault (existence and framing only).
    func verify(_ name: String, readData: Bool) throws(EngineError) -> VaultVerifyReport {
        let (_, repository) = try open(name, needKey: false)
        return try vault { () throws(VaultError) in try repository.verify(readData: readData) }
    }

    /// Plans (and unless `dryRun`, applies) vault retention per VM. Deletes manifests only;
    /// `gc` reclaims the chunks. Pinned snapshots are kept.
    func prune(_ name: String, vm: String?, policy: RetentionPolicy, now: Date, dryRun: Bool) throws(EngineError) -> [VaultPruneResult] {
        let all = try snapshots(name, vm: vm)
        if let vm, all.isEmpty { throw EngineError(.notFound, "vault '\(name)' holds no snapshot of '\(vm)'") }
        let (_, repository) = try open(name)
        var results: [VaultPruneResult] = []
        for uuid in Set(all.map(\.vmUUID)).sorted() {
            let plan = try vault { () throws(VaultError) in try repository.prune(vmUUID: uuid, policy: policy, now: now, dryRun: dryRun) }
            let mine = all.filter { $0.vmUUID == uuid }
            results.append(
                VaultPruneResult(
                    vm: mine.last?.vm ?? uuid, vmUUID: uuid, plan: plan,
                    snapshots: Dictionary(mine.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })))
        }
        return results
    }

    /// Deletes chunks no manifest references (older than `grace`); defers while a send runs.
    func gc(_ name: String, grace: TimeInterval, dryRun: Bool) throws(EngineError) -> VaultGCReport {
        let (_, repository) = try open(name)
        return try vault { () throws(VaultError) in try repository.gc(grace: grace, now: clock.now(), dryRun: dryRun) }
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
