import Foundation

/// One object a backend lists.
public struct VaultObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var modified: Date
    public init(key: String, size: Int64, modified: Date) {
        self.key = key
        self.size = size
        self.modified = modified
    }
}

/// Where a vault's objects live. Keys are `/`-separated relative paths (see VaultLayout).
/// Implementations must be safe to call from several threads at once.
public protocol VaultBackend: Sendable {
    /// Stores `bytes` under `key` unless it exists; true when this call created it. A reader
    /// never sees a partial object (temp name + link/rename); the object may be durable only
    /// after `flush()`.
    func putIfAbsent(_ key: String, _ bytes: [UInt8]) throws(VaultError) -> Bool
    /// Replaces (or creates) `key` atomically and durably (config, manifests, marks).
    func writeAtomic(_ key: String, _ bytes: [UInt8]) throws(VaultError)
    /// The object's bytes; `.missingObject` when absent.
    func get(_ key: String) throws(VaultError) -> [UInt8]
    func exists(_ key: String) throws(VaultError) -> Bool
    /// Every object whose key starts with `prefix` (a directory-like prefix ending in `/`, or "").
    func list(prefix: String) throws(VaultError) -> [VaultObjectInfo]
    /// Deletes `key`; deleting a missing key is not an error.
    func delete(_ key: String) throws(VaultError)
    /// Sets the object's modification time to now.
    func touch(_ key: String) throws(VaultError)
    /// Makes every object `putIfAbsent` created so far durable (their data and the directory
    /// entries); a send calls it before writing its manifest.
    func flush() throws(VaultError)
}
