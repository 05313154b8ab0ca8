import Foundation
import KVMSnapCore

/// An `http(s)://host[:port]/path` URL taken apart. Credentials in the URL are refused (they
/// would land in the catalog and in `notify list`: use a token file).
public struct HTTPEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// https: TLS with the host's certificate verified.
    public var tls: Bool
    /// Path and query, at least `/`.
    public var target: String

    public static func parse(_ text: String) throws(NotifyError) -> HTTPEndpoint {
        guard !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } ?? false }) else {
            throw NotifyError(.invalidInput, "bad URL '\(Bounds.clip(text))': no spaces or control characters")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw NotifyError(.invalidInput, "bad URL '\(Bounds.clip(text))': expected http(s)://HOST[:PORT]/PATH")
        }
        guard scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw NotifyError(.invalidInput, "bad URL '\(Bounds.clip(text))': expected http(s)://HOST[:PORT]/PATH")
        }
        guard components.user == nil, components.password == nil else {
            throw NotifyError(.invalidInput, "the URL holds credentials: put a token in a 0600 file and give --token-file instead")
        }
        if let secret = URLSecrets.firstSecret(
            path: components.percentEncodedPath, query: components.percentEncodedQuery, fragment: components.percentEncodedFragment)
        {
            throw NotifyError(
                .invalidInput,
                "the URL's \(secret.place) holds '\(Bounds.clip(secret.name, 40))=', a secret: "
                    + "put it in a 0600 file and give --token-file instead (nothing was stored)"
            )
        }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { throw NotifyError(.invalidInput, "bad port \(port) in '\(Bounds.clip(text))'") }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let query = components.percentEncodedQuery.map { "?" + $0 } ?? ""
        return HTTPEndpoint(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: port, tls: scheme == "https", target: path + query)
    }
}

/// Sends one HTTP/1.1 request and reads the status: the thin shell under the HTTP targets.
enum HTTPPost {
    /// Sends `request`; succeeds on a 2xx status, throws with the status and the start of the
    /// body otherwise.
    static func send(_ request: RenderedRequest, timeout: Double) throws(NotifyError) {
        let endpoint = try HTTPEndpoint.parse(request.url)
        let connection = try TCPConnection.connect(host: endpoint.host, port: endpoint.port, timeout: timeout)
        defer { connection.close() }
        if endpoint.tls { try connection.startTLS(host: endpoint.host) }
        let hostHeader = endpoint.port == (endpoint.tls ? 443 : 80) ? endpoint.host : "\(endpoint.host):\(endpoint.port)"
        var head = "\(request.method) \(endpoint.target) HTTP/1.1\r\nHost: \(hostHeader)\r\n"
        for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(request.body.count)\r\nConnection: close\r\n\r\n"
        try connection.send(Array(head.utf8) + request.body)
        let status = try connection.readLine()
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
            throw NotifyError(.delivery, "\(endpoint.host):\(endpoint.port) answered '\(Bounds.clip(status, 80))', not HTTP")
        }
        guard (200..<300).contains(code) else {
            throw NotifyError(.delivery, "\(endpoint.host):\(endpoint.port) answered HTTP \(code)\(parts.count > 2 ? " \(parts[2])" : "")")
        }
    }
}
