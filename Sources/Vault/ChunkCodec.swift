import Crypto
import Foundation
import KVMSnapCore

/// Turns plaintext into chunk objects and back.
///
/// Object layout: magic `KVC1`, codec byte (0 raw, 1 zstd), cipher byte (0 none, 1 AES-256-GCM),
/// payload. Encrypted payload = nonce (12) + ciphertext + tag (16) over the (compressed) bytes,
/// associated data = the 32 id bytes, so an object renamed to another id fails authentication.
public struct ChunkCodec: Sendable {
    static let magic: [UInt8] = Array("KVC1".utf8)
    static let headerLength = 6
    public static let maxPlaintext = 64 << 20

    public let keys: VaultKeys?
    public let level: Int32

    public init(keys: VaultKeys?, level: Int32 = 3) {
        self.keys = keys
        self.level = level
    }

    public var isEncrypted: Bool { keys != nil }

    /// SHA-256 (plain) or HMAC-SHA256 with the id key (encrypted) of the plaintext.
    public func id(of plaintext: UnsafeRawBufferPointer) -> ChunkID {
        let digest: [UInt8]
        if let keys {
            digest = Array(HMAC<SHA256>.authenticationCode(for: plaintext, using: keys.idKey))
        } else {
            digest = Array(SHA256.hash(data: plaintext))
        }
        // SHA-256 and HMAC-SHA256 always give 32 bytes.
        return ChunkID(bytes: digest) ?? .zero
    }

    public func id(of plaintext: [UInt8]) -> ChunkID { plaintext.withUnsafeBytes { id(of: $0) } }

    public func encode(_ plaintext: UnsafeRawBufferPointer, id: ChunkID) throws(VaultError) -> [UInt8] {
        // Random-looking data (most of a VM disk's used blocks are compressed or encrypted
        // already) is stored raw without paying for a full compression that would not shrink it.
        let incompressible = Zstd.looksIncompressible(plaintext)
        guard let keys else {
            // Plain: the frame is written behind the header in place.
            if !incompressible, let object = Zstd.compress(plaintext, level: level, prefix: Self.magic + [1, 0]) { return object }
            return Self.magic + [0, 0] + plaintext
        }
        let compressed = incompressible ? nil : Zstd.compress(plaintext, level: level)
        var object = Self.magic
        object.append(compressed == nil ? 0 : 1)
        object.append(1)
        do {
            let box =
                try
                (compressed.map { c in try AES.GCM.seal(c, using: keys.encKey, authenticating: id.bytes) }
                ?? AES.GCM.seal(plaintext, using: keys.encKey, authenticating: id.bytes))
            guard let combined = box.combined else { throw VaultError.crypto(reason: "no combined box") }
            object += combined
        } catch { throw .crypto(reason: "\(error)") }
        return object
    }

    public func encode(_ plaintext: [UInt8], id: ChunkID) throws(VaultError) -> [UInt8] {
        try withBytes(plaintext) { (p) throws(VaultError) in try encode(p, id: id) }
    }

    /// Decodes an object read under `key` and checks that its plaintext has the id `id`.
    public func decode(_ object: [UInt8], id: ChunkID, key: String) throws(VaultError) -> [UInt8] {
        if let problem = Self.structuralProblem(object) { throw .corruptChunk(key: key, reason: problem) }
        let codec = object[4], cipher = object[5]
        // The payload stays a slice of the object (no copy) unless it is decrypted.
        var payload = object[Self.headerLength...]
        if cipher == 1 {
            guard let keys else { throw .keyRequired }
            do {
                let box = try AES.GCM.SealedBox(combined: payload)
                payload = Array(try AES.GCM.open(box, using: keys.encKey, authenticating: id.bytes))[...]
            } catch { throw .corruptChunk(key: key, reason: "authentication failed") }
        } else if keys != nil {
            throw .corruptChunk(key: key, reason: "unencrypted object in an encrypted vault")
        }
        let plain: [UInt8]
        if codec == 1 {
            let r: Result<[UInt8], VaultError> = payload.withUnsafeBytes { p in
                Result { () throws(VaultError) in try Zstd.decompress(p, maxSize: Self.maxPlaintext) }
            }
            do { plain = try r.get() } catch { throw .corruptChunk(key: key, reason: "\(error)") }
        } else {
            plain = Array(payload)
        }
        guard self.id(of: plain) == id else { throw .corruptChunk(key: key, reason: "content does not match its id") }
        return plain
    }

    /// What is wrong with an object's framing (checkable without the key), nil when nothing.
    public static func structuralProblem(_ object: [UInt8]) -> String? {
        guard object.count >= headerLength, Array(object[0..<4]) == magic else { return "bad header" }
        guard object[4] <= 1 else { return "unknown codec \(object[4])" }
        guard object[5] <= 1 else { return "unknown cipher \(object[5])" }
        if object[5] == 1, object.count < headerLength + 12 + 16 { return "truncated (no room for nonce and tag)" }
        return nil
    }
}
