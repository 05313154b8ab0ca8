import Foundation
import Libvirt
import SnapshotEngine

/// The JSON shape of a VM of the connection (`vms --json`, `GET /api/v1/vms`).
struct VMJSON: Encodable {
    var name: String
    var uuid: String
    var state: String
    var snapshots: Int
    var snapshotBytes: Int64

    /// Every VM on `connection`, by name; counts and usage from `engine`'s catalog when there is one.
    static func all(connection: Connection, engine: SnapshotEngine?) throws -> [VMJSON] {
        let domains = try connection.allDomains()
        let usage = Dictionary(((try? engine?.usage(vm: nil)) ?? []).map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [VMJSON] = []
        for domain in domains {
            let uuid = try domain.uuidString
            let state = (try? domain.state().state).map { "\($0)" } ?? "unknown"
            let u = usage[uuid]
            rows.append(VMJSON(name: domain.name, uuid: uuid, state: state, snapshots: u?.snapshots ?? 0, snapshotBytes: u?.totalBytes ?? 0))
        }
        return rows.sorted { $0.name < $1.name }
    }
}
