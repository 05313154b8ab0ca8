import Foundation
import KVMSnapCore
import Testing
import Vault

@Suite("vault integrity, prune and gc")
struct VaultIntegrityTests {
    static let uuid = manifest("x").vmUUID

    func makeVault(_ dir: TempDir, encrypted: Bool = false) throws -> (VaultRepository, VaultManifest, MemoryDisk) {
        let repo = try VaultRepository.create(
            backend: try DirectoryBackend(root: dir.path),
            protection: encrypted ? .keyFile(Array(repeating: 3, count: 32)) : nil)
        let disk = MemoryDisk(Data2.mixed(12 << 20, seed: 21))
        let (m, _) = try send(repo, disk, "s1", at: Date().addingTimeInterval(-3 * 3600))
        return (repo, m, disk)
    }

    /// The key of a data chunk of the disk (not the index).
    func dataChunkKey(_ repo: VaultRepository, _ m: VaultManifest) throws -> String {
        let index = try repo.diskIndex(m.disks[0].index)
        return VaultLayout.chunk(try #require(index.slots.first { !$0.isZero }))
    }

    @Test(arguments: [false, true])
    func tamperedChunkIsNamedAndRefused(encrypted: Bool) throws {
        let dir = TempDir()
        let (repo, m, _) = try makeVault(dir, encrypted: encrypted)
        let key = try dataChunkKey(repo, m)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir.path)/\(key)")))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir.path)/\(key)"))
        let report = try repo.verify(readData: true)
        #expect(!report.ok)
        #expect(report.problems.map(\.object) == [key])
        #expect(report.problems.first?.kind == .badChunk)
        #expect(report.problems.first?.referencedBy == [VaultLayout.manifest(vmUUID: Self.uuid, snapshot: "s1")])
        // Existence-only verify does not read data.
        #expect(try repo.verify(readData: false).ok)
        #expect {
            _ = try restoreFirstDisk(repo, m)
        } throws: { e in
            if case .corruptChunk(let k, _) = e as? VaultError { return k == key }
            return false
        }
    }

    @Test func deletedChunkIsNamedAndRefused() throws {
        let dir = TempDir()
        let (repo, m, _) = try makeVault(dir)
        let key = try dataChunkKey(repo, m)
        try FileManager.default.removeItem(atPath: "\(dir.path)/\(key)")
        let report = try repo.verify(readData: false)
        #expect(report.problems.map(\.object) == [key])
        #expect(report.problems.first?.kind == .missingChunk)
        #expect(throws: VaultError.missingObject(key: key)) { try repo.preflight(m) }
    }

    @Test(arguments: [false, true])
    func truncatedManifestIsNamedAndRefused(encrypted: Bool) throws {
        let dir = TempDir()
        let (repo, _, _) = try makeVault(dir, encrypted: encrypted)
        let key = VaultLayout.manifest(vmUUID: Self.uuid, snapshot: "s1")
        let url = URL(fileURLWithPath: "\(dir.path)/\(key)")
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 9).write(to: url)
        let report = try repo.verify(readData: true)
        #expect(report.problems.map(\.object) == [key])
        #expect(report.problems.first?.kind == .badManifest)
        #expect {
            _ = try repo.manifest(vmUUID: Self.uuid, snapshot: "s1")
        } throws: { e in
            if case .badManifest(let k, _) = e as? VaultError { return k == key }
            return false
        }
    }

    @Test func keylessVerifyChecksExistenceAndFraming() throws {
        let dir = TempDir()
        let (_, _, _) = try makeVault(dir, encrypted: true)
        let keyless = try VaultRepository.open(backend: try DirectoryBackend(root: dir.path), key: nil)
        #expect(try keyless.verify(readData: true).ok)
        let first = try #require(chunkFiles(dir.path).first)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: first))
        #expect(try keyless.verify(readData: true).problems.count == 1)
    }

    @Test func gcDeletesUnreferencedChunksButNotALiveSendsChunks() throws {
        let dir = TempDir()
        let (repo, _, _) = try makeVault(dir)
        let disk2 = MemoryDisk(Data2.mixed(8 << 20, seed: 22))
        try send(repo, disk2, "s2", at: Date().addingTimeInterval(-2 * 3600))
        let s2Chunks = Set(try repo.manifest(vmUUID: Self.uuid, snapshot: "s2").chunkRefs)
        let future = Date().addingTimeInterval(7200)
        // A send in progress has stored chunks nothing references yet.
        let live = try repo.beginSend()
        let pending = MemoryDisk(Data2.mixed(8 << 20, seed: 23))
        _ = try live.storeDisk(target: "vda", format: "qcow2", from: pending, plan: fullPlan(8 << 20), previous: nil)
        let before = chunkFiles(dir.path)
        let deferred = try repo.gc(grace: 0, now: Date())
        #expect(deferred.deletedChunks == 0 && deferred.deferredBy.count == 1)
        #expect(chunkFiles(dir.path) == before)
        // The send commits; then s1 is pruned (keep the last 1) and gc reclaims only s1's own chunks.
        // (borg's keep-last counts one snapshot per second: distinct seconds here.)
        var m = manifest("s3", at: Date().addingTimeInterval(-3600))
        m.disks = []
        _ = try live.commit(m)
        let plan = try repo.prune(vmUUID: Self.uuid, policy: RetentionPolicy(keepLast: 2))
        #expect(plan.pruned.map(\.name) == ["s1"])
        let report = try repo.gc(grace: 60, now: future)
        #expect(report.deletedChunks > 0 && report.deferredBy.isEmpty)
        #expect(try repo.verify(readData: true).ok)
        let remaining = Set(chunkFiles(dir.path).map { URL(fileURLWithPath: $0).lastPathComponent })
        #expect(s2Chunks.allSatisfy { remaining.contains($0.hex) })
        #expect(live.referencedChunks.allSatisfy { remaining.contains($0.hex) })
        // Young unreferenced chunks survive a gc with a grace window.
        let s4 = try repo.beginSend()
        _ = try s4.storeBlob(Data2.mixed(1 << 20, seed: 24))
        try s4.abandon()
        let young = try repo.gc(grace: 3600)
        #expect(young.deletedChunks == 0 && young.keptYoung > 0)
    }

    /// A send that starts while a gc runs waits for it (here: refuses at once with no wait).
    @Test func sendWaitsForARunningGC() throws {
        let dir = TempDir()
        let (repo, _, _) = try makeVault(dir)
        try repo.backend.writeAtomic(VaultLayout.mark("gc-test"), [])
        #expect(throws: VaultError.busy("a vault gc is running")) { try repo.beginSend(gcWait: .zero) }
        #expect(try repo.backend.list(prefix: "marks/send-").isEmpty)
        try repo.backend.delete(VaultLayout.mark("gc-test"))
        _ = try repo.beginSend(gcWait: .zero)
    }

    @Test func pinnedSnapshotsAreNotPruned() throws {
        let dir = TempDir()
        let (repo, _, disk) = try makeVault(dir)
        try send(repo, disk, "s2", at: Date().addingTimeInterval(-10))
        try repo.setPinned(true, vmUUID: Self.uuid, snapshot: "s1")
        let plan = try repo.prune(vmUUID: Self.uuid, policy: RetentionPolicy(keepLast: 1))
        #expect(plan.pruned.isEmpty)
        #expect(try repo.snapshots().map(\.pinned) == [true, false])
    }

    @Test func manifestFormatIsVersioned() throws {
        let dir = TempDir()
        let (repo, _, _) = try makeVault(dir)
        let key = VaultLayout.manifest(vmUUID: Self.uuid, snapshot: "s1")
        let text = String(decoding: try repo.backend.get(key), as: UTF8.self)
        #expect(text.contains("\"formatVersion\":1"))
        #expect(text.split(separator: "\n").last?.hasPrefix("sha256:") == true)
    }
}
