/// Where a vault lives, parsed from what the user typed in `kvmsnap vault add NAME LOCATION`.
///
/// - `/abs/path`: a directory (local disk, NFS/SMB mount, USB disk).
/// - `ssh://[user@]host[:port]/path`: a directory on another host, reached through the system
///   OpenSSH client (its config, keys, agent and known_hosts apply).
/// - `s3://bucket/prefix`: an S3-compatible bucket (endpoint, region and credentials come from
///   the vault's options, not from the location).
public enum VaultLocation: Sendable, Equatable, CustomStringConvertible {
    case directory(path: String)
    case ssh(user: String?, host: String, port: Int?, path: String)
    case s3(bucket: String, prefix: String)

    public init(parsing text: String) throws(VaultError) {
        if text.hasPrefix("/") {
            guard !text.contains("\0") else { throw .badLocation(reason: "vault location contains a NUL byte") }
            self = .directory(path: text)
        } else if text.hasPrefix("ssh://") {
            self = try Self.parseSSH(String(text.dropFirst("ssh://".count)), original: text)
        } else if text.hasPrefix("s3://") {
            self = try Self.parseS3(String(text.dropFirst("s3://".count)), original: text)
        } else {
            throw .badLocation(reason: "vault location must be an absolute path, ssh://[user@]host[:port]/path or s3://bucket/prefix, not '\(text)'")
        }
    }

    private static func parseSSH(_ rest: String, original: String) throws(VaultError) -> VaultLocation {
        guard let slash = rest.firstIndex(of: "/") else { throw .badLocation(reason: "ssh location '\(original)' has no path") }
        var authority = String(rest[..<slash])
        let path = String(rest[slash...])
        var user: String?
        if let at = authority.lastIndex(of: "@") {
            user = String(authority[..<at])
            authority = String(authority[authority.index(after: at)...])
        }
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw .badLocation(reason: "ssh location '\(original)' has a bad port")
            }
            port = p
            authority = String(authority[..<colon])
        }
        if authority.hasPrefix("[") && authority.hasSuffix("]") { authority = String(authority.dropFirst().dropLast()) }
        // Nothing ssh(1) would read as an option or a second argument.
        let hostOK = !authority.isEmpty && !authority.hasPrefix("-") && authority.allSatisfy { $0.isLetter || $0.isNumber || ".-_:".contains($0) }
        let userOK = user.map { !$0.isEmpty && !$0.hasPrefix("-") && $0.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) } } ?? true
        guard hostOK, userOK else { throw .badLocation(reason: "ssh location '\(original)' has a bad user or host") }
        guard path.count > 1, !path.contains("\0"), !path.split(separator: "/").contains("..") else {
            throw .badLocation(reason: "ssh location '\(original)' needs an absolute path without '..'")
        }
        return .ssh(user: user, host: authority, port: port, path: path)
    }

    private static func parseS3(_ rest: String, original: String) throws(VaultError) -> VaultLocation {
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = String(parts[0])
        var prefix = parts.count > 1 ? String(parts[1]) : ""
        while prefix.hasSuffix("/") { prefix.removeLast() }
        // S3 bucket naming rules (3 to 63 lowercase letters, digits, dots and hyphens).
        let bucketOK = (3...63).contains(bucket.count) && bucket.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || ".-".contains($0) }
        guard bucketOK else { throw .badLocation(reason: "s3 location '\(original)' has a bad bucket name") }
        guard !prefix.contains("\0"), !prefix.split(separator: "/").contains("..") else {
            throw .badLocation(reason: "s3 location '\(original)' has a bad prefix")
        }
        return .s3(bucket: bucket, prefix: prefix)
    }

    public var description: String {
        switch self {
        case .directory(let path): path
        case .ssh(let user, let host, let port, let path):
            "ssh://\(user.map { "\($0)@" } ?? "")\(host.contains(":") ? "[\(host)]" : host)\(port.map { ":\($0)" } ?? "")\(path)"
        case .s3(let bucket, let prefix): "s3://\(bucket)\(prefix.isEmpty ? "" : "/\(prefix)")"
        }
    }
}
