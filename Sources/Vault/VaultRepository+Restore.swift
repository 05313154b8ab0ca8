import Dispatch
import Foundation
import KVMSnapCore
import Synchronization

extension VaultRepository {
    /// Checks before a restore writes anything: the manifest's every chunk exists (a missing
    /// chunk is named). Restores still verify every chunk's content as they read it.
    public func preflight(_ manifest: VaultManifest) throws(VaultError) {
        try requireKeyIfEncrypted()
        for id in manifest.chunkRefs where !(try backend.exists(VaultLayout.chunk(id))) {
            throw .missingObject(key: VaultLayout.chunk(id))
        }
    }

    /// Writes a disk into `sink`, skipping zero slots; every chunk is decoded and checked against
    /// its id first (a damaged chunk stops the restore with `.corruptChunk` naming it). Chunks are
    /// read and decoded on all cores, at most `batchSize` ahead of the writer; this thread writes
    /// them in slot order (sequential 4 MiB writes). `progress` gets the bytes written so far.
    public func restoreDisk(
        _ index: DiskIndex, into sink: any BlockSink, batchSize: Int = 8, progress: ((Int64) -> Void)? = nil
    ) throws(VaultError) {
        let present = index.slots.indices.filter { !index.slots[$0].isZero }
        var written: Int64 = 0
        try orderedParallelMap(
            present.count, window: max(2, batchSize),
            produce: { (k) throws(VaultError) -> [UInt8] in
                let slot = present[k]
                let plain = try chunk(index.slots[slot])
                guard plain.count == index.slotLength(slot) else {
                    throw .badIndex(
                        key: VaultLayout.chunk(index.slots[slot]),
                        reason: "slot \(slot) needs \(index.slotLength(slot)) bytes, chunk has \(plain.count)")
                }
                return plain
            },
            consume: { (k, plain) throws(VaultError) in
                try sink.write(offset: Int64(present[k]) * index.chunkSize, bytes: plain)
                written += Int64(plain.count)
                progress?(written)
            })
    }

    /// Writes a stream to `fd` in order (chunks decoded and checked on all cores meanwhile).
    public func restoreStream(_ index: StreamIndex, to fd: Int32, batchSize: Int = 8) throws(VaultError) {
        let entries = index.entries
        try orderedParallelMap(
            entries.count, window: max(2, batchSize),
            produce: { (k) throws(VaultError) -> [UInt8] in
                let plain = try chunk(entries[k].id)
                guard plain.count == entries[k].length else {
                    throw .badIndex(key: VaultLayout.chunk(entries[k].id), reason: "length \(plain.count), index says \(entries[k].length)")
                }
                return plain
            },
            consume: { (_, plain) throws(VaultError) in try writeAll(fd, plain) })
    }

    /// A stream's bytes in memory (NVRAM, small blobs).
    public func streamBytes(_ ref: VaultStreamRef) throws(VaultError) -> [UInt8] {
        var out: [UInt8] = []
        for e in try streamIndex(ref.index).entries { out += try chunk(e.id) }
        return out
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(VaultError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .sink("write: errno \(errno)") }
            done += n
        }
    }
}

/// Runs `body` for 0..<count on all cores; rethrows the first error (by index).
func forEachParallel(_ count: Int, _ body: (Int) throws(VaultError) -> Void) throws(VaultError) {
    var errors = [VaultError?](repeating: nil, count: count)
    errors.withUnsafeMutableBufferPointer { errs in
        parallelFor(count) { k in
            do throws(VaultError) { try body(k) } catch { errs[k] = error }
        }
    }
    if let e = errors.compactMap({ $0 }).first { throw e }
}

/// An unchecked box: `parallelFor`'s callers write disjoint indices of their own buffers.
private struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

/// `DispatchQueue.concurrentPerform` for a non-Sendable body; `body` must only touch state that
/// is safe from several threads (disjoint buffer slots, locks, Sendable values).
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(value: body)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

/// The shared state of `orderedParallelMap`: results by index, the next index to hand out, the
/// first error, and a window that keeps workers at most `window` results ahead of the consumer.
private final class OrderedResults<T>: @unchecked Sendable {
    let condition = NSCondition()
    var results: [Int: T] = [:]
    var next = 0
    var failure: (Int, VaultError)?
    var consumed = 0
    var stopped = false
    let window: Int
    init(window: Int) { self.window = window }
}

/// Runs `produce(0..<count)` on worker threads (all cores) and `consume` on this thread in index
/// order as results arrive. Throws the first error (a produce error at the lowest index that
/// failed before the consumer stopped, or a consume error); workers stop soon after.
func orderedParallelMap<T>(
    _ count: Int, window: Int, produce: (Int) throws(VaultError) -> T, consume: (Int, T) throws(VaultError) -> Void
) throws(VaultError) {
    guard count > 0 else { return }
    let state = OrderedResults<T>(window: window)
    let workers = min(count, max(1, ProcessInfo.processInfo.activeProcessorCount))
    let group = DispatchGroup()
    try withoutActuallyEscaping(produce) { (produce) throws(VaultError) in
        let box = UncheckedSendable(value: produce)
        for _ in 0..<workers {
            DispatchQueue.global().async(group: group) {
                while true {
                    state.condition.lock()
                    while !state.stopped && state.next - state.consumed >= state.window { state.condition.wait() }
                    guard !state.stopped, state.next < count else {
                        state.condition.unlock()
                        return
                    }
                    let k = state.next
                    state.next += 1
                    state.condition.unlock()
                    let r = Result { () throws(VaultError) in try box.value(k) }
                    state.condition.lock()
                    switch r {
                    case .success(let v): state.results[k] = v
                    case .failure(let e): if state.failure.map({ k < $0.0 }) ?? true { state.failure = (k, e) }
                    }
                    state.condition.broadcast()
                    state.condition.unlock()
                }
            }
        }
        defer {
            state.condition.lock()
            state.stopped = true
            state.condition.broadcast()  // wake workers waiting for room
            state.condition.unlock()
            group.wait()
        }
        for k in 0..<count {
            state.condition.lock()
            while state.results[k] == nil && state.failure.map({ $0.0 > k }) ?? true { state.condition.wait() }
            let value = state.results.removeValue(forKey: k)
            let failure = state.failure
            if value != nil { state.consumed += 1 }
            state.condition.broadcast()
            state.condition.unlock()
            guard let value else { throw failure?.1 ?? .sink("restore pipeline stopped") }
            try consume(k, value)
        }
    }
}
