import ArgumentParser
import Foundation
import SnapshotEngine

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a VM's snapshots as a tree (or JSON).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String

    func run() throws {
        let engine = try Context(global).engine(.read)
        if global.json {
            try Output.jsonSnapshots { (emit) throws(EngineError) in try engine.forEachSnapshotSummary(vm: vm, emit) }
            return
        }
        let (_, infos) = try engine.snapshotSummaries(vm: vm)  // no configXML/layers: not shown
        if infos.isEmpty { Output.line("no snapshots"); return }
        // Tree order: depth-first from the roots, oldest first; indentation shows the parent.
        // (A set for the parent check and an explicit stack: long chains neither take quadratic
        // time nor overflow the stack.)
        let ids = Set(infos.map(\.record.id))
        var children: [String?: [SnapshotInfo]] = [:]
        for info in infos { children[info.record.parentID.flatMap { ids.contains($0) ? $0 : nil }, default: []].append(info) }
        var rows: [[String]] = []
        var stack: [(SnapshotInfo, Int)] = (children[nil] ?? []).reversed().map { ($0, 0) }
        while let (info, depth) = stack.popLast() {
            let r = info.record
            rows.append([
                String(repeating: "  ", count: depth) + r.name, r.kind.rawValue, info.parentName ?? "-",
                Output.localTime(r.createdAt), Output.bytes(r.diskBytes + r.memoryBytes),
                r.hasMemory ? "yes" : "no", r.pinned ? "yes" : "", r.expiresAt.map(Output.localTime) ?? "",
                r.state.rawValue, r.description,
            ])
            stack.append(contentsOf: (children[r.id] ?? []).reversed().map { ($0, depth + 1) })
        }
        Output.table(["NAME", "KIND", "PARENT", "CREATED", "SIZE", "MEMORY", "PINNED", "EXPIRES", "STATE", "DESCRIPTION"], rows)
    }
}
