import Dispatch
import KVMSnapCore

extension SendSession {
    struct Outcome: Sendable {
        var id: ChunkID = .zero
        var storedBytes = 0
        var isNew = false
        var isZero = false
        var error: VaultError?
    }

    /// Produces `count` plaintexts and stores them on all cores: hash first, then skip chunks
    /// already present (resume, dedup), else compress (+ encrypt) and put-if-absent.
    /// Returns the ids in order (`.zero` for an all-zero plaintext when `detectZero`).
    func storeParallel(
        count: Int, detectZero: Bool, produce: (Int) throws(VaultError) -> [UInt8]
    ) throws(VaultError) -> [ChunkID] {
        try apply(process(count: count, detectZero: detectZero, produce: produce))
    }

    /// The work of `storeParallel` without touching the session's state (callable off-thread).
    func process(count: Int, detectZero: Bool, produce: (Int) throws(VaultError) -> [UInt8]) -> [Outcome] {
        guard count > 0 else { return [] }
        var outcomes = [Outcome](repeating: Outcome(), count: count)
        let codec = repository.codec, backend = repository.backend
        outcomes.withUnsafeMutableBufferPointer { out in
            parallelFor(count) { k in
                do throws(VaultError) {
                    let plain = try produce(k)
                    if detectZero, plain.withUnsafeBytes({ isAllZero($0) }) {
                        out[k].isZero = true
                        return
                    }
                    let id = codec.id(of: plain)
                    out[k].id = id
                    let key = VaultLayout.chunk(id)
                    if try backend.exists(key) { return }
                    let object = try codec.encode(plain, id: id)
                    if try backend.putIfAbsent(key, object) {
                        out[k].isNew = true
                        out[k].storedBytes = object.count
                    }
                } catch {
                    out[k].error = error
                }
            }
        }
        return outcomes
    }

    /// Records outcomes in the session's references and stats (on the session's thread).
    func apply(_ outcomes: [Outcome]) throws(VaultError) -> [ChunkID] {
        if let e = outcomes.first(where: { $0.error != nil })?.error { throw e }
        for o in outcomes where !o.isZero {
            refs.insert(o.id)
            if o.isNew {
                stats.chunksNew += 1
                stats.bytesStored += Int64(o.storedBytes)
            } else {
                stats.chunksReused += 1
            }
        }
        return outcomes.map(\.id)
    }
}

/// A batch being stored on a background queue while the caller reads and cuts the next one.
final class InflightBatch: @unchecked Sendable {
    let lengths: [Int]
    private let group = DispatchGroup()
    private var outcomes: [SendSession.Outcome] = []

    init(session: SendSession, chunks: [[UInt8]]) {
        lengths = chunks.map(\.count)
        group.enter()
        DispatchQueue.global().async { [self] in
            outcomes = session.process(count: chunks.count, detectZero: false) { k in chunks[k] }
            group.leave()
        }
    }

    /// Waits for the batch; its outcomes (read only after the group's leave).
    func wait() -> [SendSession.Outcome] {
        group.wait()
        return outcomes
    }
}
