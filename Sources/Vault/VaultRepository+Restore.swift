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
    /// its id first (a damaged chunk stops the restore with `.corruptChunk` naming it).
    /// `progress` gets the bytes written so far.
    public func restoreDisk(
        _ index: DiskIndex, into sink: any BlockSink, batchSize: Int = 8, progress: ((Int64) -> Void)? = nil
    ) throws(VaultError) {
        let present = index.slots.indices.filter { !index.slots[$0].isZero }
        let sinkLock = Mutex(())
        var written: Int64 = 0
        var start = 0
        while start < present.count {
            let batch = Array(present[start..<min(present.count, start + max(1, batchSize))])
            try forEachParallel(batch.count) { (k) throws(VaultError) in
                let slot = batch[k]
                let plain = try chunk(index.slots[slot])
                guard plain.count == index.slotLength(slot) else {
                    throw .badIndex(
                        key: VaultLayout.chunk(index.slots[slot]),
                        reason: "slot \(slot) needs \(index.slotLength(slot)) bytes, chunk has \(plain.count)")
                }
                try sinkLock.withLock { (_) throws(VaultError) in
                    try sink.write(offset: Int64(slot) * index.chunkSize, bytes: plain)
                }
            }
            written += batch.reduce(0) { $0 + Int64(index.slotLength($1)) }
            progress?(written)
            start += batch.count
        }
    }

    /// Writes a stream to `fd` in order (chunks decoded and checked in parallel batches).
    public func restoreStream(_ index: StreamIndex, to fd: Int32, batchSize: Int = 8) throws(VaultError) {
        var start = 0
        while start < index.entries.count {
            let batch = Array(index.entries[start..<min(index.entries.count, start + max(1, batchSize))])
            var plains = [[UInt8]](repeating: [], count: batch.count)
            try plains.withUnsafeMutableBufferPointer { (out) throws(VaultError) in
                let out = out
                try forEachParallel(batch.count) { (k) throws(VaultError) in
                    let plain = try chunk(batch[k].id)
                    guard plain.count == batch[k].length else {
                        throw .badIndex(key: VaultLayout.chunk(batch[k].id), reason: "length \(plain.count), index says \(batch[k].length)")
                    }
                    out[k] = plain
                }
            }
            for p in plains { try writeAll(fd, p) }
            start += batch.count
        }
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
