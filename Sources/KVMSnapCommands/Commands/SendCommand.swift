import ArgumentParser
import Foundation
import SnapshotEngine

struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Copy a ready snapshot (memory, every disk, config, NVRAM) into a vault.",
        discussion: """
            Incremental to the newest earlier send of the VM that both this host and the vault still \
            hold, when its disks are ancestors of this snapshot's: only the chunks the layers in \
            between touch are read. Otherwise everything is read, and the output says why. A send \
            killed at any point leaves the vault consistent; sending the same snapshot again \
            resumes and reads only what is missing.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: ArgumentHelp("The vault (see vault list).", valueName: "NAME")) var to: String

    func run() throws {
        let progress = Output.progressBar(json: global.json)
        let report = try Context(global).engine(progress: progress, .existing).send(vm: vm, snapshot: snapshot, to: to)
        Output.endProgress(progress)
        if global.json { Output.json(SendJSON(report: report)); return }
        let how = report.baseSnapshot.map { "incremental to \($0)" } ?? "full read: \(report.fullReadReason ?? "no base")"
        Output.line("sent \(report.vm)/\(report.snapshot) to \(report.vault) (\(how)\(report.resumed ? ", resumed" : ""))")
        Output.line(
            "read \(Output.bytes(report.bytesRead)), stored \(Output.bytes(report.bytesStored)) new "
                + "(\(report.chunksNew) new chunks, \(report.chunksReused) reused) of \(Output.bytes(report.logicalBytes)) "
                + "in \(String(format: "%.1f", report.seconds)) s")
    }
}
