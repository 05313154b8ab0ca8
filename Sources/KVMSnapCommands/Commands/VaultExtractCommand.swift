import ArgumentParser
import Foundation
import SnapshotEngine

/// `kvmsnap vault extract NAME VM SNAP --to DIR [--raw]`: a subcommand of `vault`.
struct VaultExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Write a vault snapshot's disks, memory image, NVRAM and domain XML into a directory.",
        discussion: """
            Touches neither libvirt nor the catalog (which only names the vault and its key): for a \
            host without libvirt, to inspect a snapshot, or to compare with borg extract / restic \
            restore. Disks are qcow2 (holes stay unallocated) or, with --raw, sparse raw files. \
            Every chunk is checked; a missing or damaged one is named and nothing is left behind.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var vault: String
    @Argument(help: "VM name or UUID in the vault.") var vm: String
    @Argument(help: "Snapshot name in the vault.") var snapshot: String
    @Option(help: ArgumentHelp("Directory to write into (created if missing).", valueName: "DIR")) var to: String
    @Flag(help: "Raw disk images instead of qcow2.") var raw = false

    func run() throws {
        let directory = (to.hasPrefix("/") ? to : FileManager.default.currentDirectoryPath + "/" + to)
        let progress = Output.progressBar(json: global.json)
        let catalog = try Context(global, localOnly: false).readingCatalog()
        let report = try VaultExtraction.extract(
            catalog: catalog, store: StoreLayout(root: global.resolvedStore), vault: vault, vm: vm, snapshot: snapshot,
            to: (directory as NSString).standardizingPath, raw: raw, progress: progress)
        Output.endProgress(progress)
        if global.json { Output.json(VaultExtractJSON(report)); return }
        Output.line(
            String(
                format: "extracted '%@' of %@ from vault %@ into %@: %@ in %.2f s (%.0f MB/s)", report.snapshot, report.vm, report.vault,
                report.directory, Output.bytes(report.bytesWritten), report.seconds,
                Double(report.bytesWritten) / 1e6 / max(report.seconds, 0.001)))
    }
}
