import Foundation

/// Puts a file or a directory on stable storage (`fsync`). A directory is synced so that the
/// names of new files in it (and a rename into it) survive a power cut, not only their data.
public protocol FileSyncing: Sendable {
    func sync(_ path: String, isDirectory: Bool) throws(EngineError)
}

/// The real thing: `open` + `fsync`.
public struct Fsync: FileSyncing {
    public init() {}

    public func sync(_ path: String, isDirectory: Bool) throws(EngineError) {
        let fd = open(path, isDirectory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY)
        guard fd >= 0 else { throw EngineError(.io, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw EngineError(.io, "cannot sync \(path) to disk: \(String(cString: strerror(errno)))") }
    }
}

/// The one place that decides what "on stable storage" means for kvmsnap's files.
///
/// A snapshot is marked ready only after ``makeDurable(_:store:)`` returned for every file it
/// consists of; the catalog's own commits are durable through SQLite (`synchronous = FULL`
/// on the catalog's writer connection, see `Catalog`).
///
/// `.unsafeNone` exists only to measure what durability costs (`scripts/bench.sh`,
/// `KVMSNAP_UNSAFE_NO_FSYNC=1`): with it a power cut right after `create` returned can lose a
/// snapshot the catalog lists as ready.
public struct Durability: Sendable {
    /// nil: nothing is synced.
    public var syncer: (any FileSyncing)?

    public init(syncer: (any FileSyncing)?) { self.syncer = syncer }

    public static let durable = Durability(syncer: Fsync())
    public static let unsafeNone = Durability(syncer: nil)

    /// Syncs every file in `files` (in order, each once), then every directory on the way from
    /// those files up to the store's root (deepest first, then by name): the files' names, and the names of
    /// directories a first snapshot created, survive a power cut.
    public func makeDurable(_ files: [String], store: StoreLayout) throws(EngineError) {
        guard let syncer else { return }
        var seenFiles = Set<String>()
        var directories: [String] = []
        var seenDirectories = Set<String>()
        let root = (store.root as NSString).standardizingPath
        for file in files where seenFiles.insert(file).inserted {
            try syncer.sync(file, isDirectory: false)
            var directory = ((file as NSString).deletingLastPathComponent as NSString).standardizingPath
            while seenDirectories.insert(directory).inserted {
                directories.append(directory)
                guard directory != root, directory.hasPrefix(root + "/") else { break }
                directory = (directory as NSString).deletingLastPathComponent
            }
        }
        let depth = { (path: String) in path.split(separator: "/").count }
        for directory in directories.sorted(by: { (depth($0), $1) > (depth($1), $0) }) {
            try syncer.sync(directory, isDirectory: true)
        }
    }
}
