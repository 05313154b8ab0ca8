import Foundation
import GRDB

extension Catalog {
    /// Issue 6 part B: which scheduled slot each VM last ran (`run-due`).
    static func registerScheduleMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-schedule-state") { db in
            try db.create(table: "scheduleState") { t in
                t.primaryKey("vmUUID", .text).references("vm", onDelete: .cascade)
                t.column("lastSlot", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
        }
    }
}

/// The latest schedule slot `run-due` took a snapshot for (or found one already taken), per VM.
public struct ScheduleStateRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "scheduleState"
    public var vmUUID: String
    public var lastSlot: Date
    public var updatedAt: Date
    public init(vmUUID: String, lastSlot: Date, updatedAt: Date) {
        self.vmUUID = vmUUID; self.lastSlot = lastSlot; self.updatedAt = updatedAt
    }
}

extension CatalogAccess {
    public func scheduleState(vmUUID: String) throws -> ScheduleStateRecord? { try ScheduleStateRecord.fetchOne(db, key: vmUUID) }
    public func save(_ state: ScheduleStateRecord) throws { try state.save(db) }

    /// How many jobs of each kind are recorded as failed in the journal.
    public func failedJobCounts() throws -> [String: Int] {
        let rows = try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM job WHERE state = ? GROUP BY kind", arguments: [JobState.failed.rawValue])
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["kind"] as String, $0["n"] as Int) })
    }
}
