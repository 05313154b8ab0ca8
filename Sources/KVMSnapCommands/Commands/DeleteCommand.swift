import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a snapshot; never changes what any other snapshot restores.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let progress = Output.progressBar(json: global.json)
        let engine = try Context(global).engine(progress: progress, .existing)
        let info = try engine.snapshot(vm: vm, name: snapshot)
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CommandFailure("refusing to delete without --yes: stdin is not a terminal", exitCode: 64)
            }
            print(
                TerminalText.escape("Delete snapshot '\(info.record.name)' of \(vm) (created \(Output.localTime(info.record.createdAt)))? [y/N] "),
                terminator: "")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                throw CommandFailure("not deleted", exitCode: 1)
            }
        }
        try engine.deleteSnapshot(vm: vm, name: snapshot)
        Output.endProgress(progress)
        if !global.json { Output.line("deleted '\(snapshot)'") }
    }
}
