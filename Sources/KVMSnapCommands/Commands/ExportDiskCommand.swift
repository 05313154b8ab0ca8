import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct ExportDiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export-disk", abstract: "Write one disk as it was at a snapshot to a standalone image.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: "Disk target, e.g. vda.") var disk: String
    @Option(help: "Destination path (must not exist).") var to: String
    @Option(help: "qcow2 or raw. (default: qcow2)", transform: DiskImageFormat.parser("--format")) var format: DiskImageFormat = .qcow2

    func run() throws {
        let progress = Output.progressBar(json: global.json)
        try Context(global).engine(progress: progress, .existing).exportDisk(vm: vm, snapshot: snapshot, disk: disk, to: to, format: format.rawValue)
        Output.endProgress(progress)
        if !global.json { Output.line("wrote \(disk) of '\(snapshot)' to \(to) (\(format.rawValue))") }
    }
}
