import Dispatch
import Foundation
import KVMSnapCore
import Synchronization

/// One send into a vault: stores disks, streams and blobs, then commits the manifest (last).
/// While it runs it keeps `marks/send-<id>` fresh, and gc does not delete while a live send mark
/// exists. Not for concurrent use from several threads (it parallelizes internally).
public final class SendSession: @unchecked Sendable {
    public let id: String
    public let repository: VaultRepository
    /// Chunks read ahead of the store workers (the pipeline's queue length; memory is about
    /// `batchSize` chunks, 32 MiB at 1 MiB slots). Reading stays on the caller's thread, one call
    /// at a time. 32 measured better than 8 with 1 MiB slots (it absorbs write stalls).
    public var batchSize = 32
    /// Bytes of consecutive disk slots read in one call to the block source.
    public var readSpanBytes = 8 << 20
    /// Store workers (hash, compress, put) running at once; nil: one per core. A remote
    /// backend gains from more: its puts wait on the network, not the CPU.
    public var storeWorkers: Int?
    /// Cleanups after the manifest was written that failed (the checkpoint's and the mark's
    /// delete, e.g. with an append-only key that may not delete): the send stands; the caller
    /// reports them.
    public internal(set) var cleanupFailures: [VaultError] = []
    var refs = Set<ChunkID>()
    public internal(set) var stats = SendStats()
    private var lastMarkRefresh = ContinuousClock.now
    private let markKey: String
    private var finished = false
    // Checkpoints (SendSession+Checkpoint.swift).
    var checkpointKey: String?
    var checkpoint: SendCheckpoint?
    var resumeFrom: SendCheckpoint?
    var lastCheckpointSave = ContinuousClock.now
    /// The shortest time between two checkpoint saves. A save waits until every chunk put so
    /// far is durable (syncfs on a directory vault), which stalls reading. A kill loses at
    /// most this much work.
    public var checkpointInterval: Duration = .seconds(5)
    /// Called after each checkpoint save (a test's fault point stalls or fails here).
    public var afterCheckpoint: (() throws(VaultError) -> Void)?

    init(repository: VaultRepository, id: String) {
        self.repository = repository
        self.id = id
        self.markKey = VaultLayout.mark("send-\(id)")
    }

    /// Every chunk this session has referenced so far.
    public var referencedChunks: Set<ChunkID> { refs }

    /// Touches the session's mark when the last touch is older than a few seconds (called by
    /// every batch; call it from a long pause, e.g. a slow source).
    public func refreshMark(force: Bool = false) throws(VaultError) {
        guard force || ContinuousClock.now - lastMarkRefresh > .seconds(5) else { return }
        try repository.backend.touch(markKey)
        lastMarkRefresh = .now
    }

