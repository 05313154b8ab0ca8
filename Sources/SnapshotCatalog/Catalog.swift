import Foundation
import GRDB

/// The one error type of the catalog layer.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case cannotOpen, migrationFailed, constraint, notFound, database
        /// The path holds something that is not a kvmsnap catalog (an empty file, another
        /// application's database, a device, a directory): refused, never touched.
        case notACatalog
        /// The catalog cannot be written and the command needs to write.
        case readOnly
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
/// Backed by a GRDB `DatabasePool` in WAL mode, so readers never block the writer. A new
/// catalog is made mode 0600 (snapshot metadata includes domain XML, which can hold secrets);
/// SQLite gives its `-wal`/`-shm` companions the database file's mode.
///
/// A catalog is stamped with SQLite's `application_id` ``applicationID``. Only a file that is a
/// kvmsnap catalog is ever opened for writing: a path that is not a regular file, an empty
/// file or another application's database is refused before SQLite touches it. Catalogs of
/// kvmsnap versions before the stamp are recognised by their migration names and stamped.
///
/// ## Topics
/// - ``read(_:)`` and ``write(_:)`` lend a ``CatalogAccess`` for the duration of one transaction.
/// - ``init(path:)`` for commands that write, ``openForReading(path:)`` for those that only read.
public final class Catalog: Sendable {
    public let path: String
    /// True when the file could not be written (read-only file, directory or file system):
    /// reads work, writes fail.
    public let isReadOnly: Bool
    let writer: any DatabaseWriter
    /// The file's count in ``OpenCatalogFiles`` while `writer` is open (nil in memory).
    private let openFile: OpenCatalogFiles.FileID?

    /// SQLite `application_id` of kvmsnap catalogs ("kvms").
    public static let applicationID: Int32 = 0x6B76_6D73

    /// Opens the catalog at `path` for a command that writes, creating it only where no file
    /// exists, and runs pending migrations.
    public init(path: String) throws(CatalogError) {
        self.path = path
        if try Self.identify(path) == nil {
            try Self.create(path)
            // A dangling symbolic link at `path` is not followed to create its target.
            guard try Self.identify(path) != nil else { throw CatalogError(.cannotOpen, "cannot create catalog \(path)") }
        }
        if let reason = Self.writability(path) {
            throw CatalogError(.readOnly, "catalog \(path) is read-only (\(reason)) and this command writes to it; nothing was changed")
        }
        let file = OpenCatalogFiles.retain(path)
        do { writer = try Self.openPool(path) } catch {
            OpenCatalogFiles.release(file)
            throw error
        }
        openFile = file
        isReadOnly = false
    }

    private init(path: String, writer: any DatabaseWriter, readOnly: Bool, openFile: OpenCatalogFiles.FileID?) {
        self.path = path
        self.writer = writer
        isReadOnly = readOnly
        self.openFile = openFile
    }

    deinit {
        // SQLite's connections close first: only then may the file be opened outside SQLite.
        // The readers before the writer (as GRDB's deinit does; its close() does the reverse):
        // the writer, closing last, checkpoints the WAL into the file and removes it.
        if let pool = writer as? DatabasePool {
            pool.releaseMemory()
            try? pool.close()
        } else if let queue = writer as? DatabaseQueue {
            try? queue.close()
        }
        OpenCatalogFiles.release(openFile)
    }

    /// Opens the catalog for a command that only reads. Nil when no file exists at `path`
    /// (there is nothing to read, and nothing is created). A catalog that can be written is
    /// opened as by ``init(path:)`` (a reading command still finishes a job a crashed kvmsnap
    /// left behind); one that cannot (read-only file, directory or file system) is opened
    /// read-only, which needs its migrations to be current.
    public static func openForReading(path: String) throws(CatalogError) -> Catalog? {
        guard try identify(path) != nil else { return nil }
        let file = OpenCatalogFiles.retain(path)
        if writability(path) == nil {
            do { return Catalog(path: path, writer: try openPool(path), readOnly: false, openFile: file) } catch {
                OpenCatalogFiles.release(file)
                throw error
            }
        }
        var config = configuration()
        config.readonly = true
        do {
            let queue: DatabaseQueue
            do { queue = try DatabaseQueue(path: path, configuration: config) } catch let error as DatabaseError
                where error.resultCode == .SQLITE_CANTOPEN && !FileManager.default.fileExists(atPath: path + "-wal")
            {
                // A read-only directory without the WAL's -shm: SQLite reads such a file only as
                // immutable. Without a -wal file no writer has it open right now.
                queue = try DatabaseQueue(path: immutableURI(path), configuration: config)
            }
            guard try queue.read({ try migrator.hasCompletedMigrations($0) }) else {
                throw CatalogError(
                    .migrationFailed,
                    "catalog \(path) was made by an older kvmsnap and needs upgrading, but it is read-only: "
                        + "run a command that writes as a user who can write it"
                )
            }
            return Catalog(path: path, writer: queue, readOnly: true, openFile: file)
        } catch {
            OpenCatalogFiles.release(file)
            throw CatalogError.wrapping(error, "cannot open catalog \(path) read-only")
        }
    }

