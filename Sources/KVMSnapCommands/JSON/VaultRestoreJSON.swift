import Foundation
import SnapshotEngine

/// The JSON shape of `restore --from-vault --json`.
struct VaultRestoreJSON: Encodable {
    var vault: String
    var vm: String
    var vmUUID: String
    /// The local snapshot the vault snapshot became.
    var snapshot: String
    var vaultSnapshot: String
    var createdVM: Bool
    var restoredMemory: Bool
    var diskFormat: String
    var disks: [String]
    var bytesWritten: Int64
    var materializeSeconds: Double
    /// bytesWritten / materializeSeconds, in MB/s (10^6 bytes).
    var materializeMBps: Double
    var seconds: Double
    var finalState: String
    var notices: [String]
    var restore: RestoreReport?

    init(_ r: VaultRestoreReport) {
        vault = r.vault; vm = r.vm; vmUUID = r.vmUUID; snapshot = r.snapshot; vaultSnapshot = r.vaultSnapshot
        createdVM = r.createdVM; restoredMemory = r.restoredMemory; diskFormat = r.diskFormat; disks = r.disks
        bytesWritten = r.bytesWritten; materializeSeconds = r.materializeSeconds
        materializeMBps = Double(r.bytesWritten) / 1e6 / max(r.materializeSeconds, 0.001)
        seconds = r.seconds; finalState = r.finalState; notices = r.notices; restore = r.restore
    }
}

/// The JSON shape of `vault extract --json`.
struct VaultExtractJSON: Encodable {
    var vault: String
    var vm: String
    var vmUUID: String
    var snapshot: String
    var directory: String
    var files: [String]
    var bytesWritten: Int64
    var seconds: Double
    var megabytesPerSecond: Double

    init(_ r: VaultExtractReport) {
        vault = r.vault; vm = r.vm; vmUUID = r.vmUUID; snapshot = r.snapshot; directory = r.directory; files = r.files
        bytesWritten = r.bytesWritten; seconds = r.seconds; megabytesPerSecond = Double(r.bytesWritten) / 1e6 / max(r.seconds, 0.001)
    }
}
