import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A local key file: 32 random bytes (the key-encryption key of `keys/wrapped`), mode 0600.
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

    /// Reads a key file; refuses one readable by group or others, or not 32 bytes long.
    public static func read(from path: String) throws(VaultError) -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw .missingObject(key: path) }
            throw .backend(key: path, operation: "stat", errno: errno)
        }
        guard st.st_mode & 0o077 == 0 else { throw .crypto(reason: "key file \(path) is accessible by others (mode must be 0600)") }
        guard let data = FileManager.default.contents(atPath: path), data.count == 32 else {
            throw .crypto(reason: "key file \(path) must hold exactly 32 bytes")
        }
        return Array(data)
    }
}
