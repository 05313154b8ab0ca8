import Foundation
import KVMSnapCore
import Testing
import Vault

@testable import VaultS3

/// scripts/lib/tcp-proxy.py between the backend and moto: killing it cuts the link mid-send
/// (moto keeps its state, which a restarted moto would not: it has no persistence).
final class LinkProxy {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/lib/tcp-proxy.py").path
    let port: Int
    let target: Int
    private var process: Process?

    init(target: Int) throws {
        self.target = target
        port = Self.freePort()
        try start()
    }

    /// A port the kernel hands out for a bind to port 0 (released again for the proxy).
    static func freePort() -> Int {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [Self.script, String(port), String(target)]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        process = p
        let ready = out.fileHandleForReading.availableData  // "ready" once it listens
        guard String(decoding: ready, as: UTF8.self).hasPrefix("ready") else { throw VaultError.source("tcp-proxy.py did not start on port \(port)") }
    }

    /// Cuts the link: every open connection and new ones are refused until `start()`.
    func stop() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)  // at once, as a pulled cable (a child may inherit a blocked SIGTERM)
        p.waitUntilExit()
        process = nil
    }

    deinit { stop() }
}

@Suite("S3 backend: the link cut mid-send", .enabled(if: S3Peer.enabled))
struct S3NetworkCutTests {
    @Test("a send whose link is cut fails clearly; once the link is back the resumed send completes from its checkpoint")
    func cutAndResume() throws {
        let peer = try S3Peer.peer()
        let target = try #require(URL(string: peer.endpoint)?.port)
        let proxy = try LinkProxy(target: target)
        var options = S3Options(endpoint: "http://127.0.0.1:\(proxy.port)")
        options.maxAttempts = 2
        let b = try peer.backend(prefix: "t-\(UUID().uuidString.lowercased())", options: options)
        let repository = try VaultRepository.create(backend: b, protection: nil, chunkSize: 256 << 10, now: Date())
        var rng = SystemRandomNumberGenerator()
        let data = (0..<(12 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }

        // First send: the link goes down after its second checkpoint.
        let first = try repository.beginSend()
        try first.enableCheckpoints(vmUUID: "vm-1", snapshot: "s1", localSnapshotID: "local-1")
        first.checkpointInterval = .zero
        first.batchSize = 2
        var saves = 0
        first.afterCheckpoint = { () throws(VaultError) in
            saves += 1
            if saves == 2 { proxy.stop() }
        }
        let error = try #require(throws: VaultError.self) { _ = try storeMemory(first, data, from: nil) }
        guard case .remote(let backend, let key, _, 0, _, _) = error else { Issue.record("not a remote error: \(error)"); return }
        #expect(backend == b.name && !key.isEmpty, "\(error)")

        // The link is back: a new send of the same snapshot resumes and completes.
        try proxy.start()
        let second = try repository.beginSend()
        let checkpoint = try second.enableCheckpoints(vmUUID: "vm-1", snapshot: "s1", localSnapshotID: "local-1")
        #expect(checkpoint != nil)
        let resumed = try #require(try second.resumableStream("memory"))
        #expect(resumed.offset > 0 && resumed.offset < Int64(data.count))
        let ref = try storeMemory(second, data, from: resumed)
        #expect(second.stats.chunksReused >= resumed.ids.count && second.stats.bytesRead == Int64(data.count) - resumed.offset)
        let manifest = VaultManifest(
            vm: "vm", vmUUID: "vm-1", snapshot: "s1", localSnapshotID: "local-1", kind: "memory", createdAt: Date(), host: "test",
            kvmsnapVersion: "test", hasMemory: true, domainXML: "<domain/>", memory: ref)
        _ = try second.commit(manifest)
        #expect(second.cleanupFailures.isEmpty)
        #expect(try repository.streamBytes(ref) == data)
        #expect(try b.exists(VaultLayout.partial(vmUUID: "vm-1", snapshot: "s1")) == false)
    }

    /// Stores `data` as the `memory` stream, from `resumed`'s offset when given.
    private func storeMemory(_ session: SendSession, _ data: [UInt8], from resumed: SendCheckpoint.Stream?) throws -> VaultStreamRef {
        var offset = Int(resumed?.offset ?? 0)
        return try session.storeStream(
            name: "memory", resumed: resumed,
            read: { b in
                let n = min(b.count, 1 << 20, data.count - offset)
                if n > 0 { data.withUnsafeBytes { b.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) } }
                offset += n
                return n
            })
    }
}
