import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if os(Linux)
/// syncfs(2): glibc declares it only under _GNU_SOURCE, which the Glibc module does not expose.
@_silgen_name("syncfs") private func vaultSyncfs(_ fd: Int32) -> Int32
#else
private func vaultSyncfs(_ fd: Int32) -> Int32 { sync(); return 0 }
#endif

/// A vault in a local directory (local disk, NFS/SMB mount, USB disk). Objects are written to
/// `<dir>/.tmp-<random>` files and linked/renamed into place, so no reader sees a partial object.
/// `writeAtomic` fsyncs the file and its directory at once. `putIfAbsent` does not fsync each
/// chunk: `flush()` makes every chunk put so far durable in one go (one `syncfs` of the vault's
/// filesystem) and then fsyncs the directories linked into.
public final class DirectoryBackend: VaultBackend {
    public let root: String
    private let dirtyDirectories = Mutex<Set<String>>([])
    /// Keys put since the last `flush()` whose data may not be on stable storage yet.
    private let unsynced = Mutex<[String]>([])

    /// Opens (and with `create`, makes) the directory.
    public init(root: String, create: Bool = false) throws(VaultError) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        if create, mkdir(self.root, 0o700) != 0, errno != EEXIST {
            throw .backend(key: self.root, operation: "mkdir", errno: errno)
        }
        var st = stat()
        guard stat(self.root, &st) == 0 else { throw .backend(key: self.root, operation: "stat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .backend(key: self.root, operation: "opendir", errno: ENOTDIR) }
    }

    func path(_ key: String) -> String { "\(root)/\(key)" }

    private func parent(_ key: String) -> String {
        guard let slash = key.lastIndex(of: "/") else { return "" }
        return String(key[..<slash])
    }

    private func makeParents(_ key: String) throws(VaultError) {
        var dir = root
        for part in parent(key).split(separator: "/") {
            dir += "/\(part)"
            if mkdir(dir, 0o700) != 0, errno != EEXIST { throw .backend(key: key, operation: "mkdir", errno: errno) }
        }
    }

    /// Writes `bytes` to a new temp file next to `key` (fsynced when `sync`); returns its path.
    private func writeTemp(_ key: String, _ bytes: [UInt8], sync: Bool = true) throws(VaultError) -> String {
        try makeParents(key)
        let dir = parent(key).isEmpty ? root : "\(root)/\(parent(key))"
        let tmp = "\(dir)/.tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .backend(key: key, operation: "create", errno: errno) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                unlink(tmp)
                throw .backend(key: key, operation: "write", errno: e)
            }
            done += n
        }
        // Unsynced: start the writeback now so that `flush()` finds little left to write.
        if !sync { startWriteback(fd) }
        guard !sync || fsync(fd) == 0 else {
            let e = errno
            unlink(tmp)
            throw .backend(key: key, operation: "fsync", errno: e)
        }
        return tmp
    }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) throws(VaultError) -> Bool {
        if try exists(key) { return false }
        let tmp = try writeTemp(key, bytes, sync: false)
        // link() fails with EEXIST when another writer won the race: put-if-absent, never replace.
        if link(tmp, path(key)) != 0 {
            let e = errno
            // An empty chunk is what a crash can leave of one put but never flushed: replace it.
            if e == EEXIST, isEmptyChunk(key) {
                guard rename(tmp, path(key)) == 0 else {
                    let e = errno
                    unlink(tmp)
                    throw .backend(key: key, operation: "rename", errno: e)
                }
                return markUnsynced(key)
            }
            unlink(tmp)
            if e == EEXIST { return false }
            throw .backend(key: key, operation: "link", errno: e)
        }
        unlink(tmp)
        return markUnsynced(key)
    }

    private func markUnsynced(_ key: String) -> Bool {
        let dir = parent(key)
        dirtyDirectories.withLock { _ = $0.insert(dir) }
        unsynced.withLock { $0.append(key) }
        return true
    }

    /// A zero-length object under `chunks/` (no valid chunk is empty): after a power loss, the
    /// remains of a chunk that was linked but not yet flushed. It counts as absent.
    private func isEmptyChunk(_ key: String) -> Bool {
        var st = stat()
        return key.hasPrefix("chunks/") && stat(path(key), &st) == 0 && st.st_size == 0
    }

    public func writeAtomic(_ key: String, _ bytes: [UInt8]) throws(VaultError) {
        let tmp = try writeTemp(key, bytes)
        guard rename(tmp, path(key)) == 0 else {
            let e = errno
            unlink(tmp)
            throw .backend(key: key, operation: "rename", errno: e)
        }
        try fsyncDirectory(parent(key))
    }

    private func fsyncDirectory(_ dir: String) throws(VaultError) {
        let p = dir.isEmpty ? root : "\(root)/\(dir)"
        let fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .backend(key: dir, operation: "open", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .backend(key: dir, operation: "fsync", errno: errno) }
    }

    public func flush() throws(VaultError) {
        let keys = unsynced.withLock { k in
            defer { k.removeAll() }; return k
        }
        do throws(VaultError) {
            try syncData(keys)
        } catch {
            unsynced.withLock { $0 += keys }  // still not known durable: a later flush retries
            throw error
        }
        let dirs = dirtyDirectories.withLock { d in
            defer { d.removeAll() }; return d
        }
        // A new `chunks/xx` directory is itself an entry of `chunks`.
        for dir in dirs.union(dirs.map { parent($0) }).sorted() { try fsyncDirectory(dir) }
    }

    /// Puts the data of `keys` on stable storage with one `syncfs` of the vault's filesystem
    /// (cheaper than an fsync per chunk). It runs even when this backend put nothing: a chunk
    /// another process put and not yet synced may be referenced by our manifest too.
    private func syncData(_ keys: [String]) throws(VaultError) {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .backend(key: root, operation: "open", errno: errno) }
        defer { close(fd) }
        guard vaultSyncfs(fd) == 0 else { throw .backend(key: keys.first ?? root, operation: "syncfs", errno: errno) }
    }

    public func get(_ key: String) throws(VaultError) -> [UInt8] {
        let fd = open(path(key), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missingObject(key: key) }
            throw .backend(key: key, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .backend(key: key, operation: "fstat", errno: errno) }
        let size = Int(st.st_size)
        var failure: Int32?
        // Not zero-filled first: only the bytes read are kept (a file that shrank reads short).
        let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = pread(fd, buffer.baseAddress! + done, size - done, off_t(done))
                if n < 0, errno == EINTR { continue }
                guard n >= 0 else {
                    failure = errno
                    break
                }
                if n == 0 { break }
                done += n
            }
            initialized = done
        }
        if let failure { throw .backend(key: key, operation: "read", errno: failure) }
        return out
    }

    public func exists(_ key: String) throws(VaultError) -> Bool {
        var st = stat()
        if stat(path(key), &st) == 0 { return st.st_size > 0 || !key.hasPrefix("chunks/") }
        if errno == ENOENT || errno == ENOTDIR { return false }
        throw .backend(key: key, operation: "stat", errno: errno)
    }

    public func list(prefix: String) throws(VaultError) -> [VaultObjectInfo] {
        // List the directory the prefix names (or its parent) and filter by prefix.
        let dir = prefix.hasSuffix("/") ? String(prefix.dropLast()) : parent(prefix)
        var out: [VaultObjectInfo] = []
        try walk(dir, into: &out)
        return out.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
    }

    private func walk(_ dir: String, into out: inout [VaultObjectInfo]) throws(VaultError) {
        let p = dir.isEmpty ? root : "\(root)/\(dir)"
        guard let d = opendir(p) else {
            if errno == ENOENT { return }
            throw .backend(key: dir, operation: "opendir", errno: errno)
        }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") { continue }  // ".", "..", temp files
            let key = dir.isEmpty ? name : "\(dir)/\(name)"
            var st = stat()
            guard lstat(path(key), &st) == 0 else { continue }  // deleted meanwhile
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(key, into: &out)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                out.append(VaultObjectInfo(key: key, size: Int64(st.st_size), modified: Date(timeIntervalSince1970: mtime)))
            }
        }
    }

    public func delete(_ key: String) throws(VaultError) {
        if unlink(path(key)) != 0, errno != ENOENT { throw .backend(key: key, operation: "unlink", errno: errno) }
    }

    public func touch(_ key: String) throws(VaultError) {
        guard utimensat(AT_FDCWD, path(key), nil, 0) == 0 else {
            if errno == ENOENT { throw .missingObject(key: key) }
            throw .backend(key: key, operation: "utimensat", errno: errno)
        }
    }
}
