import Foundation
import KVMSnapCore
import TestSupport
import Vault

/// A disk in memory: a block source and sink (reads past the end give zeros).
final class MemoryDisk: BlockSource, BlockSink {
    var bytes: [UInt8]
    var reads: Int64 = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    func read(offset: Int64, length: Int) throws(VaultError) -> [UInt8] {
        reads += Int64(length)
        let lo = Int(offset), hi = min(bytes.count, lo + length)
        var out = Array(bytes[lo..<hi])
        out += [UInt8](repeating: 0, count: length - out.count)
        return out
    }

    func write(offset: Int64, bytes chunk: [UInt8]) throws(VaultError) {
        bytes.replaceSubrange(Int(offset)..<(Int(offset) + chunk.count), with: chunk)
    }
}

/// A temporary directory removed when the value goes away.
final class TempDir {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-vaulttests-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum Data2 {
    /// Mixed data: random 4 KiB pages, zero pages, and a repeated text pattern (compressible).
    static func mixed(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt8]()
        out.reserveCapacity(count)
        let text = Array("kvmsnap vault test line with some repeated words 0123456789\n".utf8)
        while out.count < count {
            let n = min(4096, count - out.count)
            switch rng.next() % 3 {
            case 0: out += random(n, &rng)
            case 1: out += [UInt8](repeating: 0, count: n)
            default: out += (0..<n).map { text[$0 % text.count] }
            }
        }
        return out
    }

    static func random(_ n: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var i = 0
        while i < n {
            let v = rng.next()
            for k in 0..<min(8, n - i) { out[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            i += 8
        }
        return out
    }
}

/// A whole-disk plan (first send).
func fullPlan(_ size: Int) -> DiskChunkPlan {
    DiskChunkPlan(
        virtualSize: Int64(size), changed: ByteRangeSet(),
        allocated: ByteRangeSet([ByteRange(offset: 0, length: Int64(size))]), previousVirtualSize: nil)
}

func manifest(_ snapshot: String, uuid: String = "6f1c9a52-0000-4000-8000-000000000001", at: Date = Date()) -> VaultManifest {
    VaultManifest(
        vm: "guest", vmUUID: uuid, snapshot: snapshot, kind: "disk-only", createdAt: at, host: "testhost",
        kvmsnapVersion: "test", hasMemory: false, domainXML: "<domain/>")
}

/// Sends one disk (full) and a memory blob; returns the committed manifest and the session stats.
@discardableResult
func send(
    _ repo: VaultRepository, _ disk: MemoryDisk, _ snapshot: String, memory: [UInt8]? = nil,
    at: Date = Date()
) throws -> (VaultManifest, SendStats) {
    let session = try repo.beginSend()
    var m = manifest(snapshot, at: at)
    m.disks = [try session.storeDisk(target: "vda", format: "qcow2", from: disk, plan: fullPlan(disk.bytes.count), previous: nil)]
    if let memory {
        m.memory = try session.storeBlob(memory)
        m.hasMemory = true
    }
    let committed = try session.commit(m)
    return (committed, session.stats)
}

/// Restores the first disk of a manifest into a new memory disk.
func restoreFirstDisk(_ repo: VaultRepository, _ m: VaultManifest) throws -> [UInt8] {
    let ref = m.disks[0]
    let out = MemoryDisk(size: Int(ref.virtualSize))
    try repo.restoreDisk(try repo.diskIndex(ref.index), into: out)
    return out.bytes
}

func chunkFiles(_ dir: String) -> [String] {
    let root = "\(dir)/chunks"
    let e = FileManager.default.enumerator(atPath: root)
    var out: [String] = []
    while let p = e?.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: "\(root)/\(p)", isDirectory: &isDir), !isDir.boolValue { out.append("\(root)/\(p)") }
    }
    return out.sorted()
}
