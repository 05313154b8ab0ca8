import Foundation
import KVMSnapCore
import TestSupport
import Testing
import Vault

/// A `vault serve` session in this process: the server on a thread, talking over two pipes.
final class PipeChannel: VaultChannel, @unchecked Sendable {
    let requestFD: Int32
    let responseFD: Int32
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var problem: String?

    /// The server's ends (for a hand-made server, `serve: false`).
    let serverInput: Int32
    let serverOutput: Int32

    init(server: VaultServer, serve: Bool = true) {
        var request: [Int32] = [-1, -1], response: [Int32] = [-1, -1]
        _ = pipe(&request)
        _ = pipe(&response)
        requestFD = request[1]
        responseFD = response[0]
        let input = request[0], output = response[1]
        serverInput = input
        serverOutput = output
        guard serve else { return }
        Thread.detachNewThread { [self] in
            problem = server.serve(input: input, output: output)
            Glibc.close(input)
            Glibc.close(output)
            done.signal()
        }
    }

    func closeServerSide() {
        Glibc.close(serverInput)
        Glibc.close(serverOutput)
    }

    /// Waits for the server to end (after the client closed, or after a protocol violation): why it ended, nil when cleanly.
    func serverProblem() -> String? {
        done.wait()
        done.signal()
        return problem
    }

    func close() -> String {
        Glibc.close(requestFD)
        Glibc.close(responseFD)
        return ""
    }
}

struct PipeTransport: VaultTransport {
    let server: VaultServer
    var name: String { "pipe://\(server.root)" }
    func connect() throws(VaultError) -> any VaultChannel { PipeChannel(server: server) }
}

