import Foundation
import SnapshotEngine
import Testing
import Vault

extension SSHVaultSuites {
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

        /// A vault on another port; a far side without kvmsnap; a vault directory whose parent is missing.
        @Test func portsAndFarSideProblemsAreReportedClearly() throws {
            try SSHPeer.require()
            let path = SSHPeer.vaultPath("port")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let onPort = RemoteBackend(transport: SSHTransport(user: "root", host: SSHPeer.address, port: 2222, path: path), connections: 1)
            try onPort.writeAtomic("config", [1])
            #expect(FileManager.default.fileExists(atPath: path + "/config"), "served through port 2222")
            let cli = CLI(catalog: NSTemporaryDirectory() + "ssh-fs-\(UUID().uuidString).sqlite", store: NSTemporaryDirectory() + "ssh-fs-store")
            defer { unlink(cli.catalog) }
            var noKvmsnap = SSHPeer.environment()
            noKvmsnap["KVMSNAP_REMOTE_COMMAND"] = "/nonexistent/kvmsnap"
            let missing = try cli.run(["vault", "add", "v", SSHPeer.location(path + "-x")], environment: noKvmsnap)
            #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/kvmsnap") && missing.stderr.contains("ssh://"), "\(missing.stderr)")
            let noParent = try cli.run(["vault", "add", "v", SSHPeer.location(path + "/no/such/parent")])
            #expect(noParent.status != 0 && noParent.stderr.contains("No such file or directory") && noParent.stderr.contains("ssh://"), "\(noParent.stderr)")
            #expect(!FileManager.default.fileExists(atPath: path + "-x"))
            // Run by hand (no client on stdin): one error line, exit 2, nothing made.
            let byHand = try CLI.runBare(["vault", "serve", "--stdio", path + "-hand"])
            #expect(byHand.status == 2 && byHand.stderr.hasPrefix("kvmsnap: error: vault serve: no hello") && byHand.stdout.isEmpty, "\(byHand)")
            #expect(!FileManager.default.fileExists(atPath: path + "-hand"))
        }

        /// 96 chunks of 512 KiB put through 1 and through 4 warm connections (all cores putting at
        /// once), and the same files uploaded by sftp (one `put` each, no fsync) for comparison.
        @Test func parallelConnectionsMeasured() throws {
            try SSHPeer.require()
            var rng = SystemRandomNumberGenerator()
            let chunks = (0..<96).map { _ in (0..<(512 << 10) / 8).flatMap { _ in withUnsafeBytes(of: rng.next() as UInt64) { Array($0) } } }
            var seconds: [String: Double] = [:]
            for connections in [1, 4] {
                let path = SSHPeer.vaultPath("parallel-\(connections)")
                defer { try? FileManager.default.removeItem(atPath: path) }
                let b = backend(path, connections: connections)
                for round in ["warm-up", "timed"] {
                    let started = ContinuousClock.now
                    let failures = Failures()
                    DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
                        do { _ = try b.putIfAbsent("chunks/\(round)/c\(i)", chunks[i]) } catch { failures.add(error) }
                    }
                    try b.flush()
                    seconds["\(connections)"] = Self.seconds(since: started)
                    #expect(failures.all.isEmpty, "\(failures.all)")
                }
                #expect(try b.list(prefix: "chunks/timed/").count == chunks.count)
            }
            let local = NSTemporaryDirectory() + "sftp-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: local) }
            let remote = SSHPeer.vaultPath("sftp")
            defer { try? FileManager.default.removeItem(atPath: remote) }
            var batch = "mkdir \(remote)\n"
            for (i, c) in chunks.enumerated() {
                FileManager.default.createFile(atPath: "\(local)/c\(i)", contents: Data(c))
                batch += "put \(local)/c\(i) \(remote)/c\(i)\n"
            }
            FileManager.default.createFile(atPath: local + "/batch", contents: Data(batch.utf8))
            let started = ContinuousClock.now
            let sftp = try ExternalProcess.run("sftp", ["-F", SSHPeer.dir + "/ssh_config", "-b", local + "/batch", SSHPeer.address])
            seconds["sftp"] = Self.seconds(since: started)
            #expect(sftp.succeeded, "\(sftp.standardError)")
            print(
                String(
                    format: "ssh vault: 48 MiB in 96 chunks: serve %.2f s on 1 connection, %.2f s on 4 (%d cores, with syncfs); sftp put %.2f s (no fsync)",
                    seconds["1"]!, seconds["4"]!, ProcessInfo.processInfo.activeProcessorCount, seconds["sftp"]!))
        }

        static func seconds(since start: ContinuousClock.Instant) -> Double {
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
    }
}

final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var all: [String] = []
    func add(_ e: any Error) { lock.lock(); all.append("\(e)"); lock.unlock() }
}
