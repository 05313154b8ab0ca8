import Foundation
import KVMSnapCore

/// How `kvmsnap restore --from-vault` restores a vault snapshot on this host.
public struct VaultRestoreOptions: Sendable {
    public var vault: String
    /// The VM's name or UUID in the vault.
    public var vm: String
    public var snapshot: String
    /// Restore into a new VM of this name (new UUID, boots from disk).
    public var newName: String?
    /// The typed name of the VM on this host that the restore replaces.
    public var confirm: String?
    /// Where the disks go instead of the store's layer directory.
    public var diskDirectory: String?
    /// Raw disk images instead of qcow2.
    public var raw = false
    public var start: StartMode = .running
    /// For a VM that exists here: the restore pipeline's options (safety snapshot, hooks, ...).
    public var restore = RestoreOptions()

    public init(vault: String, vm: String, snapshot: String) {
        self.vault = vault
        self.vm = vm
        self.snapshot = snapshot
    }
}

/// What `restore --from-vault` did (its `--json`).
public struct VaultRestoreReport: Sendable, Encodable {
    public var vault: String
    public var vm: String
    public var vmUUID: String
    /// The local snapshot the vault snapshot became (the VM's first, for a new VM).
    public var snapshot: String
    public var vaultSnapshot: String
    /// True when the VM was defined by this restore (not replaced).
    public var createdVM: Bool
    public var restoredMemory: Bool
    public var diskFormat: String
    public var disks: [String]
    /// Bytes written to disk images (their non-zero slots), memory image and NVRAM.
    public var bytesWritten: Int64
    public var materializeSeconds: Double
    public var seconds: Double
    public var finalState: String
    public var notices: [String]
    /// The restore pipeline's report, for a VM that existed here.
    public var restore: RestoreReport?
}

/// What `vault extract` wrote.
public struct VaultExtractReport: Sendable, Encodable {
    public var vault: String
    public var vm: String
    public var vmUUID: String
    public var snapshot: String
    public var directory: String
    public var files: [String]
    public var bytesWritten: Int64
    public var seconds: Double
}

/// The journal of a `vault-restore` job: the files it writes, so a killed restore is cleaned
/// up by the next command (``SnapshotEngine/recoverVaultRestores()``).
struct VaultRestoreJournal: Codable {
    var targets: VaultFileTargets
    /// The local snapshot id the import uses.
    var snapshotID: String
    /// True when the VM record was created by this restore (recovery may remove it).
    var createdVMRecord: Bool
    /// True when the restore defines the domain itself (`--as`, or the VM is not on this host):
    /// recovery then finishes the revert onto new overlays (nil in journals of older versions).
    var definesDomain: Bool?
    /// The state the restore was asked to leave the VM in.
    var start: StartMode?
}

/// The `stage` column of a `vault-restore` job.
enum VaultRestoreStage: String {
    case materialize
    /// The catalog holds the imported snapshot: from here on it stands.
    case imported
}
