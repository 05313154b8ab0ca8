import Foundation
import KVMSnapCommands
import SnapshotCatalog
import TestSupport
import Testing

@testable import SnapshotEngine

/// A snapshot has one JSON model (``SnapshotJSON``) and one encoder (``Output/encode(_:)``);
/// `list --json` streams the same bytes through its own writer for speed. These hold that
/// writer against the model and encoder, byte for byte, on snapshots with labels, pins,
/// expiry, missing values and unicode names. Needs no QEMU (the VM exists only in the catalog,
/// listed over test:///default).
@Suite struct SnapshotJSONTests {
    @Test func listJSONPrintsTheModelThroughTheEncoder() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-snapjson-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalogPath = dir + "/catalog.sqlite"
        let catalog = try Catalog(path: catalogPath)
        let uuid = UUID().uuidString.lowercased()
        let records = SnapshotJSONFixtures.records(vmUUID: uuid)
        try catalog.write { db in
            try db.save(VMRecord(uuid: uuid, name: "json-vm", createdAt: SnapshotJSONFixtures.t0))
            for record in records { try db.insert(record) }
        }
        let listed = try CLI.runBare(["list", "json-vm", "--json", "--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let stored = try catalog.read { try $0.snapshots(vmUUID: uuid) }
        #expect(stored.map(\.name) == records.map(\.name))
        #expect(listed.stdout == (try SnapshotJSONFixtures.encoded(SnapshotJSONFixtures.infos(stored))))
        // show --json prints the same model (with its layers) through the same encoder.
        let shown = try CLI.runBare([
            "show", "json-vm", "e\u{301}cole", "--json", "--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store",
        ])
        #expect(shown.status == 0, "\(shown.stderr)")
        let info = try #require(SnapshotJSONFixtures.infos(stored).first { $0.record.name == "e\u{301}cole" })
        #expect(shown.stdout == String(decoding: try Output.encode(SnapshotJSON(info, withLayers: true)), as: UTF8.self) + "\n")
    }
}
