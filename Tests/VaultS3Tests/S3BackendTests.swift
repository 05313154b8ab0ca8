import Foundation
import KVMSnapCore
import Testing
import Vault

@testable import VaultS3

/// The S3 backend against a real S3 server (moto, with SigV4 verification and IAM policies on).
@Suite("S3 backend against moto", .enabled(if: S3Peer.enabled))
struct S3BackendTests {
    @Test("putIfAbsent creates once; the second put of the key is refused (If-None-Match)")
    func putIfAbsentTwice() throws {
        let b = try S3Peer.peer().backend()
        #expect(try b.putIfAbsent("chunks/ab/ab01", [1, 2, 3]))
        #expect(try b.putIfAbsent("chunks/ab/ab01", [9, 9]) == false)
        #expect(try b.get("chunks/ab/ab01") == [1, 2, 3])
        #expect(try b.exists("chunks/ab/ab01"))
    }

    @Test("get of a missing key is missingObject; exists is false; delete of a missing key is fine")
    func missing() throws {
        let b = try S3Peer.peer().backend()
        #expect(throws: VaultError.missingObject(key: "config")) { try b.get("config") }
        #expect(try b.exists("config") == false)
        try b.delete("config")
    }

    @Test("writeAtomic replaces; delete removes; touch moves the modification time")
    func writeDeleteTouch() throws {
        let b = try S3Peer.peer().backend()
        try b.writeAtomic("marks/send-1", Array("a".utf8))
        try b.writeAtomic("marks/send-1", Array("bb".utf8))
        #expect(try b.get("marks/send-1") == Array("bb".utf8))
        let before = try #require(try b.list(prefix: "marks/").first).modified
        Thread.sleep(forTimeInterval: 1.1)
        try b.touch("marks/send-1")
        let after = try #require(try b.list(prefix: "marks/").first)
        #expect(after.modified > before)
        #expect(try b.get("marks/send-1") == Array("bb".utf8))
        try b.delete("marks/send-1")
        #expect(try b.exists("marks/send-1") == false)
        #expect(throws: VaultError.missingObject(key: "marks/send-1")) { try b.touch("marks/send-1") }
    }

    @Test("list follows continuation tokens, strips the vault prefix and stays inside it")
    func listPagination() throws {
        let peer = try S3Peer.peer()
        let prefix = "t-\(UUID().uuidString.lowercased())"
        let b = try peer.backend(prefix: prefix)
        let neighbour = try peer.backend(prefix: prefix + "x")  // shares the string prefix, not the vault
        try neighbour.writeAtomic("chunks/00/0000", [0])
        let keys = (0..<25).map { String(format: "chunks/%02x/%02x%04d", $0 % 3, $0 % 3, $0) }
        for k in keys { _ = try b.putIfAbsent(k, Array(k.utf8)) }
        try b.writeAtomic("config", [1])
        let listed = try b.list(prefix: "chunks/", maxKeys: 4)
        #expect(listed.map(\.key) == keys.sorted())
        #expect(listed.allSatisfy { $0.size == Int64($0.key.utf8.count) })
        #expect(try b.list(prefix: "", maxKeys: 7).count == 26)
        #expect(try b.list(prefix: "chunks/01/").count == keys.filter { $0.hasPrefix("chunks/01/") }.count)
    }

    @Test("a wrong secret is refused with SignatureDoesNotMatch, naming the backend and the key; nothing is written")
    func wrongSecret() throws {
        let peer = try S3Peer.peer()
        let prefix = "t-\(UUID().uuidString.lowercased())"
        let wrong = S3Credentials(accessKeyID: peer.full.accessKeyID, secretAccessKey: "not-the-secret")
        let bad = try peer.backend(wrong, prefix: prefix)
        let error = try #require(throws: VaultError.self) { try bad.writeAtomic("config", [1, 2]) }
        let text = error.description
        #expect(text.contains("SignatureDoesNotMatch") && text.contains("s3://\(peer.bucket)/\(prefix)") && text.contains("config"), "\(text)")
        #expect(try peer.backend(prefix: prefix).list(prefix: "").isEmpty)
    }

    @Test("an append-only key puts, gets and lists; its deletes fail with AccessDenied naming the object")
    func appendOnly() throws {
        let peer = try S3Peer.peer()
        let prefix = "t-\(UUID().uuidString.lowercased())"
        let b = try peer.backend(peer.appendOnly, prefix: prefix)
        #expect(try b.putIfAbsent("chunks/aa/aa11", [7]))
        try b.writeAtomic("marks/send-x", [1])
        try b.touch("marks/send-x")
        #expect(try b.list(prefix: "").count == 2)
        let error = try #require(throws: VaultError.self) { try b.delete("chunks/aa/aa11") }
        guard case .remote(_, let key, let op, let status, let code, _) = error else { Issue.record("\(error)"); return }
        #expect(key == "chunks/aa/aa11" && op == "DELETE" && status == 403 && code == "AccessDenied")
        #expect(error.description.contains("s3://\(peer.bucket)/\(prefix)"))
        #expect(try b.exists("chunks/aa/aa11"))
    }

    @Test("no server: a clear error after the retries, naming the backend and the key")
    func unreachable() throws {
        let peer = try S3Peer.peer()
        var o = S3Options(endpoint: "http://127.0.0.1:9")  // discard port: nobody listens
        o.maxAttempts = 2
        let b = try peer.backend(options: o)
        let started = ContinuousClock.now
        let error = try #require(throws: VaultError.self) { try b.exists("config") }
        guard case .remote(_, "config", "HEAD", 0, _, _) = error else { Issue.record("\(error)"); return }
        #expect(ContinuousClock.now - started >= .milliseconds(50))  // the backoff before the second try
    }

    @Test("an HTTP client error never shows the Authorization header: no access key id, no signature")
    func clientErrorsAreRedacted() throws {
        let peer = try S3Peer.peer()
        var o = S3Options(endpoint: peer.endpoint)
        o.region = "x\r\ny"  // a header value the HTTP client refuses, quoting the header
        o.maxAttempts = 1
        let error = try #require(throws: VaultError.self) { try peer.backend(options: o).exists("config") }
        let text = error.description
        #expect(!text.contains(peer.full.accessKeyID) && !text.contains("Signature=") && !text.contains("Credential="), "\(text)")
        let quoted = "invalidHeaderFieldValues([\"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/x\r\ny/s3/aws4_request, Signature=abc123\"])"
        let redacted = S3Backend.redacted(quoted, secrets: ["AKIDEXAMPLE"])
        #expect(!redacted.contains("AKIDEXAMPLE") && !redacted.contains("abc123") && redacted.contains("invalidHeaderFieldValues"), "\(redacted)")
    }

    @Test("a whole vault round trip: create, send a stream, read it back, verify")
    func vaultRoundTrip() throws {
        let b = try S3Peer.peer().backend()
        let repository = try VaultRepository.create(backend: b, protection: nil, chunkSize: 256 << 10, now: Date())
        let session = try repository.beginSend()
        session.storeWorkers = 8
        let data = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let ref = try session.storeBlob(data)
        #expect(session.stats.chunksNew > 1)
        let reopened = try VaultRepository.open(backend: b, key: nil)
        #expect(try reopened.streamBytes(ref) == data)
        try session.abandon()
    }
}