    /// Nil when the catalog file and its directory can be written (SQLite needs both in WAL
    /// mode), else why not.
    static func writability(_ path: String) -> String? {
        let dir = (path as NSString).deletingLastPathComponent
        for (what, target) in [("file", path), ("directory", dir.isEmpty ? "." : dir)] where access(target, W_OK) != 0 {
            return "its \(what) is not writable: \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// An SQLite URI opening `path` read-only and immutable.
    static func immutableURI(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:\(path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path)?mode=ro&immutable=1"
    }

    /// An empty catalog in memory: what a reading command sees when no catalog file exists.
    public static func empty(path: String) throws(CatalogError) -> Catalog {
        do {
            let queue = try DatabaseQueue(configuration: configuration())
            try migrator.migrate(queue)
            return Catalog(path: path, writer: queue, readOnly: false, openFile: nil)
        } catch {
            throw CatalogError.wrapping(error, "cannot make an empty catalog")
        }
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.label = "kvmsnap-catalog"
        return config
    }

    /// What is at `path`: nil when nothing; whether the kvmsnap catalog there is stamped.
    /// Anything else is refused (`notACatalog`) without opening it with SQLite for writing.
    /// A file this process has open through SQLite already is a catalog it identified then and
    /// is not read again (true): see ``OpenCatalogFiles``.
    static func identify(_ path: String) throws(CatalogError) -> Bool? {
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT { return nil }
            throw CatalogError(.cannotOpen, "cannot open catalog \(path): \(String(cString: strerror(errno)))")
        }
        func refuse(_ what: String) -> CatalogError {
            CatalogError(.notACatalog, "\(path) is \(what), not a kvmsnap catalog: refusing to use it (nothing was changed)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw refuse(info.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file")
        }
        if info.st_size == 0 { throw refuse("an empty file") }
        // The header: "SQLite format 3\0", then application_id big-endian at offset 68.
        let header: [UInt8]
        switch OpenCatalogFiles.header(path, of: OpenCatalogFiles.FileID(info), count: 100) {
        case .inUse: return true
        case .bytes(let bytes): header = bytes
        case .unopenable(let code): throw CatalogError(.cannotOpen, "cannot open catalog \(path): \(String(cString: strerror(code)))")
        }
        guard header.count == 100, header.starts(with: Array("SQLite format 3\0".utf8)) else { throw refuse("not an SQLite database") }
        let id = header[68..<72].reduce(Int32(0)) { $0 << 8 | Int32($1) }
        if id == applicationID { return true }
        guard id == 0, try isUnstampedCatalog(path) else { throw refuse("another application's SQLite database") }
        return false
    }

    /// True when the unstamped SQLite file at `path` is a catalog of an earlier kvmsnap: its
    /// GRDB migrations table holds kvmsnap's first migration and no names kvmsnap does not know.
    static func isUnstampedCatalog(_ path: String) throws(CatalogError) -> Bool {
        var config = Configuration()
        config.readonly = true
        let file = OpenCatalogFiles.retain(path)
        defer { OpenCatalogFiles.release(file) }
        do {
            // Without a -wal file (no writer has it open) read it as immutable: a read-only
            // connection would leave a -wal and -shm behind that it cannot remove.
            let hasWAL = FileManager.default.fileExists(atPath: path + "-wal")
            let queue = try DatabaseQueue(path: hasWAL ? path : immutableURI(path), configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                // The stamp may sit in the WAL, not yet in the file's header.
                if try Int32.fetchOne(db, sql: "PRAGMA application_id") == applicationID { return true }
                guard try db.tableExists("grdb_migrations") else { return false }
                let names = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                return names.contains("v1-initial") && Set(names).isSubset(of: migrator.migrations)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            return false
        } catch {
            throw CatalogError.wrapping(error, "cannot read catalog \(path)")
        }
    }

    /// Makes a new catalog where no file exists: built and stamped under a temporary name next
    /// to it, then linked into place (never replacing a file), so a crash leaves either no
    /// catalog or a complete one, never an empty file.
    static func create(_ path: String) throws(CatalogError) {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
            } catch {
                throw CatalogError(.cannotOpen, "cannot create catalog directory \(dir): \(error.localizedDescription)")
            }
        }
        let temp = "\(path).new-\(getpid())"
        unlink(temp)
        // Created 0600 by us before SQLite opens it, so there is no window at 0644.
        let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw CatalogError(.cannotOpen, "cannot create catalog \(path): \(String(cString: strerror(errno)))") }
        close(fd)
        defer { unlink(temp); unlink(temp + "-journal") }
        do {
            let queue = try DatabaseQueue(path: temp, configuration: configuration())
            try migrator.migrate(queue)
            try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA application_id = \(applicationID)") }
            try queue.close()
        } catch {
            throw CatalogError(.cannotOpen, "cannot create catalog \(path): \(error)")
        }
        // Another process may have created it meanwhile: then that one is used.
        if link(temp, path) != 0, errno != EEXIST {
            throw CatalogError(.cannotOpen, "cannot create catalog \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Opens an identified catalog for writing: WAL, pending migrations, the stamp.
    static func openPool(_ path: String) throws(CatalogError) -> DatabasePool {
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration())
        } catch {
            throw CatalogError(.cannotOpen, "cannot open catalog \(path): \(error)")
        }
        do {
            try migrator.migrate(pool)
        } catch {
            throw CatalogError(.migrationFailed, "catalog migration failed: \(error)")
        }
        do {
            try pool.writeWithoutTransaction { db in
                // GRDB sets synchronous = NORMAL in WAL mode: a commit is then durable only at the
                // next checkpoint, and a power cut can take back a snapshot marked ready (or a
                // job journal entry) after the command returned. FULL syncs the WAL at every
                // commit; kvmsnap commits a handful of small transactions per command, so the
                // cost is a few fdatasyncs of a few KiB, next to fsyncs of a memory image.
                // The writer connection lives as long as the pool: the setting holds for every write.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                if try Int32.fetchOne(db, sql: "PRAGMA application_id") != applicationID {
                    try db.execute(sql: "PRAGMA application_id = \(applicationID)")
                }
            }
        } catch {
            throw CatalogError.wrapping(error, "cannot stamp catalog \(path)")
        }
        return pool
    }

    /// Runs `body` in a read-only snapshot of the catalog.
    public func read<T>(_ body: (CatalogAccess) throws -> T) throws(CatalogError) -> T {
        do { return try writer.read { db in try body(CatalogAccess(db: db)) } } catch { throw CatalogError.wrapping(error, "catalog read failed") }
    }

    /// Runs `body` in one write transaction: all of it lands, or none of it.
    public func write<T>(_ body: (CatalogAccess) throws -> T) throws(CatalogError) -> T {
        do { return try writer.write { db in try body(CatalogAccess(db: db)) } } catch { throw CatalogError.wrapping(error, "catalog write failed") }
    }

    /// Names of the migrations applied, oldest first.
    public func appliedMigrations() throws(CatalogError) -> [String] {
        do { return try writer.read { db in try Catalog.migrator.appliedMigrations(db) } } catch { throw CatalogError.wrapping(error, "catalog read failed") }
    }

    /// SQLite's `synchronous` setting of the connection that writes (2 = FULL expected).
    public func writerSynchronous() throws(CatalogError) -> Int {
        do { return try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 } } catch {
            throw CatalogError.wrapping(error, "catalog read failed")
        }
    }

    /// SQLite's journal mode for this catalog (`wal` expected).
    public func journalMode() throws(CatalogError) -> String {
        do { return try writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" } } catch {
            throw CatalogError.wrapping(error, "catalog read failed")
        }
    }
}
