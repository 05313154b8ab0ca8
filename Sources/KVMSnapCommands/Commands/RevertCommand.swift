import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

/// The engine's revert, without the restore pipeline's safety net (that is `restore`).
struct RevertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert", abstract: "Low-level: put a VM back to a snapshot now, discarding its current state (no safety snapshot).",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: "VM name again, to confirm the current state may be lost.") var confirm: String
    @Option(help: "running, paused or off. (default: running)", transform: StartMode.parser("--start")) var start: StartMode = .running

    func run() throws {
        guard confirm == vm else { throw CommandFailure("--confirm must repeat the VM name '\(vm)' exactly", exitCode: 64) }
        let progress = Output.progressBar(json: global.json)
        _ = try Context(global).engine(progress: progress, .existing).revert(vm: vm, to: snapshot, start: start)
        Output.endProgress(progress)
        if !global.json { Output.line("reverted \(vm) to '\(snapshot)'") }
    }
}
