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
final class StorePipeline: @unchecked Sendable {
    private let queue: BoundedQueue<[UInt8]>
    private let lock = NSLock()
    private var outcomes: [Int: SendSession.Outcome] = [:]
    private var failure: VaultError?
    private let group = DispatchGroup()

    init(session: SendSession, capacity: Int, detectZero: Bool) {
        queue = BoundedQueue(capacity: capacity)
        let codec = session.repository.codec, backend = session.repository.backend
        for _ in 0..<max(1, ProcessInfo.processInfo.activeProcessorCount) {
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
    func submit(_ seq: Int, _ plain: [UInt8]) throws(VaultError) {
        if let e = currentFailure() { throw e }
        guard queue.put(seq, plain) else {
            cancel()
            throw currentFailure() ?? .source("store pipeline stopped")
        }
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
    static func store(_ plain: [UInt8], detectZero: Bool, codec: ChunkCodec, backend: any VaultBackend) -> Outcome {
        var o = Outcome()
        if detectZero, plain.withUnsafeBytes({ isAllZero($0) }) {
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
