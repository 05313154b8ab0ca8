import ArgumentParser
import Foundation
import Libvirt
import SnapshotEngine

struct VMsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vms", abstract: "List the VMs on the connection, with snapshot counts and usage.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let context = try Context(global, localOnly: false)  // listing works over any connection
        // Counts come from the catalog when it can be opened; listing VMs never needs it.
        let rows = try VMJSON.all(connection: context.connection, engine: try? context.engine(.read))
        if global.json { Output.json(rows); return }
        Output.table(
            ["NAME", "UUID", "STATE", "SNAPSHOTS", "USAGE"],
            rows.map { [$0.name, $0.uuid, $0.state, "\($0.snapshots)", Output.bytes($0.snapshotBytes)] })
    }
}
