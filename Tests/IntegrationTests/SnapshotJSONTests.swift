import Foundation
import Testing
import KVMSnapCommands
import SnapshotCatalog
@testable import SnapshotEngine

/// A snapshot has one JSON model (``SnapshotJSON``) and one encoder (``Output/encode(_:)``);
/// `list --json` streams the same bytes through its own writer for speed. These hold that
/// writer against the model and encoder, byte for byte, on snapshots with labels, pins,
/// expiry, missing values and unicode names. Needs no QEMU (the VM exists only in the catalog,
/// listed over test:///default).
@Suite struct SnapshotJSONTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    /// Snapshots with every optional field both set and unset, and names a writer could get wrong.
    static func records(vmUUID: String) -> [SnapshotRecord] {
        let names = ["名前", "🙂 smile", "e\u{301}cole", "\u{202E}gnp.exe", "line\u{2028}sep\u{2029}", "del\u{7F}x", "plain-1"]
        return names.enumerated().map { i, name in
            SnapshotRecord(
                id: "s-\(i)", vmUUID: vmUUID, name: name,
                description: i == 0 ? "" : "Grüße \"q\" \\ / \t\n\u{01} ✓ #\(i)",
                kind: i == 0 ? .full : .incremental, parentID: i == 0 ? nil : "s-\(i - 1)",
                createdAt: t0.addingTimeInterval(Double(i) * 3600 + 0.75), state: i == 6 ? .failed : .ready,
                hasMemory: i % 2 == 0, memoryBytes: i % 2 == 0 ? Int64(i) * 1_000_000_007 : 0, diskBytes: Int64(i) << 33,
                configXML: "<domain/>", pinned: i % 3 == 0, expiresAt: i % 2 == 1 ? t0.addingTimeInterval(Double(i) * 86_400) : nil,
                labels: i == 1 ? ["before-change"] : (i == 2 ? ["a/b", "ünï", "q\"uote"] : []),
                guestPauseMs: i == 3 ? nil : Int64(i * 11))
        }
    }

    static func infos(_ records: [SnapshotRecord]) -> [SnapshotInfo] {
        let names = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.name) })
        return records.map { SnapshotInfo(record: $0, parentName: $0.parentID.flatMap { names[$0] }, layers: [:]) }
    }

    static func encoded(_ infos: [SnapshotInfo]) throws -> String {
        String(decoding: try Output.encode(infos.map { SnapshotJSON($0) }), as: UTF8.self) + "\n"
    }

    @Test func listJSONPrintsTheModelThroughTheEncoder() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-snapjson-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalogPath = dir + "/catalog.sqlite"
        let catalog = try Catalog(path: catalogPath)
        let uuid = UUID().uuidString.lowercased()
        let records = Self.records(vmUUID: uuid)
        try catalog.write { db in
            try db.save(VMRecord(uuid: uuid, name: "json-vm", createdAt: Self.t0))
            for record in records { try db.insert(record) }
        }
        let listed = try CLI.runBare(["list", "json-vm", "--json", "--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let stored = try catalog.read { try $0.snapshots(vmUUID: uuid) }
        #expect(stored.map(\.name) == records.map(\.name))
        #expect(listed.stdout == (try Self.encoded(Self.infos(stored))))
        // show --json prints the same model (with its layers) through the same encoder.
        let shown = try CLI.runBare(["show", "json-vm", "e\u{301}cole", "--json", "--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let info = try #require(Self.infos(stored).first { $0.record.name == "e\u{301}cole" })
        #expect(shown.stdout == String(decoding: try Output.encode(SnapshotJSON(info, withLayers: true)), as: UTF8.self) + "\n")
    }
}
