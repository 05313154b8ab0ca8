import Foundation
import SnapshotEngine
import Testing

/// A VM's stored policy (retention, schedule, full-every) as JSON.
@Suite struct SnapshotPolicyTests {
    @Test func policyJSONWithoutAScheduleStillReadsAndAScheduleRoundTrips() throws {
        let old = try JSONDecoder().decode(SnapshotPolicy.self, from: Data(#"{"keepLast":5,"fullEvery":14}"#.utf8))
        #expect(old.schedule == nil && old.retention.keepLast == 5 && old.fullEvery == 14)
        let policy = SnapshotPolicy(retention: .init(keepLast: 2), schedule: "0 3 * * *")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(policy), as: UTF8.self)
        #expect(text.contains(#""schedule":"0 3 * * *""#), "\(text)")
        #expect(try JSONDecoder().decode(SnapshotPolicy.self, from: Data(text.utf8)) == policy)
        #expect(throws: EngineError.self) { try SnapshotPolicy(retention: .init(keepLast: 2), schedule: "0 3 * *").validate() }
    }
}
