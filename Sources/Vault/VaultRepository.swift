import Foundation
import KVMSnapCore

/// An opened vault: its config, keys (when encrypted and given) and backend.
/// Create with `create`, open with `open`; start sends with `beginSend`.
public final class VaultRepository: Sendable {
    public let backend: any VaultBackend
    public let config: VaultConfig
    public let codec: ChunkCodec
    /// Nil for a plain vault, and for an encrypted vault opened without a key (verify-only).
    public var keys: VaultKeys? { codec.keys }

    init(backend: any VaultBackend, config: VaultConfig, keys: VaultKeys?) {
        self.backend = backend
        self.config = config
        self.codec = ChunkCodec(keys: keys)
    }

    /// Creates a vault in an empty backend. `protection` nil: plain vault; otherwise a fresh
    /// master key (or `masterKey`, for tests and re-keying) is wrapped into `keys/wrapped`.
    public static func create(
        backend: any VaultBackend, protection: VaultKeyProtection?, masterKey: [UInt8]? = nil,
        cdc: CDCParameters = .default, chunkSize: Int64 = DiskChunkPlan.defaultChunkSize, now: Date = Date()
    ) throws(VaultError) -> VaultRepository {
        if try backend.exists(VaultLayout.config) { throw .alreadyExists(key: VaultLayout.config) }
        guard cdc.isValid, chunkSize > 0, chunkSize <= ChunkCodec.maxPlaintext else { throw .badConfig(reason: "chunk sizes out of range") }
        var keys: VaultKeys?
        if let protection {
            let k = try masterKey.map { (m) throws(VaultError) in try VaultKeys(master: m) } ?? VaultKeys.generate()
            let wrapped = try WrappedMasterKey.wrap(k, with: protection)
            try backend.writeAtomic(VaultLayout.wrappedKey, try json(wrapped))
            keys = k
        }
        let config = VaultConfig(
            formatVersion: VaultConfig.currentFormatVersion, vaultID: UUID().uuidString.lowercased(), chunkSize: chunkSize,
            cdc: cdc, encryption: keys == nil ? "none" : "aes-256-gcm", keyCheck: keys?.keyCheck, createdAt: now)
        // The config last: a vault without one is not a vault yet.
        try backend.writeAtomic(VaultLayout.config, try json(config))
        return VaultRepository(backend: backend, config: config, keys: keys)
    }

    /// Opens a vault. An encrypted vault opened with `key` nil can only list chunk references and
    /// verify that chunks exist and are framed; a wrong key is refused with `.wrongKey`.
    public static func open(backend: any VaultBackend, key: VaultKeySource?) throws(VaultError) -> VaultRepository {
        let config = try VaultConfig.decode(try backend.get(VaultLayout.config))
        guard config.isEncrypted, let key else { return VaultRepository(backend: backend, config: config, keys: nil) }
        let keys: VaultKeys
        if case .masterKey(let m) = key {
            keys = try VaultKeys(master: m)
        } else {
            let bytes = try backend.get(VaultLayout.wrappedKey)
            guard let wrapped = try? VaultJSON.decoder.decode(WrappedMasterKey.self, from: Data(bytes)) else {
                throw .badConfig(reason: "keys/wrapped is unreadable")
            }
            keys = try wrapped.unwrap(key)
        }
        guard keys.keyCheck == config.keyCheck else { throw .wrongKey }
        return VaultRepository(backend: backend, config: config, keys: keys)
    }

    /// The master key as a paper key (encrypted vaults opened with a key).
    public var paperKey: String? { keys.map { PaperKey.encode(masterKey: $0.master) } }

    static func json<T: Encodable>(_ value: T) throws(VaultError) -> [UInt8] {
        do { return Array(try VaultJSON.encoder.encode(value)) } catch { throw .badConfig(reason: "cannot encode: \(error)") }
    }

    func requireKeyIfEncrypted() throws(VaultError) {
        if config.isEncrypted && keys == nil { throw .keyRequired }
    }

    // MARK: chunks and indexes

    /// A chunk's plaintext, checked against its id.
    public func chunk(_ id: ChunkID) throws(VaultError) -> [UInt8] {
        try requireKeyIfEncrypted()
        let key = VaultLayout.chunk(id)
        return try codec.decode(try backend.get(key), id: id, key: key)
    }

    public func diskIndex(_ id: ChunkID) throws(VaultError) -> DiskIndex {
        try DiskIndex.decode(try chunk(id), key: VaultLayout.chunk(id))
    }

    public func streamIndex(_ id: ChunkID) throws(VaultError) -> StreamIndex {
        try StreamIndex.decode(try chunk(id), key: VaultLayout.chunk(id))
    }

    // MARK: manifests

    public func manifest(vmUUID: String, snapshot: String) throws(VaultError) -> VaultManifest {
        try manifest(key: VaultLayout.manifest(vmUUID: vmUUID, snapshot: snapshot))
    }

    public func manifest(key: String) throws(VaultError) -> VaultManifest {
        try requireKeyIfEncrypted()
        let opened = try ManifestCodec.decode(try backend.get(key), key: key, keys: keys, encrypted: config.isEncrypted)
        guard let m = opened.manifest else { throw .keyRequired }
        guard key == VaultLayout.manifest(vmUUID: m.vmUUID, snapshot: m.snapshot) else {
            throw .badManifest(key: key, reason: "names \(m.vmUUID)/\(m.snapshot), not its own key")
        }
        return m
    }

    /// Keys of every manifest (of one VM when `vmUUID` is given).
    public func manifestKeys(vmUUID: String? = nil) throws(VaultError) -> [String] {
        let prefix = vmUUID.map { "\(VaultLayout.snapshotsPrefix)\($0)/" } ?? VaultLayout.snapshotsPrefix
        return try backend.list(prefix: prefix).map(\.key).filter { $0.hasSuffix(VaultLayout.manifestSuffix) }
    }

    /// Chunk references of a manifest, without the key when the vault is encrypted.
    func chunkRefs(manifestKey key: String) throws(VaultError) -> [ChunkID] {
        try ManifestCodec.decode(try backend.get(key), key: key, keys: keys, encrypted: config.isEncrypted).chunkRefs
    }
}
