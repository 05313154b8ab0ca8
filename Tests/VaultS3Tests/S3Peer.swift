import Foundation
import Testing
import Vault

@testable import VaultS3

/// The moto server scripts/lib/s3-peer.sh started: its settings file (`KVMSNAP_S3_ENV`, default
/// /tmp/kvmsnap-s3-peer/env). With `KVMSNAP_REQUIRE_INTEGRATION=1` a missing peer fails the
/// tests instead of skipping them.
struct S3Peer: Sendable {
    static let required = ProcessInfo.processInfo.environment["KVMSNAP_REQUIRE_INTEGRATION"] == "1"
    static let envFile = ProcessInfo.processInfo.environment["KVMSNAP_S3_ENV"] ?? "/tmp/kvmsnap-s3-peer/env"

    var endpoint: String
    var bucket: String
    var full: S3Credentials
    var appendOnly: S3Credentials

    static let current: S3Peer? = {
        guard let text = try? String(contentsOfFile: envFile, encoding: .utf8) else { return nil }
        var v: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            v[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard let endpoint = v["KVMSNAP_S3_ENDPOINT"], let bucket = v["KVMSNAP_S3_BUCKET"], let fk = v["KVMSNAP_S3_FULL_KEY"],
            let fs = v["KVMSNAP_S3_FULL_SECRET"], let ak = v["KVMSNAP_S3_APPEND_KEY"], let asec = v["KVMSNAP_S3_APPEND_SECRET"]
        else { return nil }
        return S3Peer(
            endpoint: endpoint, bucket: bucket, full: S3Credentials(accessKeyID: fk, secretAccessKey: fs),
            appendOnly: S3Credentials(accessKeyID: ak, secretAccessKey: asec))
    }()

    /// Run the suite when the peer is there, or when it is required (then it fails on `peer()`).
    static var enabled: Bool { required || current != nil }

    static func peer() throws -> S3Peer {
        try #require(current, "no S3 peer: scripts/test.sh starts one (scripts/lib/s3-peer.sh); settings file \(envFile) missing")
    }

    /// A backend under a fresh prefix of the test bucket.
    func backend(_ credentials: S3Credentials? = nil, prefix: String = "t-\(UUID().uuidString.lowercased())", options: S3Options? = nil)
        throws -> S3Backend
    {
        var o = options ?? S3Options(endpoint: endpoint)
        o.firstBackoff = .milliseconds(50)
        return try S3Backend(bucket: bucket, prefix: prefix, options: o, credentials: credentials ?? full)
    }
}
