import Foundation
import Synchronization

/// The catalog files this process has open through SQLite, counted by device and inode.
///
/// SQLite guards a catalog against other processes with POSIX advisory locks, and those belong
/// to the process, not to a descriptor: closing *any* descriptor of the file drops all of them,
/// even one opened elsewhere in the process only to read a few bytes. SQLite's own connections
/// share their descriptors per file and never close one while the process holds a lock on it;
/// code outside SQLite has no such care. A process that lost its locks looks gone to the next
/// `kvmsnap` that exits: that one checkpoints the catalog and deletes its WAL and shared memory
/// under the process that still uses them, whose next read sees stale pages and whose next write
/// goes to the deleted WAL ("database disk image is malformed"). `kvmsnap serve` keeps its
/// catalog open for hours while cron and the CLI write it.
///
/// So nothing opens a catalog file outside SQLite while this process has an SQLite connection
/// to it: ``Catalog/identify(_:)`` reads the header under this lock, and only when no
/// connection is counted; each connection is counted from before it opens until it is closed.
/// The `-wal` and `-shm` files are never opened outside SQLite.
enum OpenCatalogFiles {
    struct FileID: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    private static let counts = Mutex<[FileID: Int]>([:])

    /// Counts one connection (a pool or a queue) about to open the file at `path`; nil (nothing
    /// counted) when nothing is there.
    static func retain(_ path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let id = FileID(info)
        counts.withLock { $0[id, default: 0] += 1 }
        return id
    }

    /// Uncounts a connection ``retain(_:)`` counted, once it is closed.
    static func release(_ id: FileID?) {
        guard let id else { return }
        counts.withLock { counts in
            let left = (counts[id] ?? 1) - 1
            counts[id] = left > 0 ? left : nil
        }
    }

    /// What reading a file's first bytes outside SQLite gave.
    enum Header {
        /// This process has the file open through SQLite: it was not opened.
        case inUse
        case bytes([UInt8])
        /// `open` failed with this errno.
        case unopenable(Int32)
    }

    /// The first `count` bytes of the file `id` at `path`, unless this process has it open
    /// through SQLite.
    static func header(_ path: String, of id: FileID, count: Int) -> Header {
        counts.withLock { counts -> Header in
            if counts[id] != nil { return .inUse }
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            if fd < 0 { return .unopenable(errno) }
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
            return .bytes(Array(bytes.prefix(max(got, 0))))
        }
    }
}
