import Foundation
import KVMSnapCommands
import SnapshotCatalog
import TestSupport
import Testing

@testable import SnapshotEngine

/// A snapshot has one JSON model (``SnapshotJSON``) and one encoder (``Output/encode(_:)``);
/// `list --json` streams the same bytes through its own writer for speed. This holds that
/// writer against the model and encoder, byte for byte, on snapshots with labels, pins,
/// expiry, missing values and unicode names. (IntegrationTests' SnapshotJSONTests runs the
/// same check through the built binary.)
@Suite struct SnapshotJSONTests {
    @Test func streamedListEqualsTheModelThroughTheEncoder() throws {
        let infos = SnapshotJSONFixtures.infos(SnapshotJSONFixtures.records(vmUUID: "u"))
        for count in [0, 1, 3, infos.count] {
            let part = Array(infos.prefix(count))
            let streamed = String(decoding: SnapshotJSON.streamedList(part), as: UTF8.self)
            #expect(streamed == (try SnapshotJSONFixtures.encoded(part)), "\(count) snapshots:\n\(streamed)")
        }
    }
}
