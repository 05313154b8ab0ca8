import Crypto
import Foundation
import KVMSnapCore
import _CryptoExtras

/// The keys of an encrypted vault: a random 64-byte master key and the three subkeys HKDF-SHA256
/// derives from it (salt empty, info `kvmsnap-vault-v1 <name>`, 32 bytes each).
// SymmetricKey is not Sendable in swift-crypto 3.12; these keys are immutable after init.
public struct VaultKeys: @unchecked Sendable {
    public static let masterKeyLength = 64
    static let keyCheckMessage = Array("kvmsnap-vault-v1 key check".utf8)

    public let master: [UInt8]
    /// AES-256-GCM key of chunks and sealed manifests.
    let encKey: SymmetricKey
    /// HMAC-SHA256 key naming chunks.
    let idKey: SymmetricKey
    /// HMAC-SHA256 key authenticating manifests and the key check.
    let macKey: SymmetricKey

    public init(master: [UInt8]) throws(VaultError) {
        guard master.count == Self.masterKeyLength else {
            throw .crypto(reason: "master key must be \(Self.masterKeyLength) bytes, got \(master.count)")
        }
        self.master = master
        let ikm = SymmetricKey(data: master)
        func sub(_ name: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, info: Array("kvmsnap-vault-v1 \(name)".utf8), outputByteCount: 32)
        }
        encKey = sub("enc")
        idKey = sub("id")
        macKey = sub("mac")
    }

    public static func generate() -> VaultKeys {
        // The master length is fixed, so init cannot fail.
        guard let keys = try? VaultKeys(master: randomBytes(masterKeyLength)) else { fatalError("unreachable") }
        return keys
    }

    /// Hex HMAC-SHA256(macKey, "kvmsnap-vault-v1 key check"), stored in the config.
    public var keyCheck: String {
        Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Self.keyCheckMessage, using: macKey)))
    }

    func mac(_ bytes: some DataProtocol) -> String {
        Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: bytes, using: macKey)))
    }
}

func randomBytes(_ count: Int) -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// What opens an encrypted vault.
public enum VaultKeySource: Sendable {
    /// The 32-byte key-encryption key of a key file (unwraps `keys/wrapped`).
    case keyFile([UInt8])
    /// A passphrase (scrypt-derived key-encryption key unwraps `keys/wrapped`).
    case passphrase(String)
    /// The master key itself (e.g. decoded from a paper key); `keys/wrapped` is not needed.
    case masterKey([UInt8])
}

/// How a new encrypted vault protects its master key.
public enum VaultKeyProtection: Sendable {
    case keyFile([UInt8])
    case passphrase(String, ScryptParameters = .default)
}

/// scrypt cost parameters (N = 2^logN).
public struct ScryptParameters: Sendable, Hashable, Codable {
    public var logN: Int
    public var r: Int
    public var p: Int
    public static let `default` = ScryptParameters(logN: 15, r: 8, p: 1)
    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }
}

/// `keys/wrapped`: the master key sealed with AES-256-GCM by a key-encryption key (KEK).
struct WrappedMasterKey: Codable {
    var formatVersion: Int
    /// `keyfile` or `scrypt`.
    var kek: String
    /// Base64 salt for scrypt.
    var salt: String?
    var scrypt: ScryptParameters?
    /// Base64 of nonce (12) + ciphertext (64) + tag (16); associated data "kvmsnap-vault-v1 master key".
    var sealed: String

    static let associatedData = Array("kvmsnap-vault-v1 master key".utf8)

    static func wrap(_ keys: VaultKeys, with protection: VaultKeyProtection) throws(VaultError) -> WrappedMasterKey {
        let kek: SymmetricKey, kind: String, salt: [UInt8]?, params: ScryptParameters?
        switch protection {
        case .keyFile(let bytes):
            kek = try keyFileKEK(bytes); kind = "keyfile"; salt = nil; params = nil
        case .passphrase(let phrase, let p):
            let s = randomBytes(16)
            kek = try scryptKEK(phrase, salt: s, p); kind = "scrypt"; salt = s; params = p
        }
        do {
            let box = try AES.GCM.seal(keys.master, using: kek, authenticating: associatedData)
            guard let combined = box.combined else { throw VaultError.crypto(reason: "no combined box") }
            return WrappedMasterKey(
                formatVersion: 1, kek: kind, salt: salt.map { Data($0).base64EncodedString() },
                scrypt: params, sealed: combined.base64EncodedString())
        } catch { throw .crypto(reason: "\(error)") }
    }

    func unwrap(_ source: VaultKeySource) throws(VaultError) -> VaultKeys {
        let kek: SymmetricKey
        switch source {
        case .masterKey(let m): return try VaultKeys(master: m)
        case .keyFile(let bytes): kek = try Self.keyFileKEK(bytes)
        case .passphrase(let phrase):
            guard self.kek == "scrypt", let s = salt.flatMap({ Data(base64Encoded: $0) }), let p = scrypt else {
                throw .wrongKey
            }
            kek = try Self.scryptKEK(phrase, salt: Array(s), p)
        }
        guard let data = Data(base64Encoded: sealed) else { throw .badConfig(reason: "keys/wrapped: sealed is not base64") }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            return try VaultKeys(master: Array(try AES.GCM.open(box, using: kek, authenticating: Self.associatedData)))
        } catch { throw .wrongKey }
    }

    static func keyFileKEK(_ bytes: [UInt8]) throws(VaultError) -> SymmetricKey {
        guard bytes.count == 32 else { throw .crypto(reason: "a key file holds 32 bytes, got \(bytes.count)") }
        return SymmetricKey(data: bytes)
    }

    static func scryptKEK(_ phrase: String, salt: [UInt8], _ p: ScryptParameters) throws(VaultError) -> SymmetricKey {
        guard (10...22).contains(p.logN), (1...32).contains(p.r), (1...16).contains(p.p) else {
            throw .badConfig(reason: "scrypt parameters out of range")
        }
        do {
            return try KDF.Scrypt.deriveKey(
                from: Array(phrase.utf8), salt: salt, outputByteCount: 32,
                rounds: 1 << p.logN, blockSize: p.r, parallelism: p.p)
        } catch { throw .crypto(reason: "scrypt: \(error)") }
    }
}
