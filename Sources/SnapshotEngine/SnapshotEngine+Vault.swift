import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault

// The vault tier (issue 13): the facade forwards to ``Vaults``.
extension SnapshotEngine {
    var vaults: Vaults { Vaults(catalog: catalog, store: store, clock: clock) }

    /// Creates a vault at `options.location`, or attaches the one there, and registers it.
    public func addVault(_ options: VaultAddOptions) throws(EngineError) -> VaultAddResult { try vaults.add(options) }

    public func vaultRecords() throws(EngineError) -> [VaultRecord] { try vaults.list() }

    /// Forgets a vault on this host; its contents and key file stay.
    public func removeVault(_ name: String) throws(EngineError) { try vaults.remove(name) }

    /// The vault's master key as a paper key (`vault key export --paper`).
    public func vaultPaperKey(_ name: String) throws(EngineError) -> String { try vaults.paperKey(name) }

    /// Opens a registered vault (without its key when `needKey` is false).
    public func openVault(_ name: String, needKey: Bool = true) throws(EngineError) -> VaultRepository {
        try vaults.open(name, needKey: needKey).1
    }

    /// The vault's snapshots, oldest first (of one VM, by name or UUID, when given).
    public func vaultSnapshots(_ name: String, vm: String? = nil) throws(EngineError) -> [VaultSnapshotSummary] {
        try vaults.snapshots(name, vm: vm)
    }

    /// The vault's readable snapshots and its damaged manifests (`vault snapshots`).
    public func vaultSnapshotListing(_ name: String, vm: String? = nil) throws(EngineError) -> VaultSnapshotListing {
        try vaults.snapshotListing(name, vm: vm)
    }

    /// `vault forget NAME VM SNAP --damaged`: deletes a manifest that cannot be read, so gc can run.
    public func forgetDamagedVaultManifest(_ name: String, vm: String, snapshot: String) throws(EngineError) -> DamagedManifest {
        try vaults.forgetDamaged(name, vm: vm, snapshot: snapshot)
    }

    /// `vault verify [--read-data]`: every manifest authenticated, every referenced chunk present
    /// (and with `readData` re-hashed). Runs without the key of an encrypted vault.
    /// Problems, or a failure to read the vault, are also a `vault-verify-failed` alert.
    public func verifyVault(_ name: String, readData: Bool) throws(EngineError) -> VaultVerifyReport {
        let report: VaultVerifyReport
        do { report = try vaults.verify(name, readData: readData) } catch {
            if error.code != .notFound && error.code != .invalidInput { alerts.vaultVerifyFailed(vault: name, errors: [error.message]) }
            throw error
        }
        if !report.ok { alerts.vaultVerifyFailed(vault: name, errors: report.problems.map(\.description)) }
        return report
    }

    /// `vault prune`: the borg planner per VM; deletes manifests (never pinned ones) unless `dryRun`.
    public func pruneVault(_ name: String, vm: String? = nil, policy: RetentionPolicy, dryRun: Bool) throws(EngineError) -> [VaultPruneResult] {
        try vaults.prune(name, vm: vm, policy: policy, now: clock.now(), dryRun: dryRun)
    }

    /// `vault gc`: deletes unreferenced chunks older than `grace` seconds; defers while a send runs.
    public func gcVault(_ name: String, grace: TimeInterval = 3600, dryRun: Bool = false) throws(EngineError) -> VaultGCReport {
        try vaults.gc(name, grace: grace, dryRun: dryRun)
    }

    /// `vault pin` / `vault unpin`.
    public func setVaultPinned(_ pinned: Bool, vault name: String, vm: String, snapshot: String) throws(EngineError) {
        try vaults.setPinned(pinned, vault: name, vm: vm, snapshot: snapshot)
    }
}

// Disaster recovery from a vault (`restore --from-vault`, `vault extract`).
extension SnapshotEngine {
    /// Restores a vault snapshot on this host (see ``restoreFromVaultLocked(_:)``): a VM not
    /// defined here is defined and started from it (memory under the same UUID), `--as` makes a
    /// new VM that boots from its disks, a VM defined here is replaced through the restore
    /// pipeline only with `confirm` equal to its name. Refuses before touching the host when
    /// the manifest or a chunk is damaged or missing (naming it), or the key is wrong.
    public func restoreFromVault(_ options: VaultRestoreOptions) throws(EngineError) -> VaultRestoreReport {
        try restoreFromVaultLocked(options)
    }
}
