// Throughput of the vault's stages on one file (a disk image or a memory image):
//   vault-bench FILE [VAULT_DIR]
// Prints MB/s (10^6 bytes per second) for CDC, hashing, compression, and a whole store
// (plain and encrypted) plus a restore. Not part of kvmsnap; run from a release build.
// VAULT_BENCH_QUICK=1 skips the in-memory stages; VAULT_BENCH_DROP=1 (root) syncs and drops the
// page cache before each store and restore; VAULT_BENCH_PLAIN_ONLY=1 skips the encrypted vault;
// VAULT_BENCH_SAMPLE_AT=OFFSET takes the in-memory sample from there (default 0).
import Foundation
import KVMSnapCore
import Vault

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func report(_ name: String, _ bytes: Int64, _ s: Double) {
    let padded = name.padding(toLength: 36, withPad: " ", startingAt: 0)
    print(padded + String(format: "%9.1f MB/s  (%.2f s)", Double(bytes) / s / 1e6, s))
}

let env = ProcessInfo.processInfo.environment
let quick = env["VAULT_BENCH_QUICK"] == "1"

/// Drops the page cache (VAULT_BENCH_DROP=1, needs root) so a stage reads from the device.
func dropCaches() {
    guard env["VAULT_BENCH_DROP"] == "1" else { return }
    sync()
    let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
    guard fd >= 0 else { print("  (cannot drop caches: errno \(errno))"); return }
    _ = write(fd, "3\n", 2)
    close(fd)
}

let args = CommandLine.arguments
guard args.count >= 2 else { print("usage: vault-bench FILE [VAULT_DIR]"); exit(2) }
let path = args[1]
let vaultDir = args.count > 2 ? args[2] : NSTemporaryDirectory() + "/vault-bench-\(getpid())"
let sampleFD = open(path, O_RDONLY)
guard sampleFD >= 0,
    let sample = try? FileBlockDevice(fd: sampleFD).read(
        offset: Int64(env["VAULT_BENCH_SAMPLE_AT"] ?? "") ?? 0, length: quick ? 0 : 256 << 20)
else {
    print("cannot read \(path)"); exit(1)
}
close(sampleFD)
let n = Int64(max(1, sample.count))
print("sample: \(n >> 20) MiB of \(path) (in memory)")

if !quick { microStages() }

func microStages() {
    var chunker = ContentDefinedChunker()
    var cuts = 0
    report("cdc (1 core)", n, seconds { sample.withUnsafeBytes { cuts = chunker.feed($0).count } })
    print("  chunks: \(cuts), average \(n / Int64(max(1, cuts))) bytes")

    let plain = ChunkCodec(keys: nil)
    let slices = stride(from: 0, to: sample.count, by: 4 << 20).map { Array(sample[$0..<min(sample.count, $0 + (4 << 20))]) }
    report("sha-256 (1 core)", n, seconds { for s in slices { _ = plain.id(of: s) } })
    let enc = ChunkCodec(keys: VaultKeys.generate())
    report("hmac-sha256 id (1 core)", n, seconds { for s in slices { _ = enc.id(of: s) } })
    var stored = 0
    report("zstd-3 encode (1 core)", n, seconds { for s in slices { stored += try! plain.encode(s, id: plain.id(of: s)).count } })
    print("  compressed to \(stored * 100 / Int(n))%")
    stored = 0
    let level1 = ChunkCodec(keys: nil, level: 1)
    report("zstd-1 encode (1 core)", n, seconds { for s in slices { stored += try! level1.encode(s, id: level1.id(of: s)).count } })
    print("  compressed to \(stored * 100 / Int(n))%")
    report("hash+zstd+aes (1 core)", n, seconds { for s in slices { _ = try! enc.encode(s, id: enc.id(of: s)) } })
    report(
        "hash+zstd (all cores)", n,
        seconds {
            DispatchQueue.concurrentPerform(iterations: slices.count) { i in _ = try! plain.encode(slices[i], id: plain.id(of: slices[i])) }
        })
}

// Whole store of the file as a disk, then a restore.
let fd = open(path, O_RDONLY)
var st = stat()
fstat(fd, &st)
let size = Int64(st.st_size)
for encrypted in env["VAULT_BENCH_PLAIN_ONLY"] == "1" ? [false] : [false, true] {
    let dir = vaultDir + (encrypted ? "-enc" : "-plain")
    let repo = try VaultRepository.create(
        backend: try DirectoryBackend(root: dir, create: true),
        protection: encrypted ? .keyFile(Array(repeating: 5, count: 32)) : nil)
    let session = try repo.beginSend()
    let batch = Int(ProcessInfo.processInfo.environment["VAULT_BENCH_BATCH"] ?? "") ?? session.batchSize
    session.batchSize = batch
    let plan = DiskChunkPlan(
        virtualSize: size, changed: ByteRangeSet(),
        allocated: ByteRangeSet([ByteRange(offset: 0, length: size)]), previousVirtualSize: nil)
    var m = VaultManifest(
        vm: "bench", vmUUID: "bench", snapshot: "s1", kind: "disk-only", createdAt: Date(), host: "bench",
        kvmsnapVersion: "bench", hasMemory: false, domainXML: "")
    var commitSeconds = 0.0
    let label = (encrypted ? "encrypted" : "plain") + ", batch \(batch)"
    dropCaches()
    report(
        "store disk, \(label) (all cores)", size,
        try seconds {
            m.disks = [try session.storeDisk(target: "vda", format: "raw", from: FileBlockDevice(fd: fd), plan: plan, previous: nil)]
            commitSeconds = try seconds { m = try session.commit(m) }
        })
    print(
        String(
            format: "  stored %d MiB in %d chunks; commit (flush + manifest) %.2f s",
            session.stats.bytesStored >> 20, session.stats.chunksNew, commitSeconds))
    dropCaches()
    let s2 = try repo.beginSend()
    report(
        "store stream (CDC), \(label)", size,
        try seconds {
            lseek(fd, 0, SEEK_SET)
            m.snapshot = "s2"
            m.memory = try s2.storeStream(fileDescriptor: fd)
            m.disks = []
            _ = try s2.commit(m)
        })
    print("  stored \(s2.stats.bytesStored >> 20) MiB new in \(s2.stats.chunksNew) chunks")
    dropCaches()
    let s3 = try repo.beginSend()
    report(
        "store disk again (chunks present)", size,
        try seconds {
            m.snapshot = "s3"
            m.memory = nil
            m.disks = [try s3.storeDisk(target: "vda", format: "raw", from: FileBlockDevice(fd: fd), plan: plan, previous: nil)]
            _ = try s3.commit(m)
        })
    print("  stored \(s3.stats.bytesStored >> 20) MiB new, \(s3.stats.chunksReused) chunks reused")
    let outPath = dir + "/restored.img"
    let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    ftruncate(out, off_t(size))
    let index = try repo.diskIndex(try repo.manifest(vmUUID: "bench", snapshot: "s1").disks[0].index)
    dropCaches()
    report(
        "restore disk, \(label) (all cores)", size,
        try seconds {
            try repo.restoreDisk(index, into: FileBlockDevice(fd: out)); fsync(out)
        })
    close(out)
    try? FileManager.default.removeItem(atPath: dir)
}
