/// A half-open byte range `[offset, offset + length)` of a disk or stream.
public struct ByteRange: Sendable, Hashable, Codable, CustomStringConvertible {
    public var offset: Int64
    public var length: Int64

    public init(offset: Int64, length: Int64) {
        self.offset = offset
        self.length = max(0, length)
    }

    public var end: Int64 { offset + length }
    public var isEmpty: Bool { length == 0 }
    public var description: String { "[\(offset), \(end))" }
}

/// A normalized set of byte ranges: sorted, non-empty, neither overlapping nor touching.
/// Built from any ranges (e.g. `qemu-img map` extents); every operation keeps it normalized.
public struct ByteRangeSet: Sendable, Hashable, Codable {
    public private(set) var ranges: [ByteRange]

    public init() { ranges = [] }

    /// Normalizes `ranges` (sorts, drops empty ones, merges overlapping and adjacent ones).
    public init<S: Sequence>(_ ranges: S) where S.Element == ByteRange {
        let sorted = ranges.filter { !$0.isEmpty }.sorted { $0.offset < $1.offset }
        var merged: [ByteRange] = []
        merged.reserveCapacity(sorted.count)
        for r in sorted {
            if let last = merged.last, r.offset <= last.end {
                merged[merged.count - 1].length = max(last.end, r.end) - last.offset
            } else {
                merged.append(r)
            }
        }
        self.ranges = merged
    }

    public var isEmpty: Bool { ranges.isEmpty }
    public var totalBytes: Int64 { ranges.reduce(0) { $0 + $1.length } }

    public func union(_ other: ByteRangeSet) -> ByteRangeSet {
        ByteRangeSet(ranges + other.ranges)
    }

    public func intersection(_ other: ByteRangeSet) -> ByteRangeSet {
        var out: [ByteRange] = []
        var i = 0, j = 0
        while i < ranges.count, j < other.ranges.count {
            let a = ranges[i], b = other.ranges[j]
            let lo = max(a.offset, b.offset), hi = min(a.end, b.end)
            if lo < hi { out.append(ByteRange(offset: lo, length: hi - lo)) }
            if a.end < b.end { i += 1 } else { j += 1 }
        }
        return ByteRangeSet(out)
    }

    /// Every range widened to whole `alignment`-sized blocks, clamped to `[0, limit)`.
    public func aligned(to alignment: Int64, limit: Int64) -> ByteRangeSet {
        precondition(alignment > 0)
        return ByteRangeSet(
            ranges.map { r in
                let lo = max(0, r.offset / alignment * alignment)
                let hi = min(limit, (r.end + alignment - 1) / alignment * alignment)
                return ByteRange(offset: lo, length: hi - lo)
            })
    }

    /// Ranges clamped to `[0, limit)`.
    public func clamped(to limit: Int64) -> ByteRangeSet {
        intersection(ByteRangeSet([ByteRange(offset: 0, length: limit)]))
    }

    /// Whether any byte of `range` is in the set.
    public func intersects(_ range: ByteRange) -> Bool {
        guard !range.isEmpty else { return false }
        // First range whose end is beyond range.offset.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].end <= range.offset { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].offset < range.end
    }

    /// Whether every byte of `range` is in the set.
    public func contains(_ range: ByteRange) -> Bool {
        guard !range.isEmpty else { return true }
        return ranges.contains { $0.offset <= range.offset && range.end <= $0.end }
    }
}
