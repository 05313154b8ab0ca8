import Foundation
import GRDB

/// The one error type of the catalog layer.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case cannotOpen, migrationFailed, constraint, notFound, database
    }
    public var code: Code
    public var message: String
    /// The caller's own error when a `read`/`write` body threw something that is not a database
    /// error (e.g. the engine's "no such snapshot"): the transaction was rolled back because of
    /// it, and the caller can rethrow it unchanged.
    public var underlying: (any Error)?
    public var description: String { message }

    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }

    static func wrapping(_ error: any Error, _ context: String) -> CatalogError {
        if let own = error as? CatalogError { return own }
        if let db = error as? DatabaseError {
            let code: Code = db.resultCode == .SQLITE_CONSTRAINT ? .constraint : .database
            return CatalogError(code, "\(context): \(db.message ?? "\(db.resultCode)")")
        }
        if let decoding = error as? RowDecodingError {
            return CatalogError(.database, "\(context): \(shortDescription(decoding))")
        }
        var wrapped = CatalogError(.database, "\(context): \(error)")
        wrapped.underlying = error
        return wrapped
    }
}

/// GRDB's own description of a row it could not decode dumps the whole row and its SQL (kilobytes
/// for a snapshot's XML): keep what went wrong, the table, the column and the row's first column
/// (its key), each cut short.
func shortDescription(_ error: RowDecodingError) -> String {
    let text = "\(error)"
    func clip(_ s: Substring, _ limit: Int) -> String { s.count > limit ? String(s.prefix(limit)) + "…" : String(s) }
    var what = text[...]
    if let cut = text.range(of: ", row: ") ?? text.range(of: " - row: ") { what = text[..<cut.lowerBound] }
    // "could not decode T from database value V - column: "c", column index: i": V is clipped apart.
    if let column = what.range(of: " - column: ", options: .backwards) {
        what = Substring(clip(what[..<column.lowerBound], 120) + clip(what[column.lowerBound...], 100))
    }
    var parts = [clip(what, 240)]
    if let from = text.range(of: "FROM \""), let end = text[from.upperBound...].firstIndex(of: "\"") {
        parts.append("table \(clip(text[from.upperBound..<end], 40))")
    }
    if let row = text.range(of: "row: [") {
        let key = text[row.upperBound...].prefix { $0 != " " && $0 != "]" }
        parts.append("row \(clip(key, 80))")
    }
    return "unreadable catalog row: " + parts.joined(separator: ", ")
}

/// kvmsnap's SQLite catalog of VMs, snapshots, layers, policies and the job journal.
///
/// Backed by a GRDB `DatabasePool` in WAL mode, so readers never block the writer. The
/// database file and its `-wal`/`-shm` companions are made mode 0600: snapshot metadata
/// includes domain XML, which can hold secrets.
///
/// ## Topics
/// - ``read(_:)`` and ``write(_:)`` lend a ``CatalogAccess`` for the duration of one transaction.
public final class Catalog: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating if needed) the catalog at `path` and runs pending migrations.
    public init(path: String) throws(CatalogError) {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        } catch {
            throw CatalogError(.cannotOpen, "cannot create catalog directory \(dir): \(error.localizedDescription)")
        } }
        // Create the file ourselves with 0600 before SQLite does, so there is no window at 0644.
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_CREAT | O_WRONLY, 0o600)
            if fd < 0 { throw CatalogError(.cannotOpen, "cannot create catalog \(path): \(String(cString: strerror(errno)))") }
            close(fd)
        }
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.label = "kvmsnap-catalog"
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw CatalogError(.cannotOpen, "cannot open catalog \(path): \(error)")
        }
        do {
            try Catalog.migrator.migrate(pool)
        } catch {
            throw CatalogError(.migrationFailed, "catalog migration failed: \(error)")
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            chmod(path + suffix, 0o600)
        }
    }

    /// Runs `body` in a read-only snapshot of the catalog.
    public func read<T>(_ body: (CatalogAccess) throws -> T) throws(CatalogError) -> T {
        do { return try pool.read { db in try body(CatalogAccess(db: db)) } }
        catch { throw CatalogError.wrapping(error, "catalog read failed") }
    }

    /// Runs `body` in one write transaction: all of it lands, or none of it.
    public func write<T>(_ body: (CatalogAccess) throws -> T) throws(CatalogError) -> T {
        do { return try pool.write { db in try body(CatalogAccess(db: db)) } }
        catch { throw CatalogError.wrapping(error, "catalog write failed") }
    }

    /// Names of the migrations applied, oldest first.
    public func appliedMigrations() throws(CatalogError) -> [String] {
        do { return try pool.read { db in try Catalog.migrator.appliedMigrations(db) } }
        catch { throw CatalogError.wrapping(error, "catalog read failed") }
    }

    /// SQLite's journal mode for this catalog (`wal` expected).
    public func journalMode() throws(CatalogError) -> String {
        do { return try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" } }
        catch { throw CatalogError.wrapping(error, "catalog read failed") }
    }
}

