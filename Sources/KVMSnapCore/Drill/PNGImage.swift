/// Why a PPM image could not be read.
public struct PortablePixmapError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An 8-bit RGB image, read from the binary PPM (`P6`) that QEMU's screenshots are, and written
/// as PNG. The PNG's data is zlib with *stored* (uncompressed) deflate blocks: no compression
/// library needed, and every PNG reader accepts it; a 720×400 console is about 0.9 MB.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `width * height * 3` bytes, rows top to bottom.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// The eight bytes every PNG file starts with.
    public static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads a binary PPM (`P6`, maxval ≤ 255; `#` comments in the header are skipped).
    public init(ppm bytes: [UInt8]) throws(PortablePixmapError) {
        var index = 0
        func token() -> String? {
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count && bytes[index] != 0x0A { index += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                    index += 1
                } else {
                    break
                }
            }
            let start = index
            while index < bytes.count && ![0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
            return start < index ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }
        guard token() == "P6" else { throw PortablePixmapError("not a binary PPM (P6) image") }
        guard let width = token().flatMap({ Int($0) }), let height = token().flatMap({ Int($0) }), let maxValue = token().flatMap({ Int($0) }),
            width > 0, height > 0, width <= 16384, height <= 16384, maxValue > 0, maxValue < 256
        else { throw PortablePixmapError("PPM header has no valid size or maximum value") }
        index += 1  // the single whitespace byte after maxval
        let count = width * height * 3
        guard bytes.count - index >= count else { throw PortablePixmapError("PPM data is shorter than \(width)x\(height)") }
        self.init(width: width, height: height, pixels: Array(bytes[index..<index + count]))
    }

    /// The image as a PNG file (colour type 2, 8 bits per channel, no interlace).
    public var png: [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (width * 3 + 1))
        let stride = width * 3
        for row in 0..<height {
            raw.append(0)  // filter type None
            raw.append(contentsOf: pixels[row * stride..<(row + 1) * stride])
        }
        var header: [UInt8] = []
        header += Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]
        var file = Self.pngSignature
        file += Self.chunk("IHDR", header)
        file += Self.chunk("IDAT", Self.zlibStored(raw))
        file += Self.chunk("IEND", [])
        return file
    }

    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let final: UInt8 = offset + length == data.count ? 1 : 0
            out.append(final)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += data[offset..<offset + length]
            offset += length
        } while offset < data.count
        return out + bigEndian(adler32(data))
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return (b << 16) | a
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
