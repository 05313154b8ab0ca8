import Crypto
import Foundation
import KVMSnapCore

/// The vault's `config` object (JSON, written once at creation).
public struct VaultConfig: Sendable, Equatable, Codable {
    public static let currentFormatVersion = 1
    public var formatVersion: Int
    public var vaultID: String
    public var chunkSize: Int64
    public var cdc: CDCParameters
    /// `none` or `aes-256-gcm`.
    public var encryption: String
    /// Encrypted vaults: hex HMAC-SHA256(macKey, "kvmsnap-vault-v1 key check").
    public var keyCheck: String?
    public var createdAt: Date

    public var isEncrypted: Bool { encryption != "none" }

    public static func decode(_ bytes: [UInt8]) throws(VaultError) -> VaultConfig {
        struct Version: Decodable { var formatVersion: Int }
        do {
            let v = try VaultJSON.decoder.decode(Version.self, from: Data(bytes))
            guard v.formatVersion == currentFormatVersion else {
                throw VaultError.unsupportedFormat(key: VaultLayout.config, version: v.formatVersion)
            }
            let c = try VaultJSON.decoder.decode(VaultConfig.self, from: Data(bytes))
            guard c.cdc.isValid, c.chunkSize > 0, c.chunkSize <= ChunkCodec.maxPlaintext,
                ["none", "aes-256-gcm"].contains(c.encryption)
            else {
                throw VaultError.badConfig(reason: "values out of range")
            }
            return c
        } catch let e as VaultError { throw e } catch { throw .badConfig(reason: "\(error)") }
    }
}

/// Manifest files: the manifest JSON plus an authentication trailer.
/// - plain: `<manifest JSON>\nsha256:<hex SHA-256 of the JSON bytes>`
/// - encrypted: `<envelope JSON>\nhmac:<hex HMAC-SHA256(macKey, envelope bytes)>`, the envelope
///   holding `formatVersion`, `vmUUID`, `chunkRefs` and `sealed` = base64(AES-256-GCM combined
///   nonce + ciphertext + tag of the manifest JSON, associated data "kvmsnap-vault-v1 manifest").
enum ManifestCodec {
    static let associatedData = Array("kvmsnap-vault-v1 manifest".utf8)

    struct Envelope: Codable {
        var formatVersion: Int
        var vmUUID: String
        var chunkRefs: [ChunkID]
        var sealed: String
    }

    /// What a manifest file says; `manifest` is nil when it is sealed and no key was given.
    struct Opened {
        var manifest: VaultManifest?
        var chunkRefs: [ChunkID]
    }

    static func encode(_ m: VaultManifest, keys: VaultKeys?) throws(VaultError) -> [UInt8] {
        let key = VaultLayout.manifest(vmUUID: m.vmUUID, snapshot: m.snapshot)
        do {
            let json = try m.canonicalJSON()
            guard let keys else {
                return Array(json) + Array("\nsha256:\(Hex.encode(sha256Digest(json)))".utf8)
            }
            let box = try AES.GCM.seal(json, using: keys.encKey, authenticating: associatedData)
            guard let combined = box.combined else { throw VaultError.crypto(reason: "no combined box") }
            let env = Envelope(
                formatVersion: m.formatVersion, vmUUID: m.vmUUID, chunkRefs: m.chunkRefs,
                sealed: combined.base64EncodedString())
            let envJSON = try VaultJSON.encoder.encode(env)
            return Array(envJSON) + Array("\nhmac:\(keys.mac(envJSON))".utf8)
        } catch let e as VaultError { throw e } catch { throw .badManifest(key: key, reason: "cannot encode: \(error)") }
    }

    static func decode(_ bytes: [UInt8], key: String, keys: VaultKeys?, encrypted: Bool) throws(VaultError) -> Opened {
        guard let nl = bytes.lastIndex(of: UInt8(ascii: "\n")) else { throw .badManifest(key: key, reason: "no checksum line (truncated?)") }
        let body = Data(bytes[..<nl])
        let trailer = String(decoding: bytes[(nl + 1)...], as: UTF8.self)
        if !encrypted {
            guard trailer == "sha256:\(Hex.encode(sha256Digest(body)))" else {
                throw .badManifest(key: key, reason: "checksum mismatch (truncated or modified)")
            }
            let m = try parse(body, key: key)
            return Opened(manifest: m, chunkRefs: m.chunkRefs)
        }
        guard trailer.hasPrefix("hmac:"), trailer.count == 69 else { throw .badManifest(key: key, reason: "no MAC line (truncated?)") }
        let env: Envelope
        do { env = try VaultJSON.decoder.decode(Envelope.self, from: body) } catch {
            throw .badManifest(key: key, reason: "envelope unreadable (truncated or modified)")
        }
        guard env.formatVersion == VaultManifest.currentFormatVersion else { throw .unsupportedFormat(key: key, version: env.formatVersion) }
        guard let keys else { return Opened(manifest: nil, chunkRefs: env.chunkRefs) }
        guard trailer == "hmac:\(keys.mac(body))" else { throw .badManifest(key: key, reason: "MAC mismatch (modified, or another vault's key)") }
        guard let sealed = Data(base64Encoded: env.sealed), let box = try? AES.GCM.SealedBox(combined: sealed),
            let json = try? AES.GCM.open(box, using: keys.encKey, authenticating: associatedData)
        else {
            throw .badManifest(key: key, reason: "sealed manifest fails authentication")
        }
        let m = try parse(json, key: key)
        guard m.chunkRefs == env.chunkRefs, m.vmUUID == env.vmUUID else { throw .badManifest(key: key, reason: "envelope disagrees with sealed manifest") }
        return Opened(manifest: m, chunkRefs: m.chunkRefs)
    }

    private static func parse(_ json: Data, key: String) throws(VaultError) -> VaultManifest {
        struct Version: Decodable { var formatVersion: Int }
        guard let v = try? VaultJSON.decoder.decode(Version.self, from: json) else { throw .badManifest(key: key, reason: "not JSON") }
        guard v.formatVersion == VaultManifest.currentFormatVersion else { throw .unsupportedFormat(key: key, version: v.formatVersion) }
        do { return try VaultManifest.decodeJSON(json) } catch { throw .badManifest(key: key, reason: "unreadable: \(error)") }
    }
}

func sha256Digest(_ d: Data) -> [UInt8] { Array(SHA256.hash(data: d)) }
