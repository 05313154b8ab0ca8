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
