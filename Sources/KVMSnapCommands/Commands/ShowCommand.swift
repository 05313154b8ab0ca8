import ArgumentParser
import Foundation
import SnapshotEngine

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one snapshot in detail.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String

    func run() throws {
        let engine = try Context(global).engine(.read)
        let info = try engine.snapshot(vm: vm, name: snapshot)
        if global.json { Output.json(SnapshotJSON(info, withLayers: true)); return }
        let r = info.record
        var rows: [[String]] = [
            ["name", r.name], ["id", r.id], ["kind", r.kind.rawValue], ["parent", info.parentName ?? "-"],
            ["created", Output.localTime(r.createdAt)], ["state", r.state.rawValue], ["description", r.description],
            ["memory", r.hasMemory ? Output.bytes(r.memoryBytes) : "no"], ["disk bytes", Output.bytes(r.diskBytes)],
            ["pinned", r.pinned ? "yes" : "no"], ["expires", r.expiresAt.map(Output.localTime) ?? "never"],
            ["guest pause", r.guestPauseMs.map { "\($0) ms" } ?? "-"], ["labels", r.labels.joined(separator: ", ")],
        ]
        for (disk, path) in info.layers.sorted(by: { $0.key < $1.key }) { rows.append(["disk \(disk)", path]) }
        Output.table(["FIELD", "VALUE"], rows)
    }
}
