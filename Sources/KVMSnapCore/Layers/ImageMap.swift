import Foundation

/// A half-open byte range `[start, start + length)` of a disk's virtual address space.
public struct ImageRange: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var start: Int64
    public var length: Int64
    public init(start: Int64, length: Int64) { self.start = start; self.length = length }
    public var end: Int64 { start + length }
    public var description: String { "\(start)+\(length)" }

    /// Sorts, drops empty ranges and merges overlapping or touching ones.
    public static func normalized<S: Sequence>(_ ranges: S) -> [ImageRange] where S.Element == ImageRange {
        var result: [ImageRange] = []
        for range in ranges.filter({ $0.length > 0 }).sorted(by: { $0.start < $1.start }) {
            if let last = result.last, range.start <= last.end {
                result[result.count - 1].length = max(last.end, range.end) - last.start
            } else {
                result.append(range)
            }
        }
        return result
    }

    /// The union of several range lists, normalized.
    public static func union(_ lists: [[ImageRange]]) -> [ImageRange] { normalized(lists.joined()) }

    /// Total bytes of normalized ranges.
    public static func totalBytes(_ ranges: [ImageRange]) -> Int64 { ranges.reduce(0) { $0 + $1.length } }
}

/// What `qemu-img map --output=json` says about an image and its backing chain: one extent per
/// run of clusters with the same state. Parsed here (pure); the engine runs qemu-img.
///
/// `depth` is how far down the chain the data of an extent lives: 0 = the mapped image itself,
/// 1 = its backing file, ... An extent nothing in the chain allocates has `present == false`
/// (qemu-img reports it at the bottom's depth).
public struct ImageMap: Sendable, Equatable {
    public struct Extent: Sendable, Equatable {
        public var range: ImageRange
        public var depth: Int
        /// Allocated somewhere in the chain (data or explicit zeroes). qemu-img 6.2+ says so;
        /// older versions omit it and it is read as `data || zero at depth 0`.
        public var present: Bool
        public var zero: Bool
        public var data: Bool
        public init(range: ImageRange, depth: Int, present: Bool, zero: Bool, data: Bool) {
            self.range = range; self.depth = depth; self.present = present; self.zero = zero; self.data = data
        }
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public var extents: [Extent]
    public init(extents: [Extent]) { self.extents = extents }

    /// Parses qemu-img's JSON array of `{start, length, depth, present?, zero, data, offset?}`.
    public init(json: Data) throws(ParseError) {
        guard let array = try? JSONSerialization.jsonObject(with: json) as? [[String: Any]] else {
            throw ParseError(description: "qemu-img map output is not a JSON array of objects")
        }
        var extents: [Extent] = []
        extents.reserveCapacity(array.count)
        for (index, object) in array.enumerated() {
            guard let start = (object["start"] as? NSNumber)?.int64Value, let length = (object["length"] as? NSNumber)?.int64Value,
                start >= 0, length >= 0,
                let depth = (object["depth"] as? NSNumber)?.intValue,
                let zero = (object["zero"] as? NSNumber)?.boolValue, let data = (object["data"] as? NSNumber)?.boolValue
            else { throw ParseError(description: "qemu-img map extent \(index) lacks start, length, depth, zero or data") }
            let present = (object["present"] as? NSNumber)?.boolValue ?? (data || (zero && depth == 0))
            extents.append(Extent(range: ImageRange(start: start, length: length), depth: depth, present: present, zero: zero, data: data))
        }
        self.extents = extents
    }

    /// What the mapped image itself holds (depth 0, data or explicit zeroes): for a layer of a
    /// chain, exactly the clusters written (or zeroed, or discarded) while it was the active layer.
    public var ownRanges: [ImageRange] {
        ImageRange.normalized(extents.lazy.filter { $0.depth == 0 && $0.present }.map(\.range))
    }

    /// Where the chain holds data (at any depth, not reading as zero): what a full read of the
    /// image must read; everything else reads as zeroes.
    public var dataRanges: [ImageRange] {
        ImageRange.normalized(extents.lazy.filter { $0.present && $0.data && !$0.zero }.map(\.range))
    }

    /// The end of the last extent: the image's virtual size as mapped.
    public var mappedSize: Int64 { extents.map(\.range.end).max() ?? 0 }
}
