import Foundation
import SnapshotCatalog
import Testing

/// Issue 10, item 9 at the catalog layer: a row nobody can read (here an unreadable date) is
/// one short error naming the table, the column and the row.
@Suite struct CatalogBoundsTests {
    /// Runs one statement with the sqlite3 tool (not through kvmsnap's catalog code).
    static func sql(_ path: String, _ statement: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path, statement]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ToolFailed(status: process.terminationStatus) }
    }
    struct ToolFailed: Error { var status: Int32 }

    @Test func anUnreadableRowOfAnyTableIsOneShortErrorNamingIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-rows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("catalog.sqlite").path
        let catalog = try Catalog(path: path)
        var hook = HookRecord(phase: "post-snapshot", vm: nil, command: [String(repeating: "c", count: 5000)], timeoutSeconds: 60, createdAt: Date())
        try catalog.write { try $0.insert(&hook) }
        try Self.sql(path, "UPDATE hook SET createdAt = '\(String(repeating: "x", count: 5000))'")
        do {
            _ = try catalog.read { try $0.hooks() }
            Issue.record("the unreadable row was read")
        } catch {
            #expect(error.message.utf8.count < 400 && !error.message.contains("\n"), "\(error.message.utf8.count) bytes: \(error.message.prefix(500))")
            #expect(error.message.contains("table hook") && error.message.contains("createdAt") && error.message.contains("row id:1"), "\(error.message)")
        }
    }
}
