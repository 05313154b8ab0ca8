import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A local key file, mode 0600: 32 random bytes (the key-encryption key of `keys/wrapped`), or
/// the 64-byte master key itself (written when a vault is attached with its paper key or
/// passphrase, so later commands need neither).
public enum VaultKeyFile {
    public static func generate() -> [UInt8] { randomBytes(32) }

    /// Creates `path` (never replaces one) with mode 0600 and fsyncs it.
    public static func write(_ key: [UInt8], to path: String) throws(VaultError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw .alreadyExists(key: path) }
            throw .backend(key: path, operation: "create", errno: errno)
        }
        defer { close(fd) }
        let n = key.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == key.count else { throw .backend(key: path, operation: "write", errno: errno) }
        guard fsync(fd) == 0 else { throw .backend(key: path, operation: "fsync", errno: errno) }
    }

    /// What a key file's bytes open: 64 bytes are the master key, 32 a key-encryption key.
    public static func source(_ bytes: [UInt8]) -> VaultKeySource {
        bytes.count == VaultKeys.masterKeyLength ? .masterKey(bytes) : .keyFile(bytes)
    }

    /// Reads a key file; refuses one readable by group or others, not a regular file, or not 32
    /// or 64 bytes long. The size is checked with stat(2) first, so a huge file is never read.
    public static func read(from path: String) throws(VaultError) -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw .missingObject(key: path) }
            throw .backend(key: path, operation: "stat", errno: errno)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .crypto(reason: "key file \(path) is not a regular file") }
        guard st.st_mode & 0o077 == 0 else { throw .crypto(reason: "key file \(path) is accessible by others (mode must be 0600)") }
        let lengths = [32, VaultKeys.masterKeyLength]
        guard lengths.contains(Int(st.st_size)) else { throw .crypto(reason: "key file \(path) must hold exactly 32 or 64 bytes") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .backend(key: path, operation: "open", errno: errno) }
        defer { close(fd) }
        // One byte more than the largest key: a file that grew since the stat is refused too.
        var buffer = [UInt8](repeating: 0, count: VaultKeys.masterKeyLength + 1)
        var count = 0
        while count < buffer.count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .backend(key: path, operation: "read", errno: errno) }
            if n == 0 { break }
            count += n
        }
        guard lengths.contains(count) else { throw .crypto(reason: "key file \(path) must hold exactly 32 or 64 bytes") }
        return Array(buffer[..<count])
    }
}
