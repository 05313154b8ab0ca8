import Foundation
import KVMSnapCore
import Synchronization
import Testing
import Vault

/// A directory backend that records the order of writes and can fail a put.
final class RecordingBackend: VaultBackend {
    let inner: DirectoryBackend
    let log = Mutex<[String]>([])
    let failPutsAfter: Int?
    let puts = Mutex(0)

    init(_ inner: DirectoryBackend, failPutsAfter: Int? = nil) {
        self.inner = inner
        self.failPutsAfter = failPutsAfter
    }

    var operations: [String] { log.withLock { $0 } }

    func putIfAbsent(_ key: String, _ bytes: [UInt8]) throws(VaultError) -> Bool {
        let n = puts.withLock { p in
            p += 1; return p
        }
        if let failPutsAfter, n > failPutsAfter { throw .backend(key: key, operation: "write", errno: ENOSPC) }
        let new = try inner.putIfAbsent(key, bytes)
        log.withLock { $0.append("put \(key)") }
        return new
    }
    func writeAtomic(_ key: String, _ bytes: [UInt8]) throws(VaultError) {
        try inner.writeAtomic(key, bytes)
        log.withLock { $0.append("atomic \(key)") }
    }
    func get(_ key: String) throws(VaultError) -> [UInt8] { try inner.get(key) }
    func exists(_ key: String) throws(VaultError) -> Bool { try inner.exists(key) }
    func list(prefix: String) throws(VaultError) -> [VaultObjectInfo] { try inner.list(prefix: prefix) }
    func delete(_ key: String) throws(VaultError) { try inner.delete(key) }
    func touch(_ key: String) throws(VaultError) { try inner.touch(key) }
    func flush() throws(VaultError) {
        try inner.flush()
        log.withLock { $0.append("flush") }
    }
}

/// A source that fails once a read reaches `failAt`.
struct FailingSource: BlockSource {
    let disk: MemoryDisk
    let failAt: Int64
    func read(offset: Int64, length: Int) throws(VaultError) -> [UInt8] {
        if offset >= failAt { throw .source("device gone at \(offset)") }
        return try disk.read(offset: offset, length: length)
    }
}

/// A sink that records the offsets written, in order.
final class OrderSink: BlockSink {
    let disk: MemoryDisk
    var offsets: [Int64] = []
    init(size: Int) { disk = MemoryDisk(size: size) }
    func write(offset: Int64, bytes: [UInt8]) throws(VaultError) {
        offsets.append(offset)
        try disk.write(offset: offset, bytes: bytes)
    }
}

@Suite("vault send and restore pipelines")
struct VaultPipelineTests {
    @Test func everyChunkIsFlushedBeforeTheManifestIsWritten() throws {
        let dir = TempDir()
        let backend = RecordingBackend(try DirectoryBackend(root: dir.path))
        let repo = try VaultRepository.create(backend: backend, protection: nil)
        let disk = MemoryDisk(Data2.mixed(24 << 20, seed: 11))
        try send(repo, disk, "s1", memory: Data2.mixed(3 << 20, seed: 12))
        let ops = backend.operations
        let manifestAt = try #require(ops.firstIndex { $0.hasPrefix("atomic snapshots/") })
        let lastPut = try #require(ops.lastIndex { $0.hasPrefix("put chunks/") })
        let flushes = ops.indices.filter { ops[$0] == "flush" }
        #expect(flushes.contains { $0 > lastPut && $0 < manifestAt }, "operations: \(ops)")
        #expect(ops.count { $0.hasPrefix("put chunks/") } >= 7)
        // What was flushed is what the manifest references: the vault verifies with its data.
        #expect(try repo.verify(readData: true).ok)
    }

    @Test func aFailingSourceStopsTheSendWithItsErrorAndNoManifest() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let disk = MemoryDisk(Data2.mixed(40 << 20, seed: 13))
        let session = try repo.beginSend()
        #expect {
            _ = try session.storeDisk(
                target: "vda", format: "raw", from: FailingSource(disk: disk, failAt: 20 << 20), plan: fullPlan(40 << 20), previous: nil)
        } throws: { e in
            if case .source(let m) = e as? VaultError { return m.contains("device gone") }
            return false
        }
        try session.abandon()
        #expect(try repo.snapshots().isEmpty)
        // A second send of the same disk completes and stores only what the first did not.
        let before = chunkFiles(dir.path).count
        let (_, stats) = try send(repo, disk, "s1")
        #expect(before > 0)
        #expect(stats.chunksReused >= before - 1)  // the first send's chunks (the index aside) are reused
        #expect(try restoreFirstDisk(repo, try repo.manifest(vmUUID: manifest("s1").vmUUID, snapshot: "s1")) == disk.bytes)
    }

    @Test func aFailingPutStopsTheSendWithTheBackendError() throws {
        let dir = TempDir()
        let backend = RecordingBackend(try DirectoryBackend(root: dir.path), failPutsAfter: 3)
        let repo = try VaultRepository.create(backend: backend, protection: nil)
        let disk = MemoryDisk(Data2.mixed(64 << 20, seed: 14))
        let session = try repo.beginSend()
        #expect {
            _ = try session.storeDisk(target: "vda", format: "raw", from: disk, plan: fullPlan(64 << 20), previous: nil)
        } throws: { e in
            if case .backend(_, let op, let errno) = e as? VaultError { return op == "write" && errno == ENOSPC }
            return false
        }
        // The pipeline stopped reading soon after the failure (it did not read the whole disk).
        #expect(disk.reads < 64 << 20)
        try session.abandon()
    }

    @Test func restoreWritesSlotsInOrderAndSkipsHoles() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        var bytes = Data2.mixed(50 << 20 + 777, seed: 15)
        bytes.replaceSubrange((8 << 20)..<(16 << 20), with: [UInt8](repeating: 0, count: 8 << 20))  // holes
        bytes[bytes.count - 1] = 1  // the short last slot is not a hole
        let (m, _) = try send(repo, MemoryDisk(bytes), "s1")
        let sink = OrderSink(size: bytes.count)
        var progress: [Int64] = []
        try repo.restoreDisk(try repo.diskIndex(m.disks[0].index), into: sink, batchSize: 3) { progress.append($0) }
        #expect(sink.disk.bytes == bytes)
        let slot = DiskChunkPlan.defaultChunkSize
        let holes = (8 << 20) / slot..<(16 << 20) / slot
        #expect(sink.offsets.map { $0 / slot } == (0...Int64(bytes.count) / slot).filter { !holes.contains($0) })
        #expect(progress.last == Int64(bytes.count - (8 << 20)))
    }

    @Test func anEmptyChunkLeftByACrashIsRewrittenByTheNextSend() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let disk = MemoryDisk(Data2.mixed(12 << 20, seed: 16))
        // What a power loss can leave of a chunk linked but not yet flushed: an empty file.
        let slot = Int(DiskChunkPlan.defaultChunkSize)
        let key = VaultLayout.chunk(ChunkCodec(keys: nil).id(of: Array(disk.bytes[slot..<(2 * slot)])))
        let path = "\(dir.path)/\(key)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let (m, stats) = try send(repo, disk, "s1")
        #expect(stats.chunksNew == (12 << 20) / slot + 1)  // every slot and the index: the empty one counts as absent
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0 > 0)
        #expect(try repo.verify(readData: true).ok)
        #expect(try restoreFirstDisk(repo, m) == disk.bytes)
    }
}
