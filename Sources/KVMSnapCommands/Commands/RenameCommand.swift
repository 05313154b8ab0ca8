import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct RenameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a snapshot.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Argument(help: "New snapshot name.") var newName: String

    func run() throws {
        try SnapshotEngine.validateName(newName)
        try Context(global).engine(.existing).rename(vm: vm, snapshot: snapshot, to: newName)
        if !global.json { Output.line("renamed '\(snapshot)' to '\(newName)'") }
    }
}
