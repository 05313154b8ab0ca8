import Foundation
import KVMSnapCore
import Testing
import Vault

/// A send that fails after some checkpoints leaves a `partial/` record; the next send of the
/// same snapshot reads only what the first did not store, and the result restores exactly.
@Suite("send checkpoints")
struct SendCheckpointTests {
    struct Stop: Error {}
    static let uuid = "6f1c9a52-0000-4000-8000-000000000001"

    /// Runs a full send of `disk` and `memory`, failing after `failAfter` checkpoint saves (nil: never).
    func send(
        _ repo: VaultRepository, _ disk: MemoryDisk, memory: [UInt8], failAfter: Int?
    ) throws(VaultError) -> (SendSession, VaultManifest?) {
        let session = try repo.beginSend()
        session.batchSize = 2
        session.checkpointInterval = .zero
        try session.enableCheckpoints(vmUUID: Self.uuid, snapshot: "s1", localSnapshotID: "local-1")
        var saves = 0
        session.afterCheckpoint = { () throws(VaultError) in
            saves += 1
            if let failAfter, saves > failAfter { throw .source("stopped for the test") }
        }
        let plan = DiskChunkPlan(
            virtualSize: Int64(disk.bytes.count), changed: ByteRangeSet(),
            allocated: ByteRangeSet([ByteRange(offset: 0, length: Int64(disk.bytes.count))]), previousVirtualSize: nil)
        do {
            var m = manifest("s1", uuid: Self.uuid)
            m.disks = [try session.storeDisk(target: "vda", format: "raw", from: disk, plan: plan, previous: nil)]
            let resumed = try session.resumableStream("memory")
            let tail = Array(memory[Int(resumed?.offset ?? 0)...])
            var offset = 0
            m.memory = try session.storeStream(
                name: "memory", resumed: resumed,
                read: { b in
                    let n = min(b.count, tail.count - offset)
                    tail.withUnsafeBytes { b.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
                    offset += n
                    return n
                })
            return (session, try session.commit(m))
        } catch {
            try session.abandon()
            return (session, nil)
        }
    }

    @Test(arguments: [1, 3, 6])
    func aResumedSendReadsOnlyWhatIsMissing(failAfter: Int) throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let disk = MemoryDisk(Data2.mixed(24 << 20, seed: 5))
        let memory = Data2.mixed(12 << 20, seed: 6)
        let (first, none) = try send(repo, disk, memory: memory, failAfter: failAfter)
        #expect(none == nil)
        #expect(try repo.backend.exists(VaultLayout.partial(vmUUID: Self.uuid, snapshot: "s1")))
        let total = Int64(disk.bytes.count + memory.count)
        let (second, m) = try send(repo, disk, memory: memory, failAfter: nil)
        let manifest = try #require(m)
        #expect(second.stats.bytesRead < total)
        #expect(first.stats.bytesRead + second.stats.bytesRead <= total + (8 << 20), "the resumed send re-read at most one batch")
        #expect(try restoreFirstDisk(repo, manifest) == disk.bytes)
        #expect(try repo.streamBytes(try #require(manifest.memory)) == memory)
        #expect(try !repo.backend.exists(VaultLayout.partial(vmUUID: Self.uuid, snapshot: "s1")), "the commit drops the checkpoint")
        #expect(try repo.verify(readData: true).ok)
    }

    @Test func aCheckpointOfAnotherLocalSnapshotIsIgnored() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let disk = MemoryDisk(Data2.mixed(8 << 20, seed: 7))
        _ = try send(repo, disk, memory: [1, 2, 3], failAfter: 1)
        let session = try repo.beginSend()
        #expect(try session.enableCheckpoints(vmUUID: Self.uuid, snapshot: "s1", localSnapshotID: "local-2") == nil)
        try session.abandon()
    }
}
