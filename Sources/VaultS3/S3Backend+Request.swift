import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Vault

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension S3Backend {
    struct Response {
        var status: Int
        var body: [UInt8]
    }

    /// One signed request, retried on 5xx, 429/SlowDown and connection errors (at most
    /// `options.maxAttempts` tries, the wait doubling from `options.firstBackoff`). A status
    /// outside `accept` fails with an error that names the backend, the key, the HTTP status
    /// and the S3 error code. `bucketLevel`: the request goes to the bucket (`key` is only
    /// what the error names).
    func send(
        _ method: String, key: String, bucketLevel: Bool = false, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: [UInt8] = [], accept: Set<Int>
    ) throws(VaultError) -> Response {
        let path = bucketLevel ? "/\(bucket)" : path(key)
        let payloadHash = SigV4Signer.sha256Hex(body)
        let q = SigV4Signer.canonicalQuery(query)
        let url = baseURL + SigV4Signer.uriEncode(path, keepSlash: true) + (q.isEmpty ? "" : "?\(q)")
        var attempt = 0
        var backoff = options.firstBackoff
        while true {
            attempt += 1
            let signed = signer.signedHeaders(
                method: method, host: hostHeader, path: path, query: query, headers: headers, payloadHash: payloadHash, date: Date())
            let outcome = perform(method, url: url, headers: signed, body: body)
            var failure: VaultError
            switch outcome {
            case .success(let r):
                if accept.contains(r.status) { return r }
                let error = S3XML.error(r.body) ?? explainHead(method, key: key, bucketLevel: bucketLevel, status: r.status)
                failure = remoteError(method, key: key, status: r.status, error: error)
                let retryable = r.status >= 500 || r.status == 429 || ["SlowDown", "RequestTimeout", "InternalError"].contains(error.code)
                guard retryable else { throw failure }
            case .failure(let error):
                failure = .remote(backend: name, key: key, operation: method, status: 0, code: describe(error), message: "")
            }
            guard attempt < options.maxAttempts else { throw failure }
            Thread.sleep(forTimeInterval: Double(backoff.components.seconds) + Double(backoff.components.attoseconds) / 1e18)
            backoff *= 2
        }
    }

    /// A HEAD answer has no body: on a failed HEAD, a one-byte GET of the same object fetches the
    /// server's error code (`SignatureDoesNotMatch`, `AccessDenied`), else the status text.
    private func explainHead(_ method: String, key: String, bucketLevel: Bool, status: Int) -> S3XML.Failure {
        let fallback = S3XML.Failure(code: Self.statusText(status), message: "")
        guard method == "HEAD", status >= 400, status != 404 else { return fallback }
        let path = bucketLevel ? "/\(bucket)" : path(key)
        let url = baseURL + SigV4Signer.uriEncode(path, keepSlash: true)
        let headers = signer.signedHeaders(
            method: "GET", host: hostHeader, path: path, query: [], headers: [("Range", "bytes=0-0")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Date())
        guard case .success(let r) = perform("GET", url: url, headers: headers, body: []) else { return fallback }
        return S3XML.error(r.body) ?? fallback
    }

    func remoteError(_ operation: String, key: String, status: Int, error: S3XML.Failure) -> VaultError {
        .remote(backend: name, key: key, operation: operation, status: status, code: error.code, message: error.message)
    }

    private func perform(_ method: String, url: String, headers: [(String, String)], body: [UInt8]) -> Result<Response, any Error> {
        do {
            var request = try HTTPClient.Request(
                url: url, method: HTTPMethod(rawValue: method), headers: HTTPHeaders(headers.filter { $0.0 != "host" }),
                body: method == "PUT" ? .bytes(body) : nil)
            request.headers.replaceOrAdd(name: "Host", value: hostHeader)
            let response = try client.execute(request: request, deadline: .now() + .seconds(120)).wait()
            var buffer = response.body ?? ByteBuffer()
            return .success(Response(status: Int(response.status.code), body: buffer.readBytes(length: buffer.readableBytes) ?? []))
        } catch {
            return .failure(error)
        }
    }

    static func statusText(_ status: Int) -> String {
        HTTPResponseStatus(statusCode: status).reasonPhrase.replacingOccurrences(of: " ", with: "")
    }

    /// The HTTP client's error as text, without what the request carried for authentication:
    /// its errors can quote a whole header (an invalid header value quotes `Authorization`).
    func describe(_ error: any Error) -> String {
        let text = Self.redacted(String(describing: error), secrets: [signer.credentials.accessKeyID, signer.credentials.secretAccessKey])
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    /// `text` with every secret replaced and everything after `AWS4-HMAC-SHA256`, `Credential=`,
    /// `Signature=` or `X-Amz-Security-Token` on its line cut (the header's rest is the signature).
    static func redacted(_ text: String, secrets: [String]) -> String {
        var out = text
        for secret in secrets where !secret.isEmpty { out = out.replacingOccurrences(of: secret, with: "[redacted]") }
        for marker in ["AWS4-HMAC-SHA256", "Credential=", "Signature=", "X-Amz-Security-Token", "x-amz-security-token"] {
            while let range = out.range(of: marker) {
                let end = out[range.upperBound...].firstIndex { $0 == "\"" || $0 == "\n" || $0 == ")" } ?? out.endIndex
                out.replaceSubrange(range.lowerBound..<end, with: "[authorization redacted]")
            }
        }
        return out
    }
}

/// The few S3 XML answers kvmsnap reads: an error's code and message, a ListObjectsV2 page.
/// Plain string scanning: the elements are flat and their names fixed.
enum S3XML {
    struct Failure: Equatable {
        var code: String
        var message: String
    }

    struct Page {
        var objects: [(key: String, size: Int64, modified: Date)] = []
        var isTruncated = false
        var nextToken: String?
    }

    static func error(_ body: [UInt8]) -> Failure? {
        let text = String(decoding: body, as: UTF8.self)
        guard text.contains("<Error>"), let code = element("Code", in: Substring(text)) else { return nil }
        return Failure(code: code, message: element("Message", in: Substring(text)) ?? "")
    }

    static func listPage(_ body: [UInt8]) -> Page {
        let text = String(decoding: body, as: UTF8.self)
        var page = Page()
        page.isTruncated = element("IsTruncated", in: Substring(text)) == "true"
        page.nextToken = element("NextContinuationToken", in: Substring(text))
        var rest = Substring(text)
        while let start = rest.range(of: "<Contents>"), let end = rest.range(of: "</Contents>", range: start.upperBound..<rest.endIndex) {
            let item = rest[start.upperBound..<end.lowerBound]
            if let key = element("Key", in: item) {
                let size = Int64(element("Size", in: item) ?? "") ?? 0
                let modified = element("LastModified", in: item).flatMap(parseDate) ?? Date(timeIntervalSince1970: 0)
                page.objects.append((key, size, modified))
            }
            rest = rest[end.upperBound...]
        }
        return page
    }

    /// The unescaped text of the first `<name>…</name>` in `text`.
    static func element(_ name: String, in text: Substring) -> String? {
        guard let open = text.range(of: "<\(name)>"), let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else {
            return nil
        }
        return unescape(String(text[open.upperBound..<close.lowerBound]))
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&#13;", with: "\r").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// `2026-12-01T23:43:56.000Z` (UTC; fractional seconds optional). Parsed by hand with timegm:
    /// Foundation's date formatters link ICU's data into the binary.
    static func parseDate(_ s: String) -> Date? {
        let parts = s.split(whereSeparator: { "-T:Z".contains($0) })
        guard parts.count >= 6, let y = Int32(parts[0]), let mo = Int32(parts[1]), let d = Int32(parts[2]), let h = Int32(parts[3]),
            let mi = Int32(parts[4]), let sec = Double(parts[5])
        else { return nil }
        var c = tm()
        c.tm_year = y - 1900
        c.tm_mon = mo - 1
        c.tm_mday = d
        c.tm_hour = h
        c.tm_min = mi
        c.tm_sec = Int32(sec)
        return Date(timeIntervalSince1970: Double(timegm(&c)) + sec - sec.rounded(.down))
    }
}
