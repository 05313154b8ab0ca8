import Foundation

/// A UTF-8 buffer with JSON string escaping as JSONEncoder does it (`/` unescaped), flushed to
/// `sink` (stdout for `list --json`) in 1 MiB chunks; without a sink it keeps everything.
struct JSONText {
    var bytes: [UInt8] = []
    let sink: FileHandle?

    init(to sink: FileHandle? = nil) {
        self.sink = sink
        bytes.reserveCapacity(sink == nil ? 4096 : 1 << 21)
    }
    mutating func raw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    mutating func integer(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var i = buffer.count
            repeat { i -= 1; buffer[i] = UInt8(ascii: "0") + UInt8(magnitude % 10); magnitude /= 10 } while magnitude > 0
            bytes.append(contentsOf: buffer[i...])
        }
    }
    /// A date as a JSON string, the way `Output.json` encodes dates.
    mutating func date(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        if Output.appendISOUTC(date, to: &bytes) {
            bytes.append(UInt8(ascii: "\""))
        } else {
            bytes.removeLast()
            string(Output.isoUTC(date))
        }
    }
    mutating func string(_ s: String) {
        var s = s
        bytes.append(UInt8(ascii: "\""))
        s.withUTF8 { buffer in
            if !buffer.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { bytes.append(contentsOf: buffer); return }
            for b in buffer {
                switch b {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0x00..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                default: bytes.append(b)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
    /// Writes what is buffered when it exceeds `threshold` bytes (all of it with 0).
    mutating func flush(threshold: Int = 1 << 20) {
        guard let sink, bytes.count > threshold else { return }
        bytes.withUnsafeBytes { sink.write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0.baseAddress!), count: $0.count, deallocator: .none)) }
        bytes.removeAll(keepingCapacity: true)
    }
}
