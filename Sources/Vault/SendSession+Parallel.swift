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
                    out[k] = Self.store(try produce(k)[...], detectZero: detectZero, codec: codec, backend: backend)
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
