/// Every failure of the vault layer. Cases that concern one object name its key, so a user can
/// find it (`chunks/ab/ab12…`, `snapshots/<uuid>/s1.manifest`).
public enum VaultError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A backend operation failed (`operation` is e.g. `open`, `rename`, `fsync`).
    case backend(key: String, operation: String, errno: Int32)
    case missingObject(key: String)
    /// A chunk object is damaged: bad header, failed authentication, wrong id after decode.
    case corruptChunk(key: String, reason: String)
    /// A manifest is truncated, tampered with or unreadable.
    case badManifest(key: String, reason: String)
    /// An index chunk decodes but its layout is wrong.
    case badIndex(key: String, reason: String)
    case badConfig(reason: String)
    /// A vault location that is not a directory path, ssh:// or s3:// location.
    case badLocation(reason: String)
    case unsupportedFormat(key: String, version: Int)
    /// The key given does not open this vault.
    case wrongKey
    /// The operation needs the vault key and none was given.
    case keyRequired
    case badPaperKey(reason: String)
    case alreadyExists(key: String)
    case invalidName(String)
    case compression(reason: String)
    case crypto(reason: String)
    /// A block source or stream could not be read (message from the source).
    case source(String)
    /// A block sink or output file could not be written (message from the sink).
    case sink(String)
    /// The gc did not run because a send or another gc holds a live mark.
    case busy(String)
    /// A request to a remote backend failed. `backend` names it (`s3://bucket/prefix`),
    /// `status` is the HTTP status (0: no answer), `code` the server's error code
    /// (`AccessDenied`, `SignatureDoesNotMatch`) or the connection error, `message` its text.
    case remote(backend: String, key: String, operation: String, status: Int, code: String, message: String)
    /// A remote backend (`ssh://…`) failed: the connection, the transport or the far side.
    case connection(backend: String, key: String, reason: String)
    /// The far side runs append-only and refused to delete, overwrite or gc (`operation`) `key`.
    case appendOnly(backend: String, key: String, operation: String)

    public var description: String {
        switch self {
        case .backend(let key, let op, let errno): "vault: \(op) \(key) failed: errno \(errno) (\(String(cString: strerrorText(errno))))"
        case .missingObject(let key): "vault: missing object \(key)"
        case .corruptChunk(let key, let reason): "vault: corrupt chunk \(key): \(reason)"
        case .badManifest(let key, let reason): "vault: bad manifest \(key): \(reason)"
        case .badIndex(let key, let reason): "vault: bad index \(key): \(reason)"
        case .badConfig(let reason): "vault: bad config: \(reason)"
        case .badLocation(let reason): "vault: \(reason)"
        case .unsupportedFormat(let key, let version): "vault: \(key) has format version \(version), this kvmsnap reads version 1"
        case .wrongKey: "vault: the key does not open this vault (key check failed)"
        case .keyRequired: "vault: this vault is encrypted; a key is required"
        case .badPaperKey(let reason): "vault: bad paper key: \(reason)"
        case .alreadyExists(let key): "vault: \(key) already exists"
        case .invalidName(let name): "vault: invalid name \"\(name)\""
        case .compression(let reason): "vault: compression failed: \(reason)"
        case .crypto(let reason): "vault: crypto failed: \(reason)"
        case .source(let message): "vault: reading the source failed: \(message)"
        case .sink(let message): "vault: writing the target failed: \(message)"
        case .busy(let message): "vault: busy: \(message)"
        case .remote(let backend, let key, let op, let status, let code, let message):
            "vault: \(backend): \(op) \(key.isEmpty ? "(bucket)" : key) failed: "
                + (status == 0 ? "no answer (\(code))" : "HTTP \(status) \(code)") + (message.isEmpty ? "" : ": \(message)")
        case .connection(let backend, let key, let reason): "vault \(backend): \(key): \(reason)"
        case .appendOnly(let backend, let key, let operation):
            "vault \(backend): \(operation) of \(key) refused: the server is append-only (prune and gc need a full-access key)"
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

private func strerrorText(_ e: Int32) -> UnsafeMutablePointer<CChar> { strerror(e) }
