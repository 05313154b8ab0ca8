import Foundation
import KVMSnapCommands
import SnapshotCatalog
import Testing

@testable import SnapshotEngine

/// `list --json` streams its output with a hand-written writer (100,000 snapshots in well under
/// a second). It must print exactly what JSONEncoder prints for the same objects, and name
/// every parent right, including branches and a parent listed after its child.
/// Needs no QEMU: the VM exists only in the catalog, listed over test:///default.
@Suite struct ListJSONTests {
    @Test func streamedListIsByteForByteJSONEncodersOutputWithEveryParentNamed() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-listjson-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalogPath = dir + "/catalog.sqlite"
        let catalog = try Catalog(path: catalogPath)
        let uuid = UUID().uuidString.lowercased()
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        func at(_ minutes: Double) -> Date { t0.addingTimeInterval(minutes * 60) }
        // root ─ a ─ b        (a chain: each parent listed just before)
        //     └ c ─ d        (a branch after a restore: c's parent is not the previous row)
        // late: parent d, but created "before" root (the clock was set back): listed first.
        let rows: [(id: String, name: String, parent: String?, at: Date)] = [
            ("s-root", "root", nil, at(0)), ("s-a", "a", "s-root", at(1)), ("s-b", "b", "s-a", at(2)),
            ("s-c", "c", "s-root", at(3)), ("s-d", "d", "s-c", at(4)), ("s-late", "late", "s-d", at(-60)),
        ]
        try catalog.write { db in
            try db.save(VMRecord(uuid: uuid, name: "listjson-vm", createdAt: t0))
            for (i, row) in rows.enumerated() {
                try db.insert(
                    SnapshotRecord(
                        id: row.id, vmUUID: uuid, name: row.name,
                        description: i == 1 ? "quote \" backslash \\ slash / tab \t newline \n ctrl \u{01} Grüße ✓" : "d\(i)",
                        kind: row.parent == nil ? .full : .incremental, parentID: row.parent, createdAt: row.at,
                        state: .ready, hasMemory: i % 2 == 0, memoryBytes: Int64(i) * 1_000_000_007, diskBytes: Int64(i) << 33,
                        configXML: "<domain/>", pinned: i == 2, expiresAt: i == 3 ? at(60 * 24 * 14) : nil,
                        labels: i == 4 ? ["x", "y/z \"q\""] : [], guestPauseMs: i == 5 ? nil : Int64(i * 7)))
            }
        }
        let result = try CLI.runBare([
            "list", "listjson-vm", "--json", "--connect", "test:///default",
            "--catalog", catalogPath, "--store", dir + "/store",
        ])
        #expect(result.status == 0, "\(result.stderr)")

        // What JSONEncoder prints for the same snapshots, oldest first, parents by name.
        let names = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.name) })
        let records = try catalog.read { try $0.snapshots(vmUUID: uuid) }
        #expect(records.map(\.name) == ["late", "root", "a", "b", "c", "d"])
        let expected = records.map { SnapshotJSON(SnapshotInfo(record: $0, parentName: $0.parentID.flatMap { names[$0] }, layers: [:])) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Output.isoUTC(date))
        }
        let expectedText = String(decoding: try encoder.encode(expected), as: UTF8.self) + "\n"
        #expect(result.stdout == expectedText)
        let parents = (result.json as? [[String: Any]])?.map { ($0["name"] as? String ?? "?", $0["parent"] as? String ?? "-") }
        #expect(parents?.map { "\($0.0)<\($0.1)" } == ["late<d", "root<-", "a<root", "b<a", "c<root", "d<c"])

        // No snapshots: an empty array, as JSONEncoder prints it.
        try catalog.write { db in for row in rows { try db.deleteSnapshot(id: row.id) } }
        let empty = try CLI.runBare([
            "list", "listjson-vm", "--json", "--connect", "test:///default",
            "--catalog", catalogPath, "--store", dir + "/store",
        ])
        let emptyText = String(decoding: try encoder.encode([SnapshotJSON]()), as: UTF8.self) + "\n"
        #expect(empty.status == 0 && empty.stdout == emptyText, "\(empty.stdout.debugDescription)")
    }
}
