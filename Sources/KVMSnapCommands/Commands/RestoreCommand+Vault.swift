import Foundation
import KVMSnapCore
import SnapshotEngine

extension RestoreCommand {
    /// `restore --from-vault NAME VM SNAP`: the catalog is created when missing (a new host).
    func restoreFromVault(_ vault: String) throws {
        let progress = Output.progressBar(json: global.json)
        let engine = try Context(global).engine(progress: progress, .write)
        var options = VaultRestoreOptions(vault: vault, vm: vm, snapshot: snapshot)
        options.newName = asName
        options.confirm = confirm
        options.diskDirectory = diskDirectory.map { ($0 as NSString).standardizingPath }.map {
            $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0
        }
        options.raw = raw
        options.start = noStart ? .off : (paused ? .paused : .running)
        options.restore.safetySnapshot = !noSafetySnapshot
        options.restore.target = RestoreTarget(rawValue: options.start.rawValue) ?? .running
        let report = try engine.restoreFromVault(options)
        Output.endProgress(progress)
        report.notices.forEach(Output.notice)
        if global.json { Output.json(VaultRestoreJSON(report)); return }
        let what = report.createdVM ? "defined VM" : "restored VM"
        Output.line(
            "\(what) \(report.vm) (\(report.vmUUID)) from '\(report.vaultSnapshot)' in vault \(report.vault): "
                + "\(report.restoredMemory ? "memory and disks" : "disks"), now \(report.finalState)")
        Output.line("local snapshot: '\(report.snapshot)'; disks (\(report.diskFormat)): \(report.disks.joined(separator: ", "))")
        Output.line(
            String(
                format: "wrote %@ in %.2f s (%.0f MB/s); total %.2f s", Output.bytes(report.bytesWritten), report.materializeSeconds,
                Double(report.bytesWritten) / 1e6 / max(report.materializeSeconds, 0.001), report.seconds))
    }
}
