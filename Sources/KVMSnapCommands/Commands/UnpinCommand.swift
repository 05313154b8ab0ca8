import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct UnpinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpin", abstract: "Unpin a snapshot without a grace period (prune decides from now on).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String

    func run() throws {
        let engine = try Context(global).engine(.existing)
        try engine.edit(vm: vm, snapshot: snapshot, description: nil, expiresAt: nil, pinned: false)
        if global.json { Output.json(SnapshotJSON(try engine.snapshot(vm: vm, name: snapshot))); return }
        Output.line("unpinned '\(snapshot)'")
    }
}
