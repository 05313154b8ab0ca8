import Foundation
import SnapshotEngine
import Testing

/// `kvmsnap serve` on a free loopback port for one test suite, with a curl-based client.
/// `stop()` ends the server (tests call it in `defer`).
final class PanelProcess: @unchecked Sendable {
    let child: ExternalProcess.Child
    let port: Int
    let token: String
    /// `http://127.0.0.1:PORT`, or with `tls:` `https://HOST:PORT`.
    let base: String
    /// The CA file that verifies the server's certificate (with `tls:`).
    let caFile: String?

    /// - Parameters:
    ///   - host: the address to listen on (an IPv4 literal).
    ///   - tls: a PEM certificate and key (`--tls-cert`, `--tls-key`); requests verify the certificate.
    ///   - captureOutput: keep serve's stdout and stderr for `stop()`'s outcome.
    init(
        _ cli: CLI, extraArguments: [String] = [], host: String = "127.0.0.1", tls: (cert: String, key: String)? = nil, captureOutput: Bool = false
    ) throws {
        port = try Self.freePort()
        base = "\(tls == nil ? "http" : "https")://\(host):\(port)"
        caFile = tls?.cert
        let tlsArguments = tls.map { ["--tls-cert", $0.cert, "--tls-key", $0.key] } ?? []
        child = try cli.start(["serve", "--listen", "\(host):\(port)"] + tlsArguments + extraArguments, captureOutput: captureOutput)
        do {
            let tokenFile = cli.store + "/panel-token"
            let deadline = Date().addingTimeInterval(60)
            while true {
                if let health = try? HTTP.request("GET", base + "/api/v1/health", caFile: caFile), health.status == 200 { break }
                if Date() > deadline { throw TestGuestError("kvmsnap serve did not answer on port \(port) within 60 s") }
                usleep(100_000)
            }
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            child.signal(SIGKILL)
            _ = child.wait()
            throw error
        }
    }

    /// SIGTERM (graceful: open responses end), SIGKILL if it still runs 10 s later.
    @discardableResult
    func stop() -> ExternalProcess.Outcome {
        child.signal(SIGTERM)
        return child.wait(timeout: .seconds(10))
    }

    /// A loopback port nobody listens on now (bound, read, closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestGuestError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// An API request with the bearer token.
    func api(_ method: String, _ path: String, json: Any? = nil) throws -> HTTP.Response {
        try HTTP.request(method, base + "/api/v1" + path, headers: ["Authorization": "Bearer \(token)"], json: json, caFile: caFile)
    }

    /// Logs in with the token (JSON): the session cookie and its CSRF token.
    func login() throws -> (cookie: String, csrf: String) {
        let response = try HTTP.request("POST", base + "/login", json: ["token": token], caFile: caFile)
        guard response.status == 200, let cookie = response.cookie, let csrf = (response.json as? [String: Any])?["csrf"] as? String else {
            throw TestGuestError("login failed: \(response.status) \(response.body)")
        }
        return (cookie, csrf)
    }
}

/// A small HTTP client over curl (which also sends what URLSession would refuse: `..`, raw paths).
enum HTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
        /// `name=value` of the Set-Cookie header.
        var cookie: String? { headers["set-cookie"]?.split(separator: ";").first.map(String.init) }
    }

    /// `caFile`: the PEM file that must verify an https server's certificate (curl --cacert).
    static func request(
        _ method: String, _ url: String, headers: [String: String] = [:], json: Any? = nil, rawBody: Data? = nil, timeout: Double = 300,
        caFile: String? = nil
    ) throws -> Response {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-http-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var arguments = [
            "-sS", "--path-as-is", "-X", method, "-D", scratch + "/headers", "-o", scratch + "/body", "-w", "%{http_code}", "--max-time", "\(Int(timeout))",
        ]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let caFile { arguments += ["--cacert", caFile] }
        let body = try rawBody ?? json.map { try JSONSerialization.data(withJSONObject: $0) }
        if let body {
            try body.write(to: URL(fileURLWithPath: scratch + "/request"))
            arguments += ["--data-binary", "@" + scratch + "/request"]
            if json != nil { arguments += ["-H", "Content-Type: application/json"] }
        }
        let outcome = try ExternalProcess.run("/usr/bin/curl", arguments + [url], timeout: .seconds(timeout + 10))
        guard outcome.status == 0, let status = Int(outcome.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestGuestError("curl \(method) \(url) failed: \(outcome.standardError)")
        }
        var fields: [String: String] = [:]
        let headerText = (try? String(contentsOfFile: scratch + "/headers", encoding: .utf8)) ?? ""
        for line in headerText.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let text = (try? String(contentsOfFile: scratch + "/body", encoding: .utf8)) ?? ""
        return Response(status: status, headers: fields, body: text)
    }
}
