import ArgumentParser
import Foundation
import SnapshotEngine

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a VM's snapshots as a tree (or JSON).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String

    func run() throws {
        let engine = try Context(global).engine()
        let (_, infos) = try engine.snapshots(vm: vm)
        if global.json { Output.json(infos.map { SnapshotJSON($0) }); return }
        if infos.isEmpty { Output.line("no snapshots"); return }
        // Tree order: depth-first from the roots, oldest first; indentation shows the parent.
        var children: [String?: [SnapshotInfo]] = [:]
        for info in infos { children[info.record.parentID.flatMap { id in infos.contains { $0.record.id == id } ? id : nil }, default: []].append(info) }
        var rows: [[String]] = []
        func walk(_ parent: String?, depth: Int) {
            for info in children[parent] ?? [] {
                let r = info.record
                rows.append([
                    String(repeating: "  ", count: depth) + r.name, r.kind.rawValue, info.parentName ?? "-",
                    Output.localTime(r.createdAt), Output.bytes(r.diskBytes + r.memoryBytes),
                    r.hasMemory ? "yes" : "no", r.pinned ? "yes" : "", r.expiresAt.map(Output.localTime) ?? "",
                    r.state.rawValue, r.description,
                ])
                walk(r.id, depth: depth + 1)
            }
        }
        walk(nil, depth: 0)
        Output.table(["NAME", "KIND", "PARENT", "CREATED", "SIZE", "MEMORY", "PINNED", "EXPIRES", "STATE", "DESCRIPTION"], rows)
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one snapshot in detail.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String

    func run() throws {
        let engine = try Context(global).engine()
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
