import Foundation
import KVMSnapCommands
import SnapshotCatalog
@testable import SnapshotEngine

/// Snapshots for the `list --json` byte-for-byte checks (KVMSnapCommandsTests' and
/// IntegrationTests' SnapshotJSONTests), with the model-through-the-encoder reference output.
public enum SnapshotJSONFixtures {
    public static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    /// Snapshots with every optional field both set and unset, and names a writer could get wrong.
    public static func records(vmUUID: String) -> [SnapshotRecord] {
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

    public static func infos(_ records: [SnapshotRecord]) -> [SnapshotInfo] {
        let names = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.name) })
        return records.map { SnapshotInfo(record: $0, parentName: $0.parentID.flatMap { names[$0] }, layers: [:]) }
    }

    public static func encoded(_ infos: [SnapshotInfo]) throws -> String {
        String(decoding: try Output.encode(infos.map { SnapshotJSON($0) }), as: UTF8.self) + "\n"
    }
}
