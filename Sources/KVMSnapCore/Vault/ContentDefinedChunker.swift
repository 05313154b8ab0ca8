/// Parameters of the content-defined chunker (FastCDC-style gear hash with normalized chunking).
/// Stored in the vault's config, so a reader knows how a stream was cut (a reader does not need
/// them: stream indexes list every chunk's length).
public struct CDCParameters: Sendable, Hashable, Codable {
    public var minSize: Int
    public var avgSize: Int
    public var maxSize: Int
    /// Seed of the gear table (SplitMix64). Fixed per vault so identical data cuts identically.
    public var seed: UInt64

    public static let `default` = CDCParameters(minSize: 256 << 10, avgSize: 1 << 20, maxSize: 4 << 20, seed: 0x6B76_6D73_6E61_7031)

    public init(minSize: Int, avgSize: Int, maxSize: Int, seed: UInt64) {
        self.minSize = minSize
        self.avgSize = avgSize
        self.maxSize = maxSize
        self.seed = seed
    }

    /// Sizes are positive, ordered, and `avgSize` is a power of two (the masks need one).
    public var isValid: Bool {
        minSize > 0 && minSize <= avgSize && avgSize <= maxSize && avgSize.nonzeroBitCount == 1 && avgSize >= 64
    }
}

/// Streaming content-defined chunker. Feed the stream in buffers of any size; it reports the
/// absolute stream offsets where chunks end. The cut points depend only on the bytes, never on
/// how the stream was split into buffers, so a 500 MB memory image is chunked in bounded memory.
///
/// Algorithm: gear hash `h = (h << 1) &+ gear[byte]`; no cut before `minSize`; between `minSize`
/// and `avgSize` a cut needs the top `log2(avg) + 2` bits of `h` zero, after `avgSize` the top
/// `log2(avg) - 2` bits; a forced cut at `maxSize`. The hash restarts at 0 after each cut and
/// starts accumulating at `minSize` bytes into a chunk.
public struct ContentDefinedChunker: Sendable {
    public let parameters: CDCParameters
    private let gear: [UInt64]
    private let maskSmall: UInt64
    private let maskLarge: UInt64
    private var hash: UInt64 = 0
    private var inChunk = 0
    private var consumed: Int64 = 0

    public init(_ parameters: CDCParameters = .default) {
        precondition(parameters.isValid, "invalid CDC parameters")
        self.parameters = parameters
        self.gear = Self.gearTable(seed: parameters.seed)
        let bits = parameters.avgSize.trailingZeroBitCount
        self.maskSmall = Self.topBits(min(63, bits + 2))
        self.maskLarge = Self.topBits(max(1, bits - 2))
    }

    /// 256 pseudo-random 64-bit values from SplitMix64(seed).
    public static func gearTable(seed: UInt64) -> [UInt64] {
        var state = seed
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private static func topBits(_ n: Int) -> UInt64 { ~UInt64(0) << UInt64(64 - n) }

    /// Total bytes fed so far.
    public var offset: Int64 { consumed }

    /// Feeds the next bytes of the stream; returns the absolute end offsets of the chunks that
    /// ended within them (ascending).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Int64] {
        var cuts: [Int64] = []
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return cuts }
        let count = bytes.count
        let minSize = parameters.minSize, avg = parameters.avgSize, maxSize = parameters.maxSize
        var h = hash, n = inChunk, i = 0
        gear.withUnsafeBufferPointer { g in
            while i < count {
                if n < minSize {
                    let skip = min(minSize - n, count - i)
                    n += skip
                    i += skip
                    continue
                }
                // Scan with the mask that applies until the next threshold (avg or max).
                let limit = n < avg ? avg : maxSize
                let mask = n < avg ? maskSmall : maskLarge
                let stop = min(count, i + (limit - n))
                var cut = false
                while i < stop {
                    h = (h << 1) &+ g[Int(base[i])]
                    i += 1
                    n += 1
                    if h & mask == 0 { cut = true; break }
                }
                if cut || n >= maxSize {
                    cuts.append(consumed + Int64(i))
                    h = 0
                    n = 0
                }
            }
        }
        hash = h
        inChunk = n
        consumed += Int64(count)
        return cuts
    }

    public mutating func feed(_ bytes: [UInt8]) -> [Int64] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Ends the stream: the end offset of the last, partial chunk, or nil when nothing is pending.
    public mutating func finish() -> Int64? {
        defer { hash = 0; inChunk = 0 }
        return inChunk > 0 ? consumed : nil
    }

    /// Cut points of a whole buffer (including the final partial chunk).
    public static func cutPoints(of bytes: [UInt8], parameters: CDCParameters = .default) -> [Int64] {
        var chunker = ContentDefinedChunker(parameters)
        var cuts = chunker.feed(bytes)
        if let last = chunker.finish() { cuts.append(last) }
        return cuts
    }
}
