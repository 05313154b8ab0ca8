import Foundation
import SnapshotEngine
import Testing
import Vault

/// The ssh:// backend against a real sshd on a second "host" (a network namespace): the backend
/// contract, refusals of an unknown host key and of a key the peer does not authorize, and
/// parallel connections measured.
@Suite(.serialized, .enabled(if: SSHPeer.available))
struct SSHVaultTests {
    func backend(_ path: String, connections: Int) -> RemoteBackend {
        RemoteBackend(transport: SSHTransport(user: "root", host: SSHPeer.address, port: nil, path: path), connections: connections)
    }

    @Test func theSSHBackendKeepsTheBackendContract() throws {
        try SSHPeer.require()
        let path = SSHPeer.vaultPath("contract")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let b = backend(path, connections: 2)
        #expect(try b.putIfAbsent("chunks/ab/ab01", [1, 2, 3]))
        #expect(try !b.putIfAbsent("chunks/ab/ab01", [9]))
        #expect(try b.get("chunks/ab/ab01") == [1, 2, 3])
        #expect(try b.exists("chunks/ab/ab01") && !b.exists("chunks/cd/cd01"))
        #expect(throws: VaultError.missingObject(key: "snapshots/x")) { try b.get("snapshots/x") }
        try b.writeAtomic("config", Array("one".utf8))
        try b.writeAtomic("config", Array("two".utf8))
        #expect(try b.get("config") == Array("two".utf8))
        try b.flush()
        #expect(try b.list(prefix: "").map(\.key) == ["chunks/ab/ab01", "config"])
        try b.touch("config")
        try b.delete("chunks/ab/ab01")
        #expect(try !b.exists("chunks/ab/ab01"))
        #expect(FileManager.default.contents(atPath: path + "/config") == Data("two".utf8), "the far side holds the bytes")
        #expect(throws: VaultError.self) { try b.delete("../escape") }
    }

    @Test func anUnknownHostKeyIsRefusedAndNothingIsWritten() throws {
        try SSHPeer.require()
        let path = SSHPeer.vaultPath("unknown-host")
        let cli = CLI(catalog: NSTemporaryDirectory() + "ssh-uk-\(UUID().uuidString).sqlite", store: NSTemporaryDirectory() + "ssh-uk-store")
        defer { unlink(cli.catalog) }
        let r = try cli.run(["vault", "add", "v", SSHPeer.location(path)], environment: SSHPeer.environment("_unknown"))
        #expect(r.status != 0)
        #expect(r.stderr.contains("Host key verification failed") && r.stderr.contains("never accepts"), "\(r.stderr)")
        #expect(r.stderr.contains("ssh://root@\(SSHPeer.address)\(path)"), "the error names the backend: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path), "nothing reached the far side")
        #expect(try cli.run(["vault", "list", "--json"]).stdout.contains("\"v\"") == false)
    }

    @Test func aKeyThePeerDoesNotAuthorizeIsRefusedAndNothingIsWritten() throws {
        try SSHPeer.require()
        let path = SSHPeer.vaultPath("stranger")
        let cli = CLI(catalog: NSTemporaryDirectory() + "ssh-st-\(UUID().uuidString).sqlite", store: NSTemporaryDirectory() + "ssh-st-store")
        defer { unlink(cli.catalog) }
        let r = try cli.run(["vault", "add", "v", SSHPeer.location(path)], environment: SSHPeer.environment("_stranger"))
        #expect(r.status != 0)
        #expect(r.stderr.contains("Permission denied (publickey)") && r.stderr.contains("ssh://"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path), "nothing reached the far side")
    }

    /// 96 chunks of 512 KiB put through 1 and through 4 connections (all cores putting at once).
    @Test func parallelConnectionsMeasured() throws {
        try SSHPeer.require()
        var rng = SystemRandomNumberGenerator()
        let chunks = (0..<96).map { _ in (0..<(512 << 10) / 8).flatMap { _ in withUnsafeBytes(of: rng.next() as UInt64) { Array($0) } } }
        var seconds: [Int: Double] = [:]
        for connections in [1, 4] {
            let path = SSHPeer.vaultPath("parallel-\(connections)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let b = backend(path, connections: connections)
            _ = try b.exists("config")  // connect once outside the timing
            let started = ContinuousClock.now
            let failures = Failures()
            DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
                do { _ = try b.putIfAbsent("chunks/\(String(format: "%02x", i))/c\(i)", chunks[i]) } catch { failures.add(error) }
            }
            try b.flush()
            let elapsed = ContinuousClock.now - started
            seconds[connections] = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(failures.all.isEmpty, "\(failures.all)")
            #expect(try b.list(prefix: "chunks/").count == chunks.count)
        }
        let mib = Double(chunks.count) / 2
        print(String(format: "ssh vault: %.0f MiB of chunks in %.2f s on 1 connection, %.2f s on 4 (%d cores)", mib, seconds[1]!, seconds[4]!, ProcessInfo.processInfo.activeProcessorCount))
    }
}

final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var all: [String] = []
    func add(_ e: any Error) { lock.lock(); all.append("\(e)"); lock.unlock() }
}
