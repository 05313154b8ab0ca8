import Foundation
import KVMSnapCore
import PropertyBased
import TestSupport
import Testing

/// The vault's pure chunk arithmetic: content-defined cut points, the fixed-slot disk plan and
/// byte-range sets.
@Suite("vault chunking")
struct VaultChunkingTests {
    static let small = CDCParameters(minSize: 1 << 10, avgSize: 4 << 10, maxSize: 16 << 10, seed: 7)

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            let v = rng.next()
            for k in 0..<min(8, count - i) { out[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            i += 8
        }
        return out
    }

    static func chunks(_ data: [UInt8], _ p: CDCParameters) -> [[UInt8]] {
        var start = 0
        return ContentDefinedChunker.cutPoints(of: data, parameters: p).map { cut in
            defer { start = Int(cut) }
            return Array(data[start..<Int(cut)])
        }
    }

    /// Cut points depend on the bytes only, never on how the stream is split into buffers.
    @Test func cutPointsIgnoreBufferSplits() async {
        await propertyCheck(count: 60, input: Gen.uint64(), Gen.int(in: 1...70_000).array(of: 1...12)) { seed, splits in
            let data = Self.bytes(200_000, seed: seed)
            let whole = ContentDefinedChunker.cutPoints(of: data, parameters: Self.small)
            var chunker = ContentDefinedChunker(Self.small)
            var cuts: [Int64] = []
            var offset = 0, k = 0
            while offset < data.count {
                let n = min(splits[k % splits.count], data.count - offset)
                cuts += chunker.feed(Array(data[offset..<(offset + n)]))
                offset += n
                k += 1
            }
            if let last = chunker.finish() { cuts.append(last) }
            #expect(cuts == whole)
        }
    }

    /// Chunks respect min/max sizes, and together they are the stream.
    @Test func chunksTileTheStreamWithinBounds() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 0...150_000)) { seed, count in
            let data = Self.bytes(count, seed: seed)
            let parts = Self.chunks(data, Self.small)
            #expect(parts.flatMap { $0 } == data)
            for (i, c) in parts.enumerated() {
                #expect(c.count <= Self.small.maxSize)
                if i < parts.count - 1 { #expect(c.count >= Self.small.minSize) }
            }
        }
    }

    /// Inserting bytes early changes only the chunks near the insertion: the tail is cut the same.
    @Test func insertionChangesOnlyNearbyChunks() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 0...20_000), Gen.int(in: 1...3_000)) { seed, at, length in
            let data = Self.bytes(300_000, seed: seed)
            var edited = data
            edited.insert(contentsOf: Self.bytes(length, seed: seed &+ 1), at: at)
            let before = Set(Self.chunks(data, Self.small))
            let after = Self.chunks(edited, Self.small)
            let changed = after.filter { !before.contains($0) }
            // At most the chunks covering [at, at + length + maxSize) differ.
            #expect(changed.count <= 2 + (length + Self.small.maxSize) / Self.small.minSize)
            #expect(changed.reduce(0) { $0 + $1.count } <= length + 3 * Self.small.maxSize)
        }
    }

    /// Default parameters give chunks around 1 MiB on random data.
    @Test func defaultParametersAverageAboutOneMiB() {
        let data = Self.bytes(48 << 20, seed: 42)
        let cuts = ContentDefinedChunker.cutPoints(of: data)
        let avg = data.count / cuts.count
        #expect(avg > 600 << 10 && avg < 2 << 20, "average chunk \(avg) bytes")
    }

    // MARK: disk chunk plan

    static let mib: Int64 = 1 << 20
    static let rangeGen = zip(Gen.int64(in: 0...(40 << 20)), Gen.int64(in: 1...(6 << 20)))
        .map { ByteRange(offset: $0, length: $1) }.array(of: 0...8)

    /// Every changed byte is in a slot that is read, or that is a hole because nothing there is
    /// allocated; unchanged slots of a same-size previous disk are reused.
    @Test func planCoversEveryChangedByte() async {
        await propertyCheck(count: 200, input: Self.rangeGen, Self.rangeGen, Gen.int64(in: 1...(40 << 20)), Gen.bool) { ch, al, size, hasPrev in
            let changed = ByteRangeSet(ch).clamped(to: size), allocated = ByteRangeSet(al).clamped(to: size)
            let plan = DiskChunkPlan(
                virtualSize: size, chunkSize: 4 * Self.mib, changed: changed, allocated: allocated,
                previousVirtualSize: hasPrev ? size : nil)
            #expect(plan.slotCount == Int((size + 4 * Self.mib - 1) / (4 * Self.mib)))
            for i in 0..<plan.slotCount {
                let r = plan.range(ofSlot: i)
                switch plan.slots[i] {
                case .reuse: #expect(hasPrev && !changed.intersects(r))
                case .zero: #expect(!allocated.intersects(r))
                case .read: #expect(allocated.intersects(r))
                }
            }
            for r in changed.ranges {
                for off in stride(from: r.offset, to: r.end, by: Int(Self.mib)) {
                    let slot = Int(off / (4 * Self.mib))
                    #expect(plan.slots[slot] != .reuse)
                }
            }
            #expect(plan.readRanges.totalBytes <= allocated.aligned(to: 4 * Self.mib, limit: size).totalBytes)
        }
    }

    /// A grown disk reads its new slots even when unchanged.
    @Test func grownDiskReadsNewSlots() {
        let all = ByteRangeSet([ByteRange(offset: 0, length: 20 * Self.mib)])
        let plan = DiskChunkPlan(
            virtualSize: 20 * Self.mib, chunkSize: 4 * Self.mib, changed: ByteRangeSet(), allocated: all, previousVirtualSize: 10 * Self.mib)
        #expect(plan.slots == [.reuse, .reuse, .read, .read, .read])
        #expect(plan.bytesToRead == 12 * Self.mib)
    }

    @Test func rangeSetOperations() {
        let a = ByteRangeSet([ByteRange(offset: 10, length: 10), ByteRange(offset: 0, length: 5), ByteRange(offset: 5, length: 2)])
        #expect(a.ranges == [ByteRange(offset: 0, length: 7), ByteRange(offset: 10, length: 10)])
        let b = ByteRangeSet([ByteRange(offset: 6, length: 6)])
        #expect(a.intersection(b).ranges == [ByteRange(offset: 6, length: 1), ByteRange(offset: 10, length: 2)])
        #expect(a.union(b).ranges == [ByteRange(offset: 0, length: 20)])
        #expect(b.aligned(to: 4, limit: 100).ranges == [ByteRange(offset: 4, length: 8)])
        #expect(b.aligned(to: 8, limit: 14).ranges == [ByteRange(offset: 0, length: 14)])
        #expect(a.intersects(ByteRange(offset: 7, length: 3)) == false)
        #expect(a.intersects(ByteRange(offset: 19, length: 3)))
    }
}
