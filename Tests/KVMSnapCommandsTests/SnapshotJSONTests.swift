import Foundation
import Testing
import KVMSnapCommands
import SnapshotCatalog
@testable import SnapshotEngine

/// A snapshot has one JSON model (``SnapshotJSON``) and one encoder (``Output/encode(_:)``);
/// `list --json` streams the same bytes through its own writer for speed. This holds that
/// writer against the model and encoder, byte for byte, on snapshots with labels, pins,
/// expiry, missing values and unicode names. (IntegrationTests' SnapshotJSONTests runs the
/// same check through the built binary.)
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

    @Test func streamedListEqualsTheModelThroughTheEncoder() throws {
        let infos = Self.infos(Self.records(vmUUID: "u"))
        for count in [0, 1, 3, infos.count] {
            let part = Array(infos.prefix(count))
            let streamed = String(decoding: SnapshotJSON.streamedList(part), as: UTF8.self)
            #expect(streamed == (try Self.encoded(part)), "\(count) snapshots:\n\(streamed)")
        }
    }
}