    /// `onWait` is told once, when a gc mark makes the send wait: which mark, and how old it is.
    func start(gcWait: Duration, onWait: ((String) -> Void)? = nil) throws(VaultError) {
        try repository.backend.writeAtomic(markKey, Array("send \(id)\n".utf8))
        // A gc that started before our mark may be deleting: wait for it to finish.
        let deadline = ContinuousClock.now + gcWait
        var told = false
        while let mark = try repository.liveMarks(prefix: "gc-", ttl: VaultRepository.markTTL).first {
            if !told, let onWait {
                told = true
                let age = Int(max(0, Date().timeIntervalSince(mark.modified)))
                onWait(
                    "waiting for a vault gc to finish: \(mark.key) was refreshed \(age) s ago "
                        + "(a gc killed before it ended leaves it; it counts as stale \(Int(VaultRepository.markTTL)) s after its last refresh)")
            }
            guard ContinuousClock.now < deadline else {
                try? repository.backend.delete(markKey)
                throw .busy("a vault gc is running")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    // MARK: disks

    /// Stores one disk by `plan`: `.read` slots are read from `source`, hashed and stored (an
    /// all-zero slot becomes a hole), `.reuse` slots take `previous`'s id, `.zero` slots are holes.
    /// `progress` gets the bytes read so far.
    public func storeDisk(
        target: String, format: String, from source: any BlockSource, plan: DiskChunkPlan, previous: DiskIndex?,
        progress: ((Int64) -> Void)? = nil
    ) throws(VaultError) -> VaultDiskRef {
        if plan.isIncremental {
            guard let previous, previous.chunkSize == plan.chunkSize,
                previous.slots.count >= plan.slots.lastIndex(of: .reuse).map({ $0 + 1 }) ?? 0
            else {
                throw .badIndex(key: "previous index", reason: "missing, shorter than the plan, or with another chunk size")
            }
        }
        var slots = [ChunkID](repeating: .zero, count: plan.slotCount)
        let resumable = try resumableSlots(target, slotCount: plan.slotCount)
        // This thread reads the source in order (one call at a time); the workers hash and store.
        let pipeline = StorePipeline(session: self, capacity: max(2, batchSize), detectZero: true)
        var readSlots: [Int] = []
        var submitted = Set<Int>()
        var saved = 0  // slots[0..<saved] are in the checkpoint
        do {
            var i = 0
            while i < plan.slotCount {
                defer { i += 1 }
                switch plan.slots[i] {
                case .zero: slots[i] = .zero
                case .reuse:
                    let id = previous?.slots[i] ?? .zero
                    slots[i] = id
                    if !id.isZero { refs.insert(id); stats.chunksReused += 1 }
                case .read:
                    if i < resumable.count, let id = resumable[i] {
                        slots[i] = id  // stored by the killed send this one resumes
                        if !id.isZero { refs.insert(id); stats.chunksReused += 1 }
                        continue
                    }
                    // One read call for a run of slots: the source keeps several requests in
                    // flight within a call (an NBD export at queue depth 1 reads at half speed).
                    let run = readRun(plan, from: i, resumable: resumable.count)
                    let first = plan.range(ofSlot: i)
                    let length = Int(run.reduce(0) { $0 + plan.range(ofSlot: $1).length })
                    let bytes = try source.read(offset: first.offset, length: length)
                    var at = 0
                    for k in run {
                        let n = Int(plan.range(ofSlot: k).length)
                        // A slice shares the run's buffer: the workers hash and compress in place.
                        try pipeline.submit(k, bytes[at..<(at + n)])
                        at += n
                        readSlots.append(k)
                        if checkpoint != nil { submitted.insert(k) }
                        stats.bytesRead += Int64(n)
                    }
                    i = run[run.count - 1]
                    progress?(stats.bytesRead)
                    try refreshMark()
                    try checkpointDisk(
                        target, slots: slots, submitted: submitted, stored: pipeline.completedOutcomes, upTo: i, saved: &saved)
                }
            }
        } catch {
            pipeline.cancel(drop: false)
            throw error
        }
        let outcomes = try pipeline.finish()
        let ids = try apply(readSlots.map { outcomes[$0] ?? Outcome() })
        for (k, i) in readSlots.enumerated() { slots[i] = ids[k] }
        checkpoint?.disks[target] = slots
        try saveCheckpoint()
        let index = DiskIndex(virtualSize: plan.virtualSize, chunkSize: plan.chunkSize, slots: slots)
        let indexID = try storeParallel(count: 1, detectZero: false) { (_) throws(VaultError) in index.encoded() }[0]
        stats.logicalBytes += plan.virtualSize
        return VaultDiskRef(
            target: target, format: format, virtualSize: plan.virtualSize, index: indexID,
            allocatedBytes: index.allocatedBytes)
    }

    /// The slots from `start` on that one read call covers: consecutive `.read` slots past the
    /// resumable prefix, at most `readSpanBytes` together (at least one slot).
    func readRun(_ plan: DiskChunkPlan, from start: Int, resumable: Int) -> [Int] {
        let most = max(1, Int(Int64(readSpanBytes) / max(1, plan.chunkSize)))
        var run = [start]
        var k = start + 1
        while run.count < most, k < plan.slotCount, k >= resumable, plan.slots[k] == .read {
            run.append(k)
            k += 1
        }
        return run
    }

    // MARK: streams

    /// Stores a byte stream cut by the vault's content-defined chunker. `read` fills the buffer
    /// it is given and returns the byte count, 0 at the end.
    /// With `name` and checkpoints on, `resumed` is where the caller positioned `read` (from
    /// ``resumableStream(_:)``): its entries are taken as stored and the chunker starts there.
    public func storeStream(
        name: String? = nil, resumed: SendCheckpoint.Stream? = nil,
        read: (UnsafeMutableRawBufferPointer) throws(VaultError) -> Int, progress: ((Int64) -> Void)? = nil
    ) throws(VaultError) -> VaultStreamRef {
        var chunker = ContentDefinedChunker(repository.config.cdc)
        var pending: ArraySlice<UInt8> = []  // bytes since the last cut
        var pendingStart: Int64 = 0  // in the chunker's offsets, which start where `read` starts
        var entries: [StreamIndex.Entry] = []  // the resumed ones, then the new ones at the end
        if let resumed {
            for (id, length) in zip(resumed.ids, resumed.lengths) { entries.append(.init(id: id, length: length)); refs.insert(id) }
            stats.chunksReused += resumed.ids.count
        }
        var progressed = StreamProgress(entries: entries)
        // This thread reads and cuts; the workers hash and store meanwhile.
        let pipeline = StorePipeline(session: self, capacity: max(2, batchSize), detectZero: false)
        func submit(_ chunk: ArraySlice<UInt8>) throws(VaultError) {
            try pipeline.submit(progressed.lengths.count, chunk)
            progressed.lengths.append(chunk.count)
        }
        do {
            while true {
                // Each read fills a fresh window that starts with the uncut bytes of the last
                // one; the chunks cut from it go to the workers as slices (no copy).
                let (window, n) = try Self.readWindow(after: pending, count: 4 << 20, read: read)
                guard n > 0 else { break }
                let cuts = window.withUnsafeBytes { chunker.feed(UnsafeRawBufferPointer(rebasing: $0[pending.count...])) }
                var consumed = 0
                for cut in cuts {
                    let len = Int(cut - pendingStart) - consumed
                    try submit(window[consumed..<(consumed + len)])
                    consumed += len
                }
                pending = window[consumed...]
                pendingStart += Int64(consumed)
                stats.bytesRead += Int64(n)
                progress?(stats.bytesRead)
                try refreshMark()
                if let name { try checkpointStream(name, &progressed, stored: pipeline.completedOutcomes) }
            }
            if chunker.finish() != nil { try submit(pending) }
        } catch {
            pipeline.cancel(drop: false)
            throw error
        }
        let outcomes = try pipeline.finish()
        let ids = try apply(progressed.lengths.indices.map { outcomes[$0] ?? Outcome() })
        entries += progressed.lengths.indices.map { StreamIndex.Entry(id: ids[$0], length: progressed.lengths[$0]) }
        if let name, checkpoint != nil {
            // The whole stream is stored: the next save (by interval) lets a killed send resume
            // without reading it.
            checkpoint?.streams[name] = SendCheckpoint.Stream(
                offset: entries.reduce(0) { $0 + Int64($1.length) }, ids: entries.map(\.id), lengths: entries.map(\.length))
            try saveCheckpoint()
        }
        let index = StreamIndex(entries: entries)
        let indexID = try storeParallel(count: 1, detectZero: false) { (_) throws(VaultError) in index.encoded() }[0]
        stats.logicalBytes += index.totalLength
        return VaultStreamRef(index: indexID, size: index.totalLength)
    }

    /// A new buffer holding `carry`, then up to `count` bytes from `read`; and that byte count
    /// (0 at the end of the stream). Not zero-filled first: `read` writes what it returns.
    static func readWindow(
        after carry: ArraySlice<UInt8>, count: Int, read: (UnsafeMutableRawBufferPointer) throws(VaultError) -> Int
    ) throws(VaultError) -> ([UInt8], Int) {
        var n = 0
        var failure: VaultError?
        let window = [UInt8](unsafeUninitializedCapacity: carry.count + count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            if !carry.isEmpty { carry.withUnsafeBytes { raw.copyMemory(from: $0) } }
            do throws(VaultError) {
                n = try read(UnsafeMutableRawBufferPointer(rebasing: raw[carry.count...]))
                if n < 0 || n > count { throw .source("read returned \(n) bytes for a \(count)-byte buffer") }
            } catch {
                failure = error
                n = 0
            }
            initialized = carry.count + n
        }
        if let failure { throw failure }
        return (window, n)
    }

    /// Stores a stream read from a file descriptor until its end.
    /// With `name` and a checkpoint of that stream, seeks past what the killed send stored.
    public func storeStream(fileDescriptor fd: Int32, name: String? = nil, progress: ((Int64) -> Void)? = nil) throws(VaultError) -> VaultStreamRef {
        var resumed = try name.flatMap { (n) throws(VaultError) in try resumableStream(n) }
        if let r = resumed, lseek(fd, off_t(r.offset), SEEK_SET) != off_t(r.offset) { resumed = nil; lseek(fd, 0, SEEK_SET) }
        return try storeStream(
            name: name, resumed: resumed,
            read: { (b) throws(VaultError) in
                while true {
                    let n = Foundation.read(fd, b.baseAddress, b.count)
                    if n < 0 && errno == EINTR { continue }
                    guard n >= 0 else { throw .source("read: errno \(errno)") }
                    return n
                }
            }, progress: progress)
    }

    /// Stores a small blob (NVRAM, a config file) as a stream.
    public func storeBlob(_ bytes: [UInt8]) throws(VaultError) -> VaultStreamRef {
        var offset = 0
        return try storeStream(read: { b in
            let n = min(b.count, bytes.count - offset)
            if n > 0 { bytes.withUnsafeBytes { b.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) } }
            offset += n
            return n
        })
    }

    // MARK: commit

    /// Writes the manifest after every chunk is durable; fills `chunkRefs`, `storedBytes` and
    /// `logicalBytes` from the session. Refuses to replace an existing manifest.
    public func commit(_ manifest: VaultManifest) throws(VaultError) -> VaultManifest {
        guard VaultLayout.isSafeComponent(manifest.vmUUID) else { throw .invalidName(manifest.vmUUID) }
        guard VaultLayout.isSafeComponent(manifest.snapshot) else { throw .invalidName(manifest.snapshot) }
        var m = manifest
        m.formatVersion = VaultManifest.currentFormatVersion
        for d in m.disks { refs.insert(d.index) }
        for s in [m.memory, m.nvram].compactMap({ $0 }) { refs.insert(s.index) }
        m.chunkRefs = refs.sorted()
        m.storedBytes = stats.bytesStored
        m.logicalBytes = stats.logicalBytes
        let key = VaultLayout.manifest(vmUUID: m.vmUUID, snapshot: m.snapshot)
        if try repository.backend.exists(key) { throw .alreadyExists(key: key) }
        try repository.backend.flush()
        try repository.backend.writeAtomic(key, try ManifestCodec.encode(m, keys: repository.keys))
        // The manifest is the commit. A failed cleanup (an append-only key may not delete) leaves
        // a checkpoint no send resumes (its snapshot is in the vault) and a mark that expires.
        do { try dropCheckpoint() } catch { cleanupFailures.append(error) }
        do { try abandon() } catch { cleanupFailures.append(error) }
        return m
    }

    /// Ends the session without a manifest (its chunks stay until gc reclaims them).
    public func abandon() throws(VaultError) {
        guard !finished else { return }
        finished = true
        try repository.backend.delete(markKey)
    }
}
