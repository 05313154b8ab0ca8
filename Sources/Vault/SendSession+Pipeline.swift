import Dispatch
import Foundation
import KVMSnapCore

/// A bounded FIFO between one producer (the session's thread, which reads the source) and the
/// store workers. `put` blocks while full; `take` blocks while empty and returns nil once closed.
final class BoundedQueue<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [(Int, T)] = []
    private var head = 0
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Enqueues unless closed; false when closed (an error elsewhere stopped the pipeline).
    func put(_ seq: Int, _ item: T) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed && items.count - head >= capacity { condition.wait() }
        guard !closed else { return false }
        items.append((seq, item))
        condition.broadcast()
        return true
    }

    /// The next item, nil when the queue is closed and drained.
    func take() -> (Int, T)? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return item
    }

    /// No more items; with `drop`, pending items are discarded too.
    func close(drop: Bool = false) {
        condition.lock()
        closed = true
        if drop {
            items.removeAll()
            head = 0
        }
        condition.broadcast()
        condition.unlock()
    }
}

/// Stores plaintexts on worker threads while the caller keeps producing: the caller `submit`s
/// (blocking when `capacity` chunks wait), workers hash, check `exists`, compress (+ encrypt)
/// and put-if-absent; `finish` returns the outcomes by sequence number.
/// A plaintext is an `ArraySlice` so that several chunks cut from one read buffer (a run of
/// disk slots, a stream's window) share it without a copy; the buffer is freed when the
/// workers are done with its last slice.
final class StorePipeline: @unchecked Sendable {
    private let queue: BoundedQueue<ArraySlice<UInt8>>
    private let lock = NSLock()
    private var outcomes: [Int: SendSession.Outcome] = [:]
    private var failure: VaultError?
    private let group = DispatchGroup()

    init(session: SendSession, capacity: Int, detectZero: Bool) {
        queue = BoundedQueue(capacity: capacity)
        let codec = session.repository.codec, backend = session.repository.backend
        for _ in 0..<max(1, session.storeWorkers ?? ProcessInfo.processInfo.activeProcessorCount) {
            group.enter()
            DispatchQueue.global().async { [self] in
                defer { group.leave() }
                while let (seq, plain) = queue.take() {
                    let o = SendSession.store(plain, detectZero: detectZero, codec: codec, backend: backend)
                    lock.lock()
                    outcomes[seq] = o
                    if let e = o.error, failure == nil { failure = e }
                    lock.unlock()
                    if o.error != nil { queue.close(drop: true) }
                }
            }
        }
    }

    /// Hands one plaintext to the workers; throws a worker's error as soon as one is known.
    func submit(_ seq: Int, _ plain: ArraySlice<UInt8>) throws(VaultError) {
        if let e = currentFailure() { throw e }
        guard queue.put(seq, plain) else {
            cancel()
            throw currentFailure() ?? .source("store pipeline stopped")
        }
    }

    /// The outcomes known so far (for checkpoints: which chunks are stored).
    func completedOutcomes() -> [Int: SendSession.Outcome] {
        lock.lock()
        defer { lock.unlock() }
        return outcomes
    }

    private func currentFailure() -> VaultError? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Waits for every submitted plaintext; the outcomes by sequence number.
    func finish() throws(VaultError) -> [Int: SendSession.Outcome] {
        queue.close()
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        return outcomes
    }

    /// Stops the workers and waits for them; with `drop`, plaintexts not yet taken are dropped
    /// (a worker failed), else they are stored first (the source failed: what was read is kept
    /// for the next send to reuse).
    func cancel(drop: Bool = true) {
        queue.close(drop: drop)
        group.wait()
    }
}

extension SendSession {
    /// One chunk's store: an all-zero plaintext (with `detectZero`) is a hole; else hash, skip
    /// when the object exists (resume, dedup: costs a stat), else encode and put-if-absent.
    static func store(_ plain: ArraySlice<UInt8>, detectZero: Bool, codec: ChunkCodec, backend: any VaultBackend) -> Outcome {
        plain.withUnsafeBytes { store($0, detectZero: detectZero, codec: codec, backend: backend) }
    }

    static func store(_ plain: UnsafeRawBufferPointer, detectZero: Bool, codec: ChunkCodec, backend: any VaultBackend) -> Outcome {
        var o = Outcome()
        if detectZero, isAllZero(plain) {
            o.isZero = true
            return o
        }
        do throws(VaultError) {
            o.id = codec.id(of: plain)
            let key = VaultLayout.chunk(o.id)
            if try backend.exists(key) { return o }
            let object = try codec.encode(plain, id: o.id)
            if try backend.putIfAbsent(key, object) {
                o.isNew = true
                o.storedBytes = object.count
            }
        } catch {
            o.error = error
        }
        return o
    }
}

/// A stream's checkpoint state: the entries already in the checkpoint (resumed ones first) and
/// the lengths of the chunks handed to the pipeline, by sequence number.
struct StreamProgress {
    var saved: [StreamIndex.Entry]
    var resumedCount: Int
    var lengths: [Int] = []
    init(entries: [StreamIndex.Entry]) {
        saved = entries
        resumedCount = entries.count
    }
}

extension SendSession {
    var checkpointDue: Bool { checkpoint != nil && ContinuousClock.now - lastCheckpointSave >= checkpointInterval }

    /// When a checkpoint is due: extends the disk's checkpointed prefix over the slots before
    /// `end` that are decided (holes, reused, resumed, or stored by the workers), then saves
    /// (which flushes the chunks first).
    func checkpointDisk(
        _ target: String, slots: [ChunkID], submitted: Set<Int>, stored: () -> [Int: Outcome], upTo end: Int, saved: inout Int
    ) throws(VaultError) {
        guard checkpointDue else { return }
        let done = stored()
        var ids = Array(checkpoint?.disks[target]?.prefix(saved) ?? [])
        let before = saved
        while saved < end {
            if submitted.contains(saved) {  // read by this send: decided once a worker stored it
                guard let o = done[saved], o.error == nil else { break }
                ids.append(o.isZero ? .zero : o.id)
            } else {
                ids.append(slots[saved])
            }
            saved += 1
        }
        guard saved > before else { return }  // nothing new is decided: no save
        checkpoint?.disks[target] = ids
        try saveCheckpoint()
    }

    /// When a checkpoint is due: extends the stream's checkpointed entries over the chunks the
    /// workers stored, in order, then saves.
    func checkpointStream(_ name: String, _ p: inout StreamProgress, stored: () -> [Int: Outcome]) throws(VaultError) {
        guard checkpointDue else { return }
        let done = stored()
        let before = p.saved.count - p.resumedCount
        var k = before
        while k < p.lengths.count, let o = done[k], o.error == nil {
            p.saved.append(.init(id: o.id, length: p.lengths[k]))
            k += 1
        }
        guard k > before else { return }
        checkpoint?.streams[name] = SendCheckpoint.Stream(
            offset: p.saved.reduce(0) { $0 + Int64($1.length) }, ids: p.saved.map(\.id), lengths: p.saved.map(\.length))
        try saveCheckpoint()
    }
}
