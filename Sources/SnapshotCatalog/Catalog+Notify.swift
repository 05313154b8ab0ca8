import Foundation
import GRDB

extension Catalog {
    /// Issue 15 (alerts): targets, rules, and the outbox of events and their deliveries.
    /// Secrets are never stored here: a target keeps the path of its 0600 secret file.
    static func registerNotifyMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-notify") { db in
            try db.create(table: "notifyTarget") { t in
                t.primaryKey("name", .text)
                t.column("kind", .text).notNull()
                t.column("endpoint", .text).notNull()
                t.column("mailFrom", .text)
                t.column("mailTo", .text)
                t.column("user", .text)
                t.column("secretFile", .text)
                t.column("startTLS", .boolean).notNull().defaults(to: false)
                t.column("addedAt", .datetime).notNull()
            }
            try db.create(table: "notifyRule") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("target", .text).notNull().references("notifyTarget", onDelete: .cascade)
                t.column("event", .text).notNull()
                t.column("vm", .text)
                t.column("olderThanSeconds", .double)
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "notifyEvent") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("type", .text).notNull()
                t.column("dedupKey", .text).notNull().unique()
                t.column("payload", .text).notNull()
                t.column("recordedAt", .datetime).notNull()
            }
            try db.create(table: "notifyDelivery") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("eventID", .integer).notNull().references("notifyEvent", onDelete: .cascade)
                t.column("target", .text).notNull().references("notifyTarget", onDelete: .cascade)
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("lastError", .text)
                t.column("nextAttemptAt", .datetime)
                t.column("sentAt", .datetime)
                t.column("createdAt", .datetime).notNull()
                t.uniqueKey(["eventID", "target"])
            }
            try db.create(index: "notifyDelivery_due", on: "notifyDelivery", columns: ["state", "nextAttemptAt"])
        }
    }
}

/// Where alerts go (`kvmsnap notify add`). `endpoint` is the URL of an HTTP target or
/// `host:port` of a mail server; `secretFile` the 0600 file with its token or password.
public struct NotifyTargetRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "notifyTarget"
    public var name: String
    /// `webhook`, `ntfy`, `gotify` or `smtp`.
    public var kind: String
    public var endpoint: String
    public var mailFrom: String?
    public var mailTo: String?
    public var user: String?
    public var secretFile: String?
    public var startTLS: Bool
    public var addedAt: Date
    public init(
        name: String, kind: String, endpoint: String, mailFrom: String? = nil, mailTo: String? = nil, user: String? = nil,
        secretFile: String? = nil, startTLS: Bool = false, addedAt: Date
    ) {
        self.name = name; self.kind = kind; self.endpoint = endpoint; self.mailFrom = mailFrom; self.mailTo = mailTo
        self.user = user; self.secretFile = secretFile; self.startTLS = startTLS; self.addedAt = addedAt
    }
}

