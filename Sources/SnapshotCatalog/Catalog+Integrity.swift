import Foundation
import GRDB

extension Catalog {
    /// What SQLite's `PRAGMA integrity_check` says about a catalog file.
    public enum Integrity: Sendable, Equatable {
        case intact
        /// The problems SQLite listed (or the error it stopped with, e.g. "database disk image is malformed").
        case damaged([String])
    }

    /// Checks the catalog file at `path` with `PRAGMA integrity_check`, opened read-only: no
    /// migration, no stamp, no recovery, nothing created. Nil when no file exists at `path`.
    /// Throws `notACatalog` for anything that is not a kvmsnap catalog (as every command
    /// refuses it), and `cannotOpen` when SQLite cannot open the file at all.
    public static func integrityCheck(path: String) throws(CatalogError) -> Integrity? {
        let identified: Bool?
        do throws(CatalogError) { identified = try identify(path) } catch {
            // identify reads the header and, for an unstamped file, its migrations table: damage
            // there is a database error, which is what this check reports. Not a catalog, or
            // no access at all, stays an error.
            if error.code == .database { return .damaged([error.message]) }
            throw error
        }
        guard identified != nil else { return nil }
        var config = Configuration()
        config.readonly = true
        let file = OpenCatalogFiles.retain(path)
        defer { OpenCatalogFiles.release(file) }
        // Without a -wal file no writer has the catalog open, and everything is in the main
        // file: read it as immutable, so SQLite creates no -wal/-shm next to it (a read-only
        // connection could not remove them again). With one, a writer may be at work: read
        // through the WAL like any reader (the files exist already).
        let hasWAL = FileManager.default.fileExists(atPath: path + "-wal")
        return try integrity(of: path) {
            let queue = try DatabaseQueue(path: hasWAL ? path : immutableURI(path), configuration: config)
            defer { try? queue.close() }
            return try queue.read(integrityRows)
        }
    }

    /// `PRAGMA integrity_check` through this catalog's own connections: what a long-lived
    /// process (`kvmsnap serve`, `daemon`) sees of the catalog, which other processes write too.
    public func integrity() throws(CatalogError) -> Integrity {
        try Self.integrity(of: path) { try writer.read(Self.integrityRows) }
    }

    private static func integrityRows(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "PRAGMA integrity_check")
    }

    /// The verdict on `PRAGMA integrity_check`'s rows as `check` reads them; a corrupt or
    /// not-a-database error is a damaged catalog, any other error is thrown.
    private static func integrity(of path: String, _ check: () throws -> [String]) throws(CatalogError) -> Integrity {
        do {
            let rows = try check()
            return rows == ["ok"] ? .intact : .damaged(rows)
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            return .damaged([error.message ?? "\(error.resultCode)"])
        } catch {
            throw CatalogError.wrapping(error, "cannot check catalog \(path)")
        }
    }
}
