/// Where a send reads a disk from (e.g. an NBD export of a snapshot's image). The session calls
/// it from one thread at a time (under a lock), so it need not be thread-safe.
public protocol BlockSource {
    /// Exactly `length` bytes at `offset` (the disk's guest-visible contents).
    func read(offset: Int64, length: Int) throws(VaultError) -> [UInt8]
}

/// Where a restore writes a disk to. The target must read as zeros where never written (a new
/// sparse raw file or qcow2 image): restore skips zero slots. Called from one thread at a time.
public protocol BlockSink {
    func write(offset: Int64, bytes: [UInt8]) throws(VaultError)
}

/// What a send did so far (the `send --json` figures).
public struct SendStats: Sendable, Equatable {
    /// Bytes read from block sources and streams.
    public var bytesRead: Int64 = 0
    /// Bytes of new chunk objects (what the vault grew by).
    public var bytesStored: Int64 = 0
    public var chunksNew = 0
    /// Chunks that were already in the vault (found by id, or taken from the previous index).
    public var chunksReused = 0
    /// Logical bytes stored: disk virtual sizes, stream lengths.
    public var logicalBytes: Int64 = 0
    public init() {}
}

/// A plain file descriptor as a block source/sink (pread/pwrite); useful for raw images and tests.
public struct FileBlockDevice: BlockSource, BlockSink {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public func read(offset: Int64, length: Int) throws(VaultError) -> [UInt8] {
        var failure: VaultError?
        // Not zero-filled first: what pread does not fill (past the end) is zeroed below.
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var done = 0
            while done < length {
                let n = pread(fd, raw.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else {
                    failure = .source("pread at \(offset + Int64(done)): errno \(errno)")
                    break
                }
                if n == 0 { break }  // past the end: zeros
                done += n
            }
            if done < length { (raw.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: length - done) }
            initialized = length
        }
        if let failure { throw failure }
        return out
    }

    /// Writes `bytes` and starts their writeback (no wait), so a final fsync finds little left.
    public func write(offset: Int64, bytes: [UInt8]) throws(VaultError) {
        defer { startWriteback(fd, offset: offset, count: Int64(bytes.count)) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .sink("pwrite at \(offset + Int64(done)): errno \(errno)") }
            done += n
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if os(Linux)
/// sync_file_range(2): glibc declares it only under _GNU_SOURCE, which the Glibc module does not
/// expose. Flag 2 = SYNC_FILE_RANGE_WRITE: start writing the dirty pages, do not wait.
@_silgen_name("sync_file_range")
private func vaultSyncFileRange(_ fd: Int32, _ offset: Int64, _ count: Int64, _ flags: UInt32) -> Int32
/// Starts the writeback of a file's range (count 0: to the end); a hint, errors are ignored.
func startWriteback(_ fd: Int32, offset: Int64 = 0, count: Int64 = 0) { _ = vaultSyncFileRange(fd, offset, count, 2) }
#else
func startWriteback(_ fd: Int32, offset: Int64 = 0, count: Int64 = 0) {}
#endif

/// Whether every byte is zero (8 bytes at a time).
func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let words = bytes.count / 8
    var i = 0
    while i < words {
        if bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != 0 { return false }
        i += 1
    }
    for j in (words * 8)..<bytes.count where bytes[j] != 0 { return false }
    return true
}

/// `withUnsafeBytes` keeping the closure's typed error.
func withBytes<T>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(VaultError) -> T) throws(VaultError) -> T {
    let r: Result<T, VaultError> = a.withUnsafeBytes { p in Result { () throws(VaultError) in try body(p) } }
    return try r.get()
}