/// Which events go to a target (`kvmsnap notify rule add`).
public struct NotifyRuleRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "notifyRule"
    public var id: Int64?
    public var target: String
    /// An ``AlertEventType`` raw value.
    public var event: String
    /// VM name or UUID as given; nil for every VM.
    public var vm: String?
    public var olderThanSeconds: Double?
    public var createdAt: Date
    public init(target: String, event: String, vm: String?, olderThanSeconds: Double?, createdAt: Date) {
        self.target = target; self.event = event; self.vm = vm; self.olderThanSeconds = olderThanSeconds; self.createdAt = createdAt
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// An event in the outbox: recorded once (``dedupKey`` is unique) before anything is sent.
public struct NotifyEventRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "notifyEvent"
    public var id: Int64?
    public var type: String
    public var dedupKey: String
    /// The event as JSON (``KVMSnapCore/AlertEvent``): what every delivery renders.
    public var payload: String
    public var recordedAt: Date
    public init(type: String, dedupKey: String, payload: String, recordedAt: Date) {
        self.type = type; self.dedupKey = dedupKey; self.payload = payload; self.recordedAt = recordedAt
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

public enum NotifyDeliveryState: String, Codable, Sendable, CaseIterable {
    /// Not sent yet: due at `nextAttemptAt` (after a failed attempt, with `lastError`).
    case pending
    case sent
    /// Given up after the last retry; kept and shown, never removed silently.
    case failed
}

/// One event to one target.
public struct NotifyDeliveryRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "notifyDelivery"
    public var id: Int64?
    public var eventID: Int64
    public var target: String
    public var state: NotifyDeliveryState
    public var attempts: Int
    public var lastError: String?
    public var nextAttemptAt: Date?
    public var sentAt: Date?
    public var createdAt: Date
    public init(eventID: Int64, target: String, createdAt: Date) {
        self.eventID = eventID; self.target = target; self.state = .pending; self.attempts = 0
        // Due at once by any clock (not at `createdAt`: run-due's --now may lie ahead of the clock
        // of the command that delivers it).
        self.nextAttemptAt = Date(timeIntervalSince1970: 0); self.createdAt = createdAt
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A delivery with its event, as the deliverer and `notify log` read them.
public struct NotifyDeliveryRow: Sendable, Equatable {
    public var delivery: NotifyDeliveryRecord
    public var event: NotifyEventRecord
}

extension CatalogAccess {
    public func notifyTargets() throws -> [NotifyTargetRecord] { try NotifyTargetRecord.order(Column("name")).fetchAll(db) }
    public func notifyTarget(named name: String) throws -> NotifyTargetRecord? { try NotifyTargetRecord.fetchOne(db, key: name) }
    public func insert(_ target: NotifyTargetRecord) throws { try target.insert(db) }
    /// Removes a target with its rules and deliveries.
    @discardableResult public func deleteNotifyTarget(named name: String) throws -> Bool { try NotifyTargetRecord.deleteOne(db, key: name) }

    public func notifyRules() throws -> [NotifyRuleRecord] { try NotifyRuleRecord.order(Column("id")).fetchAll(db) }
    public func insert(_ rule: inout NotifyRuleRecord) throws { try rule.insert(db) }
    @discardableResult public func deleteNotifyRule(id: Int64) throws -> Bool { try NotifyRuleRecord.deleteOne(db, key: id) }

    /// Records `event` for `targets` unless an event with its dedup key exists: true when it was
    /// new. The event and its deliveries are written in the caller's transaction, together.
    public func recordNotifyEvent(_ event: NotifyEventRecord, targets: [String]) throws -> Bool {
        if try NotifyEventRecord.filter(Column("dedupKey") == event.dedupKey).fetchCount(db) > 0 { return false }
        var event = event
        try event.insert(db)
        guard let id = event.id else { return false }
        for target in Set(targets).sorted() {
            var delivery = NotifyDeliveryRecord(eventID: id, target: target, createdAt: event.recordedAt)
            try delivery.insert(db)
        }
        return true
    }

    /// Pending deliveries due at `now` (oldest first), with their events.
    public func dueNotifyDeliveries(now: Date, limit: Int = 100) throws -> [NotifyDeliveryRow] {
        let deliveries = try NotifyDeliveryRecord.filter(Column("state") == NotifyDeliveryState.pending.rawValue)
            .filter(Column("nextAttemptAt") <= now).order(Column("id")).limit(limit).fetchAll(db)
        return try rows(deliveries)
    }

    /// Deliveries, newest first, optionally only those in `states`.
    public func notifyDeliveries(states: [NotifyDeliveryState]? = nil, limit: Int = 200) throws -> [NotifyDeliveryRow] {
        var request = NotifyDeliveryRecord.order(Column("id").desc).limit(limit)
        if let states { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
        return try rows(try request.fetchAll(db))
    }

    public func update(_ delivery: NotifyDeliveryRecord) throws { try delivery.update(db) }

    /// How many deliveries are in each state.
    public func notifyDeliveryCounts() throws -> [NotifyDeliveryState: Int] {
        let rows = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM notifyDelivery GROUP BY state")
        var counts: [NotifyDeliveryState: Int] = [:]
        for row in rows { if let state = NotifyDeliveryState(rawValue: row["state"]) { counts[state] = row["n"] } }
        return counts
    }

    private func rows(_ deliveries: [NotifyDeliveryRecord]) throws -> [NotifyDeliveryRow] {
        let events = try NotifyEventRecord.filter(keys: Set(deliveries.map(\.eventID))).fetchAll(db)
        let byID = Dictionary(uniqueKeysWithValues: events.compactMap { event in event.id.map { ($0, event) } })
        return deliveries.compactMap { delivery in byID[delivery.eventID].map { NotifyDeliveryRow(delivery: delivery, event: $0) } }
    }

    /// The newest ready snapshot of a VM (id, name, time).
    public func newestReadySnapshot(vmUUID: String) throws -> (id: String, name: String, createdAt: Date)? {
        let row = try Row.fetchOne(
            db, sql: "SELECT id, name, createdAt FROM snapshot WHERE vmUUID = ? AND state = 'ready' ORDER BY createdAt DESC LIMIT 1",
            arguments: [vmUUID])
        return row.map { ($0["id"], $0["name"], $0["createdAt"]) }
    }

    /// The newest snapshot of a VM held by any vault: its capture time when the local snapshot
    /// is still recorded, else the time it was sent.
    public func newestVaultSnapshot(vmUUID: String) throws -> (id: String, name: String, createdAt: Date)? {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT vaultSend.snapshotID AS id, vaultSend.snapshotName AS name,
                       COALESCE(snapshot.createdAt, vaultSend.sentAt) AS taken
                FROM vaultSend LEFT JOIN snapshot ON snapshot.id = vaultSend.snapshotID
                WHERE vaultSend.vmUUID = ? ORDER BY taken DESC LIMIT 1
                """, arguments: [vmUUID])
        return row.map { ($0["id"], $0["name"], $0["taken"]) }
    }

    /// True when any vault holds a snapshot of the VM.
    public func hasVaultSends(vmUUID: String) throws -> Bool {
        try VaultSendRecord.filter(Column("vmUUID") == vmUUID).fetchCount(db) > 0
    }
}

extension CatalogAccess {
    public func notifyDelivery(id: Int64) throws -> NotifyDeliveryRecord? { try NotifyDeliveryRecord.fetchOne(db, key: id) }
}

extension Catalog {
    /// Alert deliveries by state in the catalog at `path`, opened read-only as by
    /// ``integrityCheck(path:)`` (no migration, nothing created). Nil when there is no catalog or
    /// it has no alert tables yet.
    public static func notifyDeliveryCounts(path: String) throws(CatalogError) -> [NotifyDeliveryState: Int]? {
        guard try identify(path) != nil else { return nil }
        var config = Configuration()
        config.readonly = true
        let file = OpenCatalogFiles.retain(path)
        defer { OpenCatalogFiles.release(file) }
        do {
            let hasWAL = FileManager.default.fileExists(atPath: path + "-wal")
            let queue = try DatabaseQueue(path: hasWAL ? path : immutableURI(path), configuration: config)
            defer { try? queue.close() }
            return try queue.read { db -> [NotifyDeliveryState: Int]? in
                guard try db.tableExists("notifyDelivery") else { return nil }
                return try CatalogAccess(db: db).notifyDeliveryCounts()
            }
        } catch { throw CatalogError.wrapping(error, "cannot read alert deliveries of \(path)") }
    }
}
