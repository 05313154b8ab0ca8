import Czstd

/// zstd one-shot compression; the only file calling zstd's C functions.
enum Zstd {
    /// Compresses `input` at `level`; nil when the output would not be smaller than the input
    /// (the caller then stores the bytes raw).
    static func compress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8]? {
        guard let base = input.baseAddress, input.count > 0 else { return nil }
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            ZSTD_compress(dst.baseAddress, bound, base, input.count, level)
        }
        guard ZSTD_isError(written) == 0, written < input.count else { return nil }
        out.removeLast(bound - written)
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
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, Int(size), base, input.count)
        }
        guard ZSTD_isError(n) == 0 else {
            throw .compression(reason: String(cString: ZSTD_getErrorName(n)))
        }
        guard n == Int(size) else { throw .compression(reason: "frame decoded to \(n) bytes, header says \(size)") }
        return out
    }
}
