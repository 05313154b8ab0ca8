import Foundation
import GRDB
import KVMSnapCore

extension Catalog {
    /// Issue 15: the reports of restore drills (`kvmsnap drill`).
    static func registerDrillMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-drill") { db in
            // No foreign key to `snapshot` or `vm`: a report stays after the snapshot is pruned.
            try db.create(table: "drill") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("vmUUID", .text).notNull()
                t.column("vmName", .text).notNull()
                t.column("snapshotID", .text).notNull()
                t.column("snapshotName", .text).notNull()
                t.column("clone", .text).notNull()
                t.column("jobID", .integer)
                t.column("startedAt", .datetime).notNull()
                t.column("endedAt", .datetime).notNull()
                t.column("passed", .boolean).notNull()
                t.column("recoverySeconds", .double)
                t.column("checks", .text).notNull()
                t.column("screenshot", .text)
                t.column("error", .text)
                t.column("markedVerified", .boolean).notNull().defaults(to: false)
                t.column("keptClone", .boolean).notNull().defaults(to: false)
                t.column("vault", .text)
            }
            try db.create(index: "drill_by_vm", on: "drill", columns: ["vmUUID", "startedAt"])
            try db.create(table: "drillScheduleState") { t in
                t.primaryKey("vmUUID", .text).references("vm", onDelete: .cascade)
                t.column("lastSlot", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
        }
    }
}

/// The report of one restore drill: the snapshot used, each check, the measured recovery time
/// (start to the last passing check; nil when a check failed) and the screenshot kept with it.
public struct DrillRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "drill"
    public var id: Int64?
    public var vmUUID: String
    public var vmName: String
    public var snapshotID: String
    public var snapshotName: String
    /// The throwaway clone's domain name (`drill-<vm>-<stamp>`).
    public var clone: String
    public var jobID: Int64?
    public var startedAt: Date
    public var endedAt: Date
    public var passed: Bool
    public var recoverySeconds: Double?
    /// ``DrillCheck`` values as a JSON array.
    public var checks: String
    public var screenshot: String?
    /// Why the drill could not run its checks (the clone could not be built or started), if so.
    public var error: String?
    /// `--mark-verified` took effect (the snapshot was pinned until verified and now is not).
    public var markedVerified: Bool
    /// `--keep-on-failure` left the clone defined for inspection.
    public var keptClone: Bool
    /// The vault the snapshot's disks were rebuilt from (`--from-vault`); nil: a local snapshot.
    public var vault: String?

    public init(
        vmUUID: String, vmName: String, snapshotID: String, snapshotName: String, clone: String, jobID: Int64?,
        startedAt: Date, endedAt: Date, passed: Bool, recoverySeconds: Double?, checks: [DrillCheck], screenshot: String?, error: String?
    ) {
        self.vmUUID = vmUUID; self.vmName = vmName; self.snapshotID = snapshotID; self.snapshotName = snapshotName
        self.clone = clone; self.jobID = jobID; self.startedAt = startedAt; self.endedAt = endedAt; self.passed = passed
        self.recoverySeconds = recoverySeconds; self.screenshot = screenshot; self.error = error
        self.checks = String(decoding: (try? JSONEncoder().encode(checks)) ?? Data("[]".utf8), as: UTF8.self)
        self.markedVerified = false; self.keptClone = false; self.vault = nil
    }

    /// The checks, decoded (empty when the stored text does not decode).
    public var checkResults: [DrillCheck] { (try? JSONDecoder().decode([DrillCheck].self, from: Data(checks.utf8))) ?? [] }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// The latest drill slot `run-due` handled, per VM (`policy set --drill CRON`).
public struct DrillScheduleStateRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "drillScheduleState"
    public var vmUUID: String
    public var lastSlot: Date
    public var updatedAt: Date
    public init(vmUUID: String, lastSlot: Date, updatedAt: Date) {
        self.vmUUID = vmUUID; self.lastSlot = lastSlot; self.updatedAt = updatedAt
    }
}

extension CatalogAccess {
    public func drillScheduleState(vmUUID: String) throws -> DrillScheduleStateRecord? { try DrillScheduleStateRecord.fetchOne(db, key: vmUUID) }
    public func save(_ state: DrillScheduleStateRecord) throws { try state.save(db) }

    public func insert(_ drill: inout DrillRecord) throws { try drill.insert(db) }

    /// Drill reports, newest first, of one VM or all.
    public func drills(vmUUID: String? = nil, limit: Int = 100) throws -> [DrillRecord] {
        var request = DrillRecord.order(Column("startedAt").desc, Column("id").desc)
        if let vmUUID { request = request.filter(Column("vmUUID") == vmUUID) }
        return try request.limit(limit).fetchAll(db)
    }

    /// Drill reports recorded after report `id` (all when nil), oldest first: what an alert
    /// sender has not seen yet (it keeps the last id it handled and emits drill-passed /
    /// drill-failed for each).
    public func drills(after id: Int64?) throws -> [DrillRecord] {
        try DrillRecord.filter(Column("id") > (id ?? 0)).order(Column("id")).fetchAll(db)
    }

    /// Per VM, the newest passing drill: the metrics' last-success time and recovery seconds.
    public func latestPassedDrills() throws -> [DrillRecord] {
        try DrillRecord.fetchAll(
            db,
            sql: """
                SELECT * FROM drill WHERE id IN (
                    SELECT id FROM drill d WHERE passed = 1 AND endedAt = (
                        SELECT MAX(endedAt) FROM drill WHERE vmUUID = d.vmUUID AND passed = 1))
                ORDER BY vmName
                """)
    }
}
