import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Vault

/// A vault in an S3-compatible bucket (MinIO, Ceph RGW, Garage, AWS), under a key prefix,
/// addressed path-style (`<endpoint>/<bucket>/<prefix>/<key>`), signed with SigV4.
///
/// - `putIfAbsent`: a PUT with `If-None-Match: *` (412 PreconditionFailed: it existed). A server
///   that ignores the header overwrites, which for a content-addressed chunk stores the same bytes;
///   the send pipeline asks `exists` (HEAD) first anyway.
/// - `writeAtomic`: a plain PUT; S3 never shows a partial object.
/// - `touch`: a copy of the object onto itself with `x-amz-metadata-directive: REPLACE`.
/// - `flush`: nothing to do (a PUT is durable when it answers 200).
///
/// Synchronous: each call waits for its request on the calling thread (never call it from an
/// event loop). Safe from several threads; the connection pool bounds parallel requests.
/// Retries 5xx, 429/SlowDown and connection errors with exponential backoff, then fails with
/// ``VaultError/remote(backend:key:operation:status:code:message:)`` naming the object.
public final class S3Backend: VaultBackend {
    public let bucket: String
    public let prefix: String
    public let options: S3Options
    let signer: SigV4Signer
    let scheme: String
    let hostHeader: String
    let baseURL: String
    let client: HTTPClient
    /// `s3://bucket/prefix`: how errors name this backend.
    public var name: String { "s3://\(bucket)\(prefix.isEmpty ? "" : "/\(prefix)")" }

    public init(bucket: String, prefix: String, options: S3Options, credentials: S3Credentials) throws(VaultError) {
        self.bucket = bucket
        self.prefix = prefix
        self.options = options
        self.signer = SigV4Signer(credentials: credentials, region: options.region)
        guard let url = URL(string: options.endpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil
        else {
            throw .badLocation(reason: "s3: endpoint '\(options.endpoint)' must be http(s)://host[:port]")
        }
        self.scheme = scheme
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        self.hostHeader = url.port.map { $0 == defaultPort ? bracketed : "\(bracketed):\($0)" } ?? bracketed
        self.baseURL = "\(scheme)://\(hostHeader)"
        self.client = S3HTTP.client(maxConnections: options.maxConnections)
    }

    /// The bucket path of a vault key (unencoded): `/bucket/prefix/key`.
    func path(_ key: String) -> String { "/\(bucket)/\(objectKey(key))" }
    func objectKey(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix)/\(key)" }

    // MARK: VaultBackend

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) throws(VaultError) -> Bool {
        let r = try send("PUT", key: key, headers: [("If-None-Match", "*")], body: bytes, accept: [200, 412])
        return r.status == 200
    }

    public func writeAtomic(_ key: String, _ bytes: [UInt8]) throws(VaultError) {
        _ = try send("PUT", key: key, body: bytes, accept: [200])
    }

    public func get(_ key: String) throws(VaultError) -> [UInt8] {
        let r = try send("GET", key: key, accept: [200, 404])
        guard r.status == 200 else { throw .missingObject(key: key) }
        return r.body
    }

    public func exists(_ key: String) throws(VaultError) -> Bool {
        try send("HEAD", key: key, accept: [200, 404]).status == 200
    }

    public func delete(_ key: String) throws(VaultError) {
        _ = try send("DELETE", key: key, accept: [200, 204, 404])
    }

    public func touch(_ key: String) throws(VaultError) {
        let source = SigV4Signer.uriEncode(path(key), keepSlash: true)
        let headers = [("x-amz-copy-source", source), ("x-amz-metadata-directive", "REPLACE")]
        let r = try send("PUT", key: key, headers: headers, accept: [200, 404])
        guard r.status == 200 else { throw .missingObject(key: key) }
        // A copy can fail after its 200 (the error is in the body).
        if let error = S3XML.error(r.body) { throw remoteError("PUT (copy)", key: key, status: 200, error: error) }
    }

    public func flush() throws(VaultError) {}

    /// ListObjectsV2, every page. `maxKeys` sets the page size (the server's default is 1000).
    public func list(prefix listPrefix: String) throws(VaultError) -> [VaultObjectInfo] { try list(prefix: listPrefix, maxKeys: nil) }

    public func list(prefix listPrefix: String, maxKeys: Int?) throws(VaultError) -> [VaultObjectInfo] {
        var out: [VaultObjectInfo] = []
        var token: String?
        let strip = prefix.isEmpty ? 0 : prefix.count + 1
        repeat {
            var query = [("list-type", "2"), ("prefix", objectKey(listPrefix))]
            if let token { query.append(("continuation-token", token)) }
            if let maxKeys { query.append(("max-keys", String(maxKeys))) }
            let r = try send("GET", key: listPrefix, bucketLevel: true, query: query, accept: [200])
            let page = S3XML.listPage(r.body)
            for o in page.objects where o.key.count >= strip {
                out.append(VaultObjectInfo(key: String(o.key.dropFirst(strip)), size: o.size, modified: o.modified))
            }
            token = page.isTruncated ? page.nextToken : nil
        } while token != nil
        return out.sorted { $0.key < $1.key }
    }

    /// Creates the bucket when the server says it does not exist (`vault add` on a fresh
    /// server). A key that may not look at the bucket (403) leaves it to the first write to fail.
    public func ensureBucket() throws(VaultError) {
        let head = try send("HEAD", key: "", bucketLevel: true, accept: [200, 403, 404])
        guard head.status == 404 else { return }
        _ = try send("PUT", key: "", bucketLevel: true, accept: [200, 409])
    }
}

/// The one HTTP client of all S3 backends in this process (a pool per endpoint). Never shut
/// down: it lives as long as the process.
enum S3HTTP {
    private static let shared = Mutex<HTTPClient?>(nil)

    static func client(maxConnections: Int) -> HTTPClient {
        shared.withLock { client in
            if let client { return client }
            var configuration = HTTPClient.Configuration(
                timeout: .init(connect: .seconds(3), read: .seconds(60)),
                connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, maxConnections)))
            configuration.decompression = .disabled
            let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            client = made
            return made
        }
    }
}
