import Czstd

/// zstd one-shot compression; the only file calling zstd's C functions.
enum Zstd {
    /// `prefix` followed by the frame of `input` compressed at `level` (written in place: no
    /// copy of the frame); nil when the frame would not be smaller than the input (the caller
    /// then stores the bytes raw).
    static func compress(_ input: UnsafeRawBufferPointer, level: Int32, prefix: [UInt8] = []) -> [UInt8]? {
        guard let base = input.baseAddress, input.count > 0 else { return nil }
        let bound = ZSTD_compressBound(input.count)
        var written = 0
        // Not zero-filled first: only the bytes zstd wrote are kept.
        let out = [UInt8](unsafeUninitializedCapacity: prefix.count + bound) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            if !prefix.isEmpty { prefix.withUnsafeBytes { raw.copyMemory(from: $0) } }
            written = ZSTD_compress(raw.baseAddress! + prefix.count, bound, base, input.count, level)
            initialized = ZSTD_isError(written) == 0 ? prefix.count + written : 0
        }
        guard ZSTD_isError(written) == 0, written < input.count else { return nil }
        return out
    }

    /// Whether `input` looks incompressible (random, already compressed, encrypted): four 32 KiB
    /// samples spread over it all shrink by less than 3% at level 1. Costs about 3% of a full
    /// compression of a 4 MiB chunk; inputs under 256 KiB are never judged (compress them).
    static func looksIncompressible(_ input: UnsafeRawBufferPointer) -> Bool {
        let piece = 32 << 10
        guard let base = input.baseAddress, input.count >= 256 << 10 else { return false }
        let bound = ZSTD_compressBound(piece)
        var scratch = [UInt8](repeating: 0, count: bound)
        return scratch.withUnsafeMutableBytes { dst in
            for k in 0..<4 {
                let offset = (input.count - piece) * k / 3
                let n = ZSTD_compress(dst.baseAddress, bound, base + offset, piece, 1)
                if ZSTD_isError(n) != 0 || n < piece - piece / 32 { return false }
            }
            return true
        }
    }

    /// Decompresses a frame whose content size is recorded in its header (`ZSTD_compress` writes it).
    static func decompress(_ input: UnsafeRawBufferPointer, maxSize: Int) throws(VaultError) -> [UInt8] {
        guard let base = input.baseAddress else { throw .compression(reason: "empty frame") }
        let size = ZSTD_getFrameContentSize(base, input.count)
        // ZSTD_CONTENTSIZE_UNKNOWN / _ERROR are the two largest UInt64 values.
        guard size < UInt64.max - 1, size <= UInt64(maxSize) else {
            throw .compression(reason: "frame content size unknown or larger than \(maxSize)")
        }
        var n = 0
        // Not zero-filled first: a frame that decodes to fewer bytes is refused below.
        let out = [UInt8](unsafeUninitializedCapacity: Int(size)) { buffer, initialized in
            n = ZSTD_decompress(buffer.baseAddress, Int(size), base, input.count)
            initialized = ZSTD_isError(n) == 0 ? n : 0
        }
        guard ZSTD_isError(n) == 0 else {
            throw .compression(reason: String(cString: ZSTD_getErrorName(n)))
        }
        guard n == Int(size) else { throw .compression(reason: "frame decoded to \(n) bytes, header says \(size)") }
        return out
    }
}
