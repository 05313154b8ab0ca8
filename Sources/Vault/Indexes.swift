import KVMSnapCore

/// A disk's fixed-size chunk list. Binary layout (little-endian): magic `KVD1`, u64 virtual
/// size, u32 chunk size, u32 slot count, then 32 bytes per slot (a chunk id, or all zero for a
/// slot that reads as zeros). The last slot may be shorter than the chunk size.
public struct DiskIndex: Sendable, Equatable {
    static let magic = Array("KVD1".utf8)
    public var virtualSize: Int64
    public var chunkSize: Int64
    public var slots: [ChunkID]

    public init(virtualSize: Int64, chunkSize: Int64, slots: [ChunkID]) {
        self.virtualSize = virtualSize
        self.chunkSize = chunkSize
        self.slots = slots
    }

    public func slotLength(_ i: Int) -> Int { Int(min(chunkSize, virtualSize - Int64(i) * chunkSize)) }

    /// Bytes in non-zero slots.
    public var allocatedBytes: Int64 {
        slots.indices.reduce(0) { $0 + (slots[$1].isZero ? 0 : Int64(slotLength($1))) }
    }

    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(20 + 32 * slots.count)
        BinaryLE.append(UInt64(virtualSize), to: &out)
        BinaryLE.append(UInt32(chunkSize), to: &out)
        BinaryLE.append(UInt32(slots.count), to: &out)
        for s in slots { out += s.bytes }
        return out
    }

    public static func decode(_ bytes: [UInt8], key: String) throws(VaultError) -> DiskIndex {
        guard bytes.count >= 20, Array(bytes[0..<4]) == magic else { throw .badIndex(key: key, reason: "not a disk index") }
        let size = Int64(bitPattern: BinaryLE.u64(bytes, 4))
        let chunk = Int64(BinaryLE.u32(bytes, 12))
        let count = Int(BinaryLE.u32(bytes, 16))
        guard chunk > 0, size >= 0, Int64(count) == (size + chunk - 1) / chunk, bytes.count == 20 + 32 * count else {
            throw .badIndex(key: key, reason: "sizes do not match (virtual size \(size), chunk \(chunk), \(count) slots)")
        }
        var slots: [ChunkID] = []
        slots.reserveCapacity(count)
        for i in 0..<count {
            let lo: Int = 20 + 32 * i
            slots.append(ChunkID(bytes: Array(bytes[lo..<(lo + 32)])) ?? .zero)
        }
        return DiskIndex(virtualSize: size, chunkSize: chunk, slots: slots)
    }
}

/// A stream's content-defined chunk list. Binary layout (little-endian): magic `KVS1`, u64 total
/// length, u32 entry count, then per entry a 32-byte id and a u32 length.
public struct StreamIndex: Sendable, Equatable {
    static let magic = Array("KVS1".utf8)
    public struct Entry: Sendable, Equatable {
        public var id: ChunkID
        public var length: Int
        public init(id: ChunkID, length: Int) {
            self.id = id
            self.length = length
        }
    }

    public var entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }
    public var totalLength: Int64 { entries.reduce(0) { $0 + Int64($1.length) } }

    public func encoded() -> [UInt8] {
        var out = Self.magic
        BinaryLE.append(UInt64(totalLength), to: &out)
        BinaryLE.append(UInt32(entries.count), to: &out)
        for e in entries {
            out += e.id.bytes
            BinaryLE.append(UInt32(e.length), to: &out)
        }
        return out
    }

    public static func decode(_ bytes: [UInt8], key: String) throws(VaultError) -> StreamIndex {
        guard bytes.count >= 16, Array(bytes[0..<4]) == magic else { throw .badIndex(key: key, reason: "not a stream index") }
        let total = Int64(bitPattern: BinaryLE.u64(bytes, 4))
        let count = Int(BinaryLE.u32(bytes, 12))
        guard bytes.count == 16 + 36 * count else { throw .badIndex(key: key, reason: "\(count) entries do not fit \(bytes.count) bytes") }
        let entries = (0..<count).map { i in
            let o = 16 + 36 * i
            return Entry(id: ChunkID(bytes: Array(bytes[o..<(o + 32)])) ?? .zero, length: Int(BinaryLE.u32(bytes, o + 32)))
        }
        let index = StreamIndex(entries: entries)
        guard index.totalLength == total else { throw .badIndex(key: key, reason: "lengths sum to \(index.totalLength), header says \(total)") }
        return index
    }
}

enum BinaryLE {
    static func append(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func append(_ v: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(b[o + i]) }
        return v
    }

    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(b[o + i]) }
        return v
    }
}
