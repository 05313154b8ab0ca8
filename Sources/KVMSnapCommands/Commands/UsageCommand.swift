import ArgumentParser
import Foundation
import SnapshotEngine

struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Bytes used per VM and in total: memory files, disk layers, shared vs. exclusive.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID (default: all VMs in the catalog).") var vm: String?

    func run() throws {
        let usage = try Context(global).engine(.read).usage(vm: vm)
        let total = usage.reduce(0) { $0 + $1.totalBytes }
        if global.json { Output.json(UsageJSON(usage)); return }
        var rows = usage.map { u in
            [
                u.vm, "\(u.snapshots)", Output.bytes(u.memoryBytes), Output.bytes(u.layerBytes), Output.bytes(u.sharedBytes),
                Output.bytes(u.exclusiveBytes), Output.bytes(u.totalBytes),
            ]
        }
        rows.append(["TOTAL", "\(usage.reduce(0) { $0 + $1.snapshots })", "", "", "", "", Output.bytes(total)])
        Output.table(["VM", "SNAPSHOTS", "MEMORY", "LAYERS", "SHARED", "EXCLUSIVE", "TOTAL"], rows)
    }
}
