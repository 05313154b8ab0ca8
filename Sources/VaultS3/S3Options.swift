import Foundation
import Vault

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How to reach an S3 vault: the server (`--endpoint`), its region and where the key pair comes
/// from. The secret is never part of these options (they are stored in the catalog): it comes
/// from a 0600 credentials file or the environment.
public struct S3Options: Sendable, Equatable {
    /// `http(s)://host[:port]`; objects are addressed path-style (`/bucket/key`).
    public var endpoint: String
    public var region: String
    /// An AWS-style credentials file (`aws_access_key_id`, `aws_secret_access_key` under
    /// `[default]`), readable by its owner only.
    public var credentialsFile: String?
    /// Attempts per request (the first try included) on 5xx, 429/SlowDown and connection errors.
    public var maxAttempts = 5
    /// The first retry's wait; each further one doubles it.
    public var firstBackoff: Duration = .milliseconds(200)
    /// Most connections to the endpoint at once (the pool's limit; parallel PUTs need them).
    public var maxConnections = 16

    public init(endpoint: String, region: String? = nil, credentialsFile: String? = nil) {
        self.endpoint = endpoint
        self.region = region ?? "us-east-1"
        self.credentialsFile = credentialsFile
    }

    /// The key pair: from `credentialsFile` when set, else `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`). A credentials file that its group or
    /// others can read is refused.
    public func credentials(environment: [String: String] = ProcessInfo.processInfo.environment) throws(VaultError) -> S3Credentials {
        if let path = credentialsFile { return try Self.readCredentialsFile(path) }
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw .badLocation(reason: "s3: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add the vault with --credentials-file")
        }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Reads an AWS-style credentials file: `key = value` lines, the `[default]` section (or the
    /// lines before any section).
    static func readCredentialsFile(_ path: String) throws(VaultError) -> S3Credentials {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .backend(key: path, operation: "stat", errno: errno) }
        guard st.st_mode & 0o077 == 0 else {
            throw .badLocation(reason: "s3: credentials file \(path) is readable by others (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw .backend(key: path, operation: "read", errno: EIO) }
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard section.isEmpty || section == "default", let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw .badLocation(reason: "s3: credentials file \(path) has no aws_access_key_id and aws_secret_access_key under [default]")
        }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}