/// Raw frames to a server, for hostile input.
struct RawClient {
    let channel: PipeChannel

    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.write(channel.requestFD, $0.baseAddress, $0.count) }
    }

    func frame(_ body: [UInt8]) {
        let n = UInt32(body.count)
        write([UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + body)
    }

    /// One answer frame's body (nil at end of stream).
    func answer() -> [UInt8]? {
        func exactly(_ n: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: n), done = 0
            while done < n {
                let r = out.withUnsafeMutableBytes { read(channel.responseFD, $0.baseAddress! + done, n - done) }
                if r <= 0 { return nil }
                done += r
            }
            return out
        }
        guard let h = exactly(4) else { return nil }
        return exactly(Int(h.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
    }

    /// Plays the server's part of the hello: reads one frame, answers ok (version 1, not append-only).
    func serverSide() -> Bool {
        var header = [UInt8](repeating: 0, count: 4)
        guard read(channel.serverInput, &header, 4) == 4 else { return false }
        var body = [UInt8](repeating: 0, count: Int(header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
        var done = 0
        while done < body.count {
            let n = body.withUnsafeMutableBytes { read(channel.serverInput, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { return false }
            done += n
        }
        let ok: [UInt8] = [0, 0, 0, 6, 0, 0, 0, 0, 1, 0]
        return ok.withUnsafeBytes { Glibc.write(channel.serverOutput, $0.baseAddress, $0.count) } == ok.count
    }

    static func request(op: UInt8, key: String, payload: [UInt8] = []) -> [UInt8] {
        let k = Array(key.utf8)
        return [op, UInt8(k.count >> 8), UInt8(k.count & 0xff)] + k + payload
    }

    static let hello = request(op: 0, key: "", payload: [0, 0, 0, 1] + Array("kvmsnap-vault-serve".utf8))
}

/// A server that answers the hello and then hangs up (its process died).
struct HangUpTransport: VaultTransport {
    var name: String { "pipe://hang-up" }
    func connect() throws(VaultError) -> any VaultChannel {
        let channel = PipeChannel(server: VaultServer(root: "/nonexistent", appendOnly: false), serve: false)
        Thread.detachNewThread {
            let raw = RawClient(channel: channel)
            _ = raw.serverSide()
            channel.closeServerSide()
        }
        return channel
    }
}

@Suite("vault serve protocol")
struct ServeProtocolTests {
    func remote(_ dir: TempDir, appendOnly: Bool = false, connections: Int = 3) -> RemoteBackend {
        RemoteBackend(transport: PipeTransport(server: VaultServer(root: dir.path + "/vault", appendOnly: appendOnly)), connections: connections)
    }

    @Test func theRemoteBackendKeepsTheBackendContract() throws {
        let dir = TempDir()
        let b = remote(dir)
        #expect(try b.putIfAbsent("chunks/ab/ab01", [1, 2, 3]))
        #expect(try !b.putIfAbsent("chunks/ab/ab01", [9]), "put-if-absent never replaces")
        #expect(try b.get("chunks/ab/ab01") == [1, 2, 3])
        #expect(try b.exists("chunks/ab/ab01"))
        #expect(try !b.exists("chunks/cd/cd01"))
        #expect(throws: VaultError.missingObject(key: "snapshots/x")) { try b.get("snapshots/x") }
        try b.writeAtomic("config", Array("one".utf8))
        try b.writeAtomic("config", Array("two".utf8))
        #expect(try b.get("config") == Array("two".utf8))
        var rng = SplitMix64(seed: 77)
        let big = Data2.random(5 << 20, &rng)
        #expect(try b.putIfAbsent("chunks/ef/big", big))
        #expect(try b.get("chunks/ef/big") == big)
        try b.flush()
        #expect(try b.list(prefix: "chunks/").map(\.key) == ["chunks/ab/ab01", "chunks/ef/big"])
        #expect(try b.list(prefix: "").count == 3)
        try b.touch("config")
        try b.delete("chunks/ab/ab01")
        try b.delete("chunks/ab/ab01")
        #expect(try !b.exists("chunks/ab/ab01"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/vault/chunks/ef/big"), "the bytes are in the served directory")
    }

    @Test func aSendRestoreAndGcRunOverTheProtocolOnParallelConnections() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: remote(dir, connections: 4), protection: nil)
        let disk = MemoryDisk(Data2.mixed(12 << 20, seed: 3))
        let (m, _) = try send(repo, disk, "s1", memory: Data2.mixed(3 << 20, seed: 4))
        #expect(try restoreFirstDisk(repo, m) == disk.bytes)
        #expect(try repo.verify(readData: true).ok)
        #expect(try repo.gc(grace: 0).deletedChunks == 0)
        // The same vault read directly from its directory: the format is the directory backend's.
        let direct = try VaultRepository.open(backend: try DirectoryBackend(root: dir.path + "/vault"), key: nil)
        #expect(try direct.verify(readData: true).ok)
    }

    @Test(arguments: ["../x", "/etc/passwd", "a/../../x", "chunks/./x", "chunks//x", ".tmp-1", "chunks/ab/.tmp-2", "a/\u{0}b", ""])
    func aKeyOutsideTheVaultIsRefused(key: String) throws {
        let dir = TempDir()
        let b = remote(dir)
        #expect(try !b.exists("config"))
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        for attempt in [{ _ = try b.putIfAbsent(key, [1]) }, { try b.writeAtomic(key, [1]) }, { try b.delete(key) }, { _ = try b.get(key) }] {
            do {
                try attempt()
                Issue.record("key \(key.debugDescription) was accepted")
            } catch let error as VaultError {
                guard case .connection(let backend, _, let reason) = error else { Issue.record("\(error)"); continue }
                #expect(backend.hasPrefix("pipe://") && reason.contains("refused key"), "\(error)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == before, "nothing written outside the vault")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/vault").isEmpty)
        #expect(try b.exists("config") == false, "the session goes on after a refusal")
    }

    @Test func aServerThatHangsUpMidRequestIsAnErrorNamingTheObject() throws {
        let b = RemoteBackend(transport: HangUpTransport(), connections: 1)
        do {
            _ = try b.putIfAbsent("chunks/ab/big", [UInt8](repeating: 7, count: 5 << 20))
            Issue.record("a put to a server that hung up succeeded")
        } catch {
            guard case .connection(let backend, let key, let reason) = error else { throw error }
            #expect(backend == "pipe://hang-up" && key == "chunks/ab/big" && reason.contains("closed"), "\(error)")
        }
    }

    @Test func hostileFramesGetAnErrorOrEndTheSessionWithoutACrash() throws {
        let dir = TempDir()
        let server = VaultServer(root: dir.path + "/vault", appendOnly: false)
        // Not a hello: refused, the session ends with status 2.
        let c1 = PipeChannel(server: server)
        RawClient(channel: c1).frame(RawClient.request(op: 1, key: "chunks/x", payload: [1]))
        #expect(RawClient(channel: c1).answer()?.first == 1)
        #expect(c1.serverProblem()?.contains("not a kvmsnap vault client") == true)
        _ = c1.close()
        // Another version: refused with a message naming both versions.
        let c2 = PipeChannel(server: server)
        RawClient(channel: c2).frame(RawClient.request(op: 0, key: "", payload: [0, 0, 0, 9] + Array("kvmsnap-vault-serve".utf8)))
        let refusal = String(decoding: RawClient(channel: c2).answer() ?? [], as: UTF8.self)
        #expect(refusal.contains("protocol version 9") && refusal.contains("speaks 1"), "\(refusal)")
        #expect(c2.serverProblem()?.contains("protocol version 9") == true)
        _ = c2.close()
        // A frame over the limit: the server hangs up without reading (or allocating) it.
        let c3 = PipeChannel(server: server)
        let raw3 = RawClient(channel: c3)
        raw3.frame(RawClient.hello)
        #expect(raw3.answer()?.first == 0)
        raw3.write([0xff, 0xff, 0xff, 0xff])
        #expect(c3.serverProblem()?.contains("over the limit") == true, "\(c3.serverProblem() ?? "")")
        _ = c3.close()
        // Malformed and random requests get error answers; the session still serves afterwards.
        let c4 = PipeChannel(server: server)
        let raw = RawClient(channel: c4)
        raw.frame(RawClient.hello)
        #expect(raw.answer()?.first == 0)
        var rng = SplitMix64(seed: 0x5e4e)
        var bodies: [[UInt8]] = [[], [99], [1, 0xff, 0xff, 1], [3, 0, 5, 0x41], [4, 0, 2, 0xc3, 0x28]]
        for _ in 0..<300 { bodies.append(Data2.random(Int(rng.next() % 40), &rng)) }
        for body in bodies {
            raw.frame(body)
            let answer = try #require(raw.answer(), "an answer to \(body)")
            #expect([0, 1].contains(answer.first), "\(body)")
        }
        raw.frame(RawClient.request(op: 4, key: "config"))
        #expect(raw.answer() == [0, 0], "exists(config) still answered")
        _ = c4.close()
        #expect(c4.serverProblem() == nil)
        let escaped = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(escaped == ["vault"], "\(escaped)")
    }

    @Test func appendOnlyRefusesDeletesAndOverwritesButASendWorks() throws {
        let dir = TempDir()
        let full = remote(dir)
        let repo = try VaultRepository.create(backend: full, protection: nil)
        let disk = MemoryDisk(Data2.mixed(6 << 20, seed: 8))
        _ = try send(repo, disk, "s1")
        let ao = remote(dir, appendOnly: true)
        let sender = try VaultRepository.open(backend: ao, key: nil)
        // A send with checkpoints (partial/ replaced and deleted, its mark written, touched, deleted).
        let session = try sender.beginSend()
        session.checkpointInterval = .zero
        try session.enableCheckpoints(vmUUID: "6f1c9a52-0000-4000-8000-000000000001", snapshot: "s2", localSnapshotID: "l2")
        var m = manifest("s2")
        disk.bytes[0] ^= 0xff
        m.disks = [try session.storeDisk(target: "vda", format: "qcow2", from: disk, plan: fullPlan(disk.bytes.count), previous: nil)]
        let committed = try session.commit(m)
        #expect(try restoreFirstDisk(sender, committed) == disk.bytes)
        #expect(ao.serverAppendOnly)
        let chunk = try #require(try full.list(prefix: "chunks/").first).key
        let manifestKey = VaultLayout.manifest(vmUUID: committed.vmUUID, snapshot: "s1")
        let refusals: [(String, String, () throws -> Void)] = [
            (chunk, "delete", { try ao.delete(chunk) }),
            (manifestKey, "delete", { try ao.delete(manifestKey) }),
            (manifestKey, "overwrite", { try ao.writeAtomic(manifestKey, [1]) }),
            ("config", "overwrite", { try ao.writeAtomic("config", [1]) }),
            ("config", "delete", { try ao.delete("config") }),
            ("marks/gc-1", "gc (needs a full-access key)", { try ao.writeAtomic("marks/gc-1", [1]) }),
        ]
        for (key, operation, attempt) in refusals {
            #expect(throws: VaultError.appendOnly(backend: ao.transport.name, key: key, operation: operation)) { try attempt() }
        }
        #expect(throws: VaultError.self) { _ = try sender.gc(grace: 0) }
        #expect(throws: VaultError.self) { _ = try sender.prune(vmUUID: committed.vmUUID, policy: RetentionPolicy(keepLast: 1)) }
        #expect(try repo.snapshots().map(\.snapshot) == ["s1", "s2"], "nothing was deleted")
        #expect(try repo.verify(readData: true).ok)
        #expect(try full.list(prefix: "marks/").isEmpty && full.list(prefix: "partial/").isEmpty, "the send cleaned up its bookkeeping")
    }
}
