import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct VerifiedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verified",
        abstract: "Mark a snapshot verified: unpin it and let it expire after a grace period.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: ArgumentHelp("Keep it this long from now before prune may delete it (36h, 14d, 2w).", valueName: "D")) var grace = "14d"

    func run() throws {
        let duration = try RetentionDuration(parsing: grace)
        let engine = try Context(global).engine(.existing)
        let expiresAt = engine.clock.now().addingTimeInterval(TimeInterval(duration.seconds))
        try engine.edit(vm: vm, snapshot: snapshot, description: nil, expiresAt: .some(expiresAt), pinned: false)
        if global.json { Output.json(SnapshotJSON(try engine.snapshot(vm: vm, name: snapshot))); return }
        Output.line("'\(snapshot)' verified: unpinned, expires \(Output.localTime(expiresAt))")
    }
}
