import ArgumentParser
import Foundation
import Libvirt
import SnapshotEngine

struct VMsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vms", abstract: "List the VMs on the connection, with snapshot counts and usage.")

    @OptionGroup var global: GlobalOptions

    struct Row: Encodable {
        var name: String
        var uuid: String
        var state: String
        var snapshots: Int
        var snapshotBytes: Int64
    }

    func run() throws {
        let context = try Context(global, localOnly: false)  // listing works over any connection
        let domains = try context.connection.allDomains()
        // Counts come from the catalog when it can be opened; listing VMs never needs it.
        let engine = try? context.engine(.read)
        let usage = Dictionary(((try? engine?.usage(vm: nil)) ?? []).map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        for domain in domains {
            let uuid = try domain.uuidString
            let state = (try? domain.state().state).map { "\($0)" } ?? "unknown"
            let u = usage[uuid]
            rows.append(Row(name: domain.name, uuid: uuid, state: state, snapshots: u?.snapshots ?? 0, snapshotBytes: u?.totalBytes ?? 0))
        }
        rows.sort { $0.name < $1.name }
        if global.json { Output.json(rows); return }
        Output.table(
            ["NAME", "UUID", "STATE", "SNAPSHOTS", "USAGE"],
            rows.map { [$0.name, $0.uuid, $0.state, "\($0.snapshots)", Output.bytes($0.snapshotBytes)] })
    }
}
