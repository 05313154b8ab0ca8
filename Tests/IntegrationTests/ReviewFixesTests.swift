import Foundation
import SnapshotEngine
import Testing

/// Bugs found reviewing the merged issue 10 work: the siblings the items' own tests missed.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct ReviewFixesTests {
    /// Item 19 sibling: `retention simulate` streams its table without `Output.table`, so the
    /// names from the timeline file reached the terminal raw (ESC sequences, forged rows).
    @Test func simulateEscapesTimelineNamesInItsTable() throws {
        let dir = try Hardening.tempDir("simulate-escape")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let timeline = dir + "/t.json"
        try #"[{"name": "a\u001b[31mred\nforged   2020-01-01 00:00:00  keep", "createdAt": "2020-01-01T00:00:00Z"}, {"name": "b", "createdAt": "2020-01-02T00:00:00Z"}]"#
            .write(toFile: timeline, atomically: true, encoding: .utf8)
        let result = try CLI.runBare(["retention", "simulate", "--timeline", timeline, "--keep-last", "1", "--now", "2024-06-15T12:00:00Z"],
                                     environment: ["TZ": "UTC"], timeout: 30)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("\u{1B}"), "ESC reached the terminal: \(result.stdout.debugDescription)")
        #expect(!result.stdout.split(separator: "\n").contains { $0.hasPrefix("forged") }, "a newline in a name forged a row")
        #expect(result.stdout.contains(#"a\e[31mred\nforged"#), "\(result.stdout)")
    }
}
