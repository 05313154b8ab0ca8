import GRDB

/// Tells whether a catalog changed: SQLite's `PRAGMA data_version` on a read-only connection of
/// its own. That value changes whenever another connection commits (this process's catalog or any
/// other kvmsnap's) and never otherwise, so a result derived from the catalog can be kept while it
/// stays the same (the panel's encoded snapshot listings). Values are comparable only when read
/// from the same counter.
public final class CatalogChangeCounter: Sendable {
    private let queue: DatabaseQueue
    /// Counted in ``OpenCatalogFiles`` while the connection is open, like every catalog
    /// connection: nothing in this process may then open the file outside SQLite.
    private let file: OpenCatalogFiles.FileID?

    /// Opens its own read-only connection to the catalog at `path` (which must exist).
    public init(path: String) throws(CatalogError) {
        var config = Catalog.configuration()
        config.readonly = true
        let file = OpenCatalogFiles.retain(path)
        do { queue = try DatabaseQueue(path: path, configuration: config) } catch {
            OpenCatalogFiles.release(file)
            throw CatalogError(.cannotOpen, "cannot open catalog \(path) to watch it: \(error)")
        }
        self.file = file
    }

    deinit {
        try? queue.close()
        OpenCatalogFiles.release(file)
    }

    /// The current value; read it before reading what is derived from the catalog.
    public func value() throws(CatalogError) -> Int64 {
        do { return try queue.read { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 } } catch {
            throw CatalogError(.database, "cannot read the catalog's data_version: \(error)")
        }
    }
}
