/// How a send treats each fixed-size slot of a disk: which slots to read and hash, which to take
/// from the previous vault snapshot's index, and which are holes.
///
/// Rules (per slot `[i * chunkSize, min((i + 1) * chunkSize, virtualSize))`):
/// - no previous index, or the slot lies beyond the previous disk's last whole slot (a grown
///   disk): `.read` when any byte of the slot is allocated, else `.zero`;
/// - with a previous index: a slot no changed byte touches is `.reuse`; a touched slot is
///   `.read` when any byte of it is allocated, else `.zero` (the change was a discard).
public struct DiskChunkPlan: Sendable, Equatable {
    public enum Slot: Sendable, Equatable { case zero, reuse, read }

    /// 1 MiB: fine enough that an incremental reads little more than the guest wrote (unaligned
    /// writes cost at most one partial slot at each end), coarse enough for 1024 objects per GiB.
    public static let defaultChunkSize: Int64 = 1 << 20

    public let virtualSize: Int64
    public let chunkSize: Int64
    public let slots: [Slot]

    /// - Parameters:
    ///   - changed: bytes written since the previous vault snapshot (ignored without one).
    ///   - allocated: bytes that may be non-zero now (everything else reads as zeros).
    ///   - previousVirtualSize: the previous index's virtual size, nil when there is none.
    public init(
        virtualSize: Int64, chunkSize: Int64 = DiskChunkPlan.defaultChunkSize,
        changed: ByteRangeSet, allocated: ByteRangeSet, previousVirtualSize: Int64?
    ) {
        precondition(chunkSize > 0 && virtualSize >= 0)
        self.virtualSize = virtualSize
        self.chunkSize = chunkSize
        let count = Int((virtualSize + chunkSize - 1) / chunkSize)
        // Slots wholly inside the previous disk with the same boundaries can be reused.
        let reusableSlots: Int
        if let prev = previousVirtualSize {
            reusableSlots = prev == virtualSize ? count : Int(min(prev, virtualSize) / chunkSize)
        } else {
            reusableSlots = 0
        }
        var slots: [Slot] = []
        slots.reserveCapacity(count)
        for i in 0..<count {
            let range = Self.range(ofSlot: i, chunkSize: chunkSize, virtualSize: virtualSize)
            if i < reusableSlots && !changed.intersects(range) {
                slots.append(.reuse)
            } else {
                slots.append(allocated.intersects(range) ? .read : .zero)
            }
        }
        self.slots = slots
    }

    public var slotCount: Int { slots.count }

    public func range(ofSlot index: Int) -> ByteRange {
        Self.range(ofSlot: index, chunkSize: chunkSize, virtualSize: virtualSize)
    }

    static func range(ofSlot index: Int, chunkSize: Int64, virtualSize: Int64) -> ByteRange {
        let lo = Int64(index) * chunkSize
        return ByteRange(offset: lo, length: min(chunkSize, virtualSize - lo))
    }

    /// The byte ranges the send reads (whole `.read` slots, merged).
    public var readRanges: ByteRangeSet {
        ByteRangeSet(slots.indices.filter { slots[$0] == .read }.map { range(ofSlot: $0) })
    }

    public var bytesToRead: Int64 { readRanges.totalBytes }
    public var isIncremental: Bool { slots.contains(.reuse) }
}
