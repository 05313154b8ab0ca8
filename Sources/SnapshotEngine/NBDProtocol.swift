import Foundation

/// Wire constants of the NBD protocol (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md),
/// the subset ``NBDClient`` speaks: fixed newstyle handshake, `NBD_OPT_GO` (or
/// `NBD_OPT_EXPORT_NAME`), simple replies, read / write / flush / disconnect. All integers are
/// big-endian on the wire.
enum NBDProtocol {
    /// "NBDMAGIC", the first 8 bytes the server sends.
    static let initMagic: UInt64 = 0x4e42_444d_4147_4943
    /// "IHAVEOPT": newstyle negotiation; also prefixes every option the client sends.
    static let optionMagic: UInt64 = 0x4948_4156_454f_5054
    /// Prefix of every option reply.
    static let optionReplyMagic: UInt64 = 0x0003_e889_0455_65a9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698

    /// Handshake flags (server) and client flags.
    static let flagFixedNewstyle: UInt16 = 1 << 0
    static let flagNoZeroes: UInt16 = 1 << 1

    /// Options.
    static let optExportName: UInt32 = 1
    static let optGo: UInt32 = 7

    /// Option reply types; bit 31 marks an error.
    static let repAck: UInt32 = 1
    static let repInfo: UInt32 = 3
    static let repErrorBit: UInt32 = 1 << 31
    static let repErrUnsupported: UInt32 = repErrorBit | 1

    /// Info types (`NBD_OPT_GO`).
    static let infoExport: UInt16 = 0
    static let infoBlockSize: UInt16 = 3

    /// Transmission flags of an export.
    static let transmissionReadOnly: UInt16 = 1 << 1
    static let transmissionSendFlush: UInt16 = 1 << 2

    /// Commands.
    enum Command: UInt16 {
        case read = 0
        case write = 1
        case disconnect = 2
        case flush = 3
    }

    /// qemu-nbd's (and the protocol's recommended) largest payload of one request.
    static let maxRequestBytes = 32 << 20

    /// Builds big-endian messages into one buffer.
    struct Message {
        private(set) var bytes: [UInt8] = []
        init() { bytes.reserveCapacity(32) }
        mutating func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        mutating func put(_ data: [UInt8]) { bytes.append(contentsOf: data) }
    }

    /// Reads big-endian integers from a received buffer.
    struct Reader {
        let bytes: [UInt8]
        private(set) var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var remaining: Int { bytes.count - position }
        mutating func take<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
            let size = MemoryLayout<T>.size
            guard remaining >= size else { return nil }
            var value: T = 0
            for byte in bytes[position..<position + size] { value = value << 8 | T(byte) }
            position += size
            return value
        }
    }

    /// The request header (28 bytes) of a transmission command.
    static func request(_ command: Command, cookie: UInt64, offset: UInt64, length: UInt32) -> [UInt8] {
        var m = Message()
        m.put(requestMagic); m.put(UInt16(0)); m.put(command.rawValue)
        m.put(cookie); m.put(offset); m.put(length)
        return m.bytes
    }

    /// An option the client sends during the handshake.
    static func option(_ option: UInt32, data: [UInt8]) -> [UInt8] {
        var m = Message()
        m.put(optionMagic); m.put(option); m.put(UInt32(data.count)); m.put(data)
        return m.bytes
    }

    /// `NBD_OPT_GO`'s data: the export name and one information request (block sizes).
    static func goData(exportName: String) -> [UInt8] {
        var m = Message()
        let name = Array(exportName.utf8)
        m.put(UInt32(name.count)); m.put(name); m.put(UInt16(1)); m.put(infoBlockSize)
        return m.bytes
    }

    /// An NBD error number as text (the protocol uses Linux errno values).
    static func errorText(_ code: UInt32) -> String {
        switch code {
        case 1: "operation not permitted (EPERM)"
        case 5: "input/output error (EIO)"
        case 12: "out of memory (ENOMEM)"
        case 22: "invalid argument (EINVAL)"
        case 28: "no space left on device (ENOSPC)"
        case 75: "value too large (EOVERFLOW)"
        case 95: "not supported (ENOTSUP)"
        case 108: "server is shutting down (ESHUTDOWN)"
        default: "error \(code)"
        }
    }
}