/// Typed access to the catalog inside one transaction. Valid only during the `read`/`write` call.
public struct CatalogAccess {
    let db: Database

    // MARK: VMs
    public func vm(uuid: String) throws -> VMRecord? { try VMRecord.fetchOne(db, key: uuid) }
    public func vm(named name: String) throws -> VMRecord? {
        try VMRecord.filter(Column("name") == name).fetchOne(db)
    }
    public func allVMs() throws -> [VMRecord] { try VMRecord.order(Column("name")).fetchAll(db) }
    public func save(_ vm: VMRecord) throws { try vm.save(db) }

    // MARK: Snapshots
    public func snapshot(id: String) throws -> SnapshotRecord? { try SnapshotRecord.fetchOne(db, key: id) }
    public func snapshotName(id: String, vmUUID: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM snapshot WHERE id = ? AND vmUUID = ?"), arguments: [id, vmUUID])
    }
    public func snapshot(vmUUID: String, name: String) throws -> SnapshotRecord? {
        try SnapshotRecord.filter(Column("vmUUID") == vmUUID && Column("name") == name).fetchOne(db)
    }
    /// All snapshots of a VM, oldest first.
    public func snapshots(vmUUID: String) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(Column("vmUUID") == vmUUID).order(Column("createdAt"), Column("id")).fetchAll(db)
    }
    /// All snapshots of a VM, oldest first, for listings, one row at a time (a listing of
    /// 100,000 snapshots streams to stdout): every column except `configXML`, which is left
    /// EMPTY (it is the bulk of a row: reading it made listing 100,000 snapshots I/O-bound).
    /// Columns are read by position. Never write these records back.
    public func forEachSnapshotSummary(vmUUID: String, _ body: (SnapshotRecord) throws -> Void) throws {
        let rows = try Row.fetchCursor(db, sql: """
            SELECT id, name, description, kind, parentID, createdAt, state, hasMemory, memoryPath, memoryBytes,
                   diskBytes, nvramPath, pinned, expiresAt, labels, guestPauseMs, jobID
            FROM snapshot WHERE vmUUID = ? ORDER BY createdAt, id
            """, arguments: [vmUUID])
        while let row = try rows.next() {
            let id: String = try row.decode(atIndex: 0)
            let kindText: String = try row.decode(atIndex: 3), stateText: String = try row.decode(atIndex: 6)
            guard let kind = SnapshotKind(rawValue: kindText), let state = SnapshotState(rawValue: stateText) else {
                throw DatabaseError(message: "snapshot \(id): unknown kind '\(kindText)' or state '\(stateText)'")
            }
            let labelsText: String = try row.decode(atIndex: 14)
            let name: String = try row.decode(atIndex: 1)
            let expiry: DatabaseValue = row[13]
            try body(SnapshotRecord(
                id: id, vmUUID: vmUUID, name: name, description: try row.decode(atIndex: 2), kind: kind,
                parentID: try row.decode(atIndex: 4), createdAt: try SnapshotRecord.date(row[5], column: "createdAt", id: id, name: name), state: state,
                hasMemory: try row.decode(atIndex: 7), memoryPath: try row.decode(atIndex: 8), memoryBytes: try row.decode(atIndex: 9),
                diskBytes: try row.decode(atIndex: 10), configXML: "", nvramPath: try row.decode(atIndex: 11),
                pinned: try row.decode(atIndex: 12),
                expiresAt: expiry.isNull ? nil : try SnapshotRecord.date(expiry, column: "expiresAt", id: id, name: name),
                labels: try SnapshotRecord.decodeLabels(labelsText, id: id),
                guestPauseMs: try row.decode(atIndex: 15), jobID: try row.decode(atIndex: 16)))
        }
    }
    public func snapshots(states: [SnapshotState]) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(states.map(\.rawValue).contains(Column("state"))).fetchAll(db)
    }
    public func children(of snapshotID: String) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(Column("parentID") == snapshotID).fetchAll(db)
    }
    /// Sets a snapshot's expiry without reading its row (which may hold an unreadable one).
    public func setExpiry(vmUUID: String, name: String, expiresAt: Date?) throws {
        try db.execute(sql: "UPDATE snapshot SET expiresAt = ? WHERE vmUUID = ? AND name = ?", arguments: [expiresAt, vmUUID, name])
    }
    public func insert(_ snapshot: SnapshotRecord) throws { try snapshot.insert(db) }
    public func update(_ snapshot: SnapshotRecord) throws { try snapshot.update(db) }
    public func deleteSnapshot(id: String) throws { _ = try SnapshotRecord.deleteOne(db, key: id) }

    // MARK: Layers
    public func layer(id: String) throws -> LayerRecord? { try LayerRecord.fetchOne(db, key: id) }
    public func layer(path: String) throws -> LayerRecord? { try LayerRecord.filter(Column("path") == path).fetchOne(db) }
    public func layers(vmUUID: String) throws -> [LayerRecord] {
        try LayerRecord.filter(Column("vmUUID") == vmUUID).order(Column("createdAt"), Column("id")).fetchAll(db)
    }
    public func insert(_ layer: LayerRecord) throws { try layer.insert(db) }
    public func update(_ layer: LayerRecord) throws { try layer.update(db) }
    public func deleteLayer(id: String) throws { _ = try LayerRecord.deleteOne(db, key: id) }

    public func disks(ofSnapshot id: String) throws -> [SnapshotDiskRecord] {
        try SnapshotDiskRecord.filter(Column("snapshotID") == id).order(Column("diskTarget")).fetchAll(db)
    }
    public func disks(vmUUID: String) throws -> [SnapshotDiskRecord] {
        try SnapshotDiskRecord.fetchAll(db, sql: """
            SELECT snapshotDisk.* FROM snapshotDisk JOIN snapshot ON snapshot.id = snapshotDisk.snapshotID
            WHERE snapshot.vmUUID = ?
            """, arguments: [vmUUID])
    }
    public func save(_ disk: SnapshotDiskRecord) throws { try disk.save(db) }

    // MARK: Jobs
    public func insert(_ job: inout JobRecord) throws { try job.insert(db) }
    public func update(_ job: JobRecord) throws { try job.update(db) }
    public func job(id: Int64) throws -> JobRecord? { try JobRecord.fetchOne(db, key: id) }
    public func jobs(vmUUID: String? = nil, states: [JobState]? = nil, limit: Int? = nil) throws -> [JobRecord] {
        var request = JobRecord.all()
        if let vmUUID { request = request.filter(Column("vmUUID") == vmUUID) }
        if let states { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
        request = request.order(Column("id").desc)
        if let limit { request = request.limit(limit) }
        return try request.fetchAll(db)
    }

    // MARK: Hooks
    public func hooks() throws -> [HookRecord] { try HookRecord.order(Column("id")).fetchAll(db) }
    public func insert(_ hook: inout HookRecord) throws { try hook.insert(db) }
    public func deleteHook(id: Int64) throws -> Bool { try HookRecord.deleteOne(db, key: id) }

    // MARK: Policies
    public func policy(scope: String) throws -> PolicyRecord? { try PolicyRecord.fetchOne(db, key: scope) }
    public func save(_ policy: PolicyRecord) throws { try policy.save(db) }
    public func deletePolicy(scope: String) throws -> Bool { try PolicyRecord.deleteOne(db, key: scope) }
}
