import Dispatch
import KVMSnapCore

extension SendSession {
    private struct Outcome {
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
