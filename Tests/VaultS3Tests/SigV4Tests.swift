import Foundation
import Testing

@testable import VaultS3

/// One vector of Fixtures/sigv4: a `.req` request and its published `.authz` (and, where AWS
/// published them, `.creq` and `.sts`).
struct SigV4Vector: CustomTestStringConvertible, Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/sigv4").path

    var suite: String
    var name: String
    var testDescription: String { "\(suite)/\(name)" }

    var directory: String { "\(Self.root)/\(suite)/\(name)" }
    func file(_ ext: String) -> String? { try? String(contentsOfFile: "\(directory)/\(name).\(ext)", encoding: .utf8) }

    static func all() -> [SigV4Vector] {
        ["aws-sig-v4-test-suite", "s3-examples"].flatMap { suite in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(suite)")) ?? []).sorted()
                .filter { !$0.contains(".") && $0 != "NOTICE" }.map { SigV4Vector(suite: suite, name: $0) }
        }
    }

    /// The signer the vector's suite was published with.
    var signer: SigV4Signer {
        suite == "s3-examples"
            ? SigV4Signer(
                credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                region: "us-east-1", service: "s3")
            : SigV4Signer(
                credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                region: "us-east-1", service: "service")
    }

    struct Request {
        var method: String
        var path: String
        var query: [(String, String)]
        var headers: [(String, String)]
        var body: [UInt8]
        var amzDate: String
    }

    /// Parses the `.req` file: request line, `Name:value` lines, empty line, body.
    func request() throws -> Request {
        let text = try #require(file("req"))
        let parts = text.components(separatedBy: "\n\n")
        var lines = parts[0].components(separatedBy: "\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        let target = String(requestLine[1])
        let pathEnd = target.firstIndex(of: "?") ?? target.endIndex
        let query: [(String, String)] =
            pathEnd == target.endIndex
            ? []
            : target[target.index(after: pathEnd)...].split(separator: "&").map { pair in
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(kv[0]), kv.count > 1 ? String(kv[1]) : "")
            }
        let headers = lines.map { line in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        let date = try #require(headers.first { $0.0.lowercased() == "x-amz-date" }?.1)
        let body = parts.count > 1 ? Array(parts[1...].joined(separator: "\n\n").utf8) : []
        return Request(method: String(requestLine[0]), path: String(target[..<pathEnd]), query: query, headers: headers, body: body, amzDate: date)
    }
}

@Suite("SigV4 signing against AWS's published vectors")
struct SigV4Tests {
    @Test("the fixtures are there (a missing directory must not pass as zero vectors)")
    func vectorsExist() {
        #expect(SigV4Vector.all().count == 11)
    }

    @Test("canonical request, string to sign and Authorization header", arguments: SigV4Vector.all())
    func vector(_ v: SigV4Vector) throws {
        let r = try v.request()
        let hash = SigV4Signer.sha256Hex(r.body)
        let creq = v.signer.canonicalRequest(method: r.method, path: r.path, query: r.query, headers: r.headers, payloadHash: hash)
        if let expected = v.file("creq") { #expect(creq == expected) }
        if let expected = v.file("sts") { #expect(v.signer.stringToSign(canonicalRequest: creq, amzDate: r.amzDate) == expected) }
        let authz = v.signer.authorization(method: r.method, path: r.path, query: r.query, headers: r.headers, payloadHash: hash, amzDate: r.amzDate)
        #expect(authz == (try #require(v.file("authz"))))
    }

    @Test("signedHeaders adds host, date and payload hash, and signs what it sends")
    func signedHeadersMatchesTheS3Example() {
        // The S3 GET Object example, built the way S3Backend builds a request.
        let v = SigV4Vector(suite: "s3-examples", name: "get-object")
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        let headers = v.signer.signedHeaders(
            method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [], headers: [("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(headers.first { $0.0 == "x-amz-date" }?.1 == "20130524T000000Z")
        #expect(headers.first { $0.0 == "Authorization" }?.1 == v.file("authz"))
    }

    @Test("keys are encoded once, slashes kept; query names and values fully")
    func encoding() {
        #expect(SigV4Signer.uriEncode("/b/chunks/ab/x y$ü", keepSlash: true) == "/b/chunks/ab/x%20y%24%C3%BC")
        #expect(SigV4Signer.canonicalQuery([("prefix", "p/chunks/"), ("list-type", "2")]) == "list-type=2&prefix=p%2Fchunks%2F")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_440_938_160.9)) == "20150830T123600Z")
        #expect(S3XML.parseDate("2013-05-24T00:00:01.500Z") == Date(timeIntervalSince1970: 1_369_353_601.5))
        #expect(S3XML.parseDate("2013-05-24T00:00:01Z") == Date(timeIntervalSince1970: 1_369_353_601))
    }
}
