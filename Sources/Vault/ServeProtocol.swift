import Foundation
import KVMSnapCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The wire protocol of `kvmsnap vault serve --stdio` (the far side of an `ssh://` vault).
///
/// Every message is a frame: a big-endian `u32` body length, then the body. A request body is
/// `u8 op ‖ u16 key length ‖ key (UTF-8) ‖ payload`; a response body is `u8 status ‖ payload`.
/// The first request is `hello` with payload `u32 version ‖ "kvmsnap-vault-serve"`; the server
/// answers `ok` with `u32 version ‖ u8 appendOnly` or `failed` and hangs up. One request is
/// answered before the next is read (a client opens several connections for parallel transfers).
///
/// Responses: `putIfAbsent` and `exists` answer `u8` (1 = created / exists); `get` the object's
/// bytes; `list` zero or more `more` frames then one `ok` frame, each holding entries
/// `u16 key length ‖ key ‖ i64 size ‖ i64 mtime (ns since 1970)`; the others an empty `ok`.
/// A `failed` payload is `u8 failure ‖ i32 errno ‖ u16 length ‖ operation ‖ message (rest)`.
public enum ServeProtocol {
    public static let version: UInt32 = 1
    public static let greeting = "kvmsnap-vault-serve"
    /// The largest frame either side accepts: a 4 MiB chunk or a large manifest fits with room.
    public static let maxFrame = 64 << 20
    /// Entries per `list` frame.
    static let listBatch = 4096

    enum Op: UInt8 {
        case hello = 0
        case putIfAbsent = 1
        case writeAtomic = 2
        case get = 3
        case exists = 4
        case list = 5
        case delete = 6
        case touch = 7
        case flush = 8
    }

    enum Status: UInt8 {
        case ok = 0
        case failed = 1
        case more = 2
    }

    enum Failure: UInt8 {
        case missing = 1
        case backend = 2
        /// The server's append-only mode refused a delete or an overwrite.
        case refused = 3
        /// A malformed request, an unsafe key, a version mismatch.
        case badRequest = 4
    }

    /// A key the server accepts: `/`-separated safe components (no `..`, `.`, empty or
    /// dot-leading component, no NUL, no leading `/`), at most 1024 bytes. A `list` prefix may
    /// also be empty or end in `/`.
    public static func isSafeKey(_ key: String, prefix: Bool = false) -> Bool {
        var key = Substring(key)
        if prefix {
            if key.isEmpty { return true }
            if key.hasSuffix("/") { key = key.dropLast() }
        }
        guard !key.isEmpty, key.utf8.count <= 1024 else { return false }
        return key.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { VaultLayout.isSafeComponent(String($0)) }
    }
}

/// Builds a frame body.
struct FrameWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xff)] }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(s)) & 0xff)) } }
    mutating func i64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((u >> UInt64(s)) & 0xff)) }
    }
    /// A string with a u16 length (truncated to 65535 bytes).
    mutating func string16(_ s: String) {
        let utf8 = Array(s.utf8.prefix(65535))
        u16(UInt16(utf8.count))
        bytes += utf8
    }
    mutating func raw(_ b: [UInt8]) { bytes += b }
}

/// Reads a frame body; every read is bounds-checked (a short body is `nil`, never a crash).
struct FrameReader {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - at }

    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { at += 1 }
        return bytes[at]
    }
    mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { at += 2 }
        return UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }
    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { at += 4 }
        return bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
    mutating func i32() -> Int32? { u32().map { Int32(bitPattern: $0) } }
    mutating func i64() -> Int64? {
        guard remaining >= 8 else { return nil }
        defer { at += 8 }
        return Int64(bitPattern: bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) })
    }
    /// A u16-length string that must be valid UTF-8.
    mutating func string16() -> String? {
        guard let n = u16(), remaining >= Int(n) else { return nil }
        defer { at += Int(n) }
        return String(validating: bytes[at..<at + Int(n)], as: UTF8.self)
    }
    mutating func rest() -> [UInt8] {
        defer { at = bytes.count }
        return Array(bytes[at...])
    }
}

/// Why a frame could not be moved over a channel.
enum ChannelFailure: Error, Equatable {
    /// The peer closed the stream (at a frame boundary when `clean`).
    case closed(clean: Bool)
    case io(errno: Int32)
    case tooLarge(Int)

    var text: String {
        switch self {
        case .closed(let clean): clean ? "the connection was closed" : "the connection was closed in the middle of a message"
        case .io(let e): "I/O error: \(String(cString: strerror(e)))"
        case .tooLarge(let n): "a message of \(n) bytes is over the limit of \(ServeProtocol.maxFrame)"
        }
    }
}

/// Frames over a pair of file descriptors (a pipe, a socket, ssh's stdin/stdout).
struct FrameChannel {
    let input: Int32
    let output: Int32

    func send(_ body: [UInt8]) throws(ChannelFailure) {
        guard body.count <= ServeProtocol.maxFrame else { throw .tooLarge(body.count) }
        var frame = FrameWriter()
        frame.u32(UInt32(body.count))
        frame.raw(body)
        try writeAll(frame.bytes)
    }

    func receive() throws(ChannelFailure) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 4)
        try readExactly(&header, eofIsClean: true)
        var reader = FrameReader(header)
        let length = Int(reader.u32() ?? 0)
        guard length <= ServeProtocol.maxFrame else { throw .tooLarge(length) }
        var body = [UInt8](repeating: 0, count: length)
        try readExactly(&body, eofIsClean: false)
        return body
    }

    private func writeAll(_ bytes: [UInt8]) throws(ChannelFailure) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(output, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw errno == EPIPE ? .closed(clean: false) : .io(errno: errno)
            }
            done += n
        }
    }

    private func readExactly(_ buffer: inout [UInt8], eofIsClean: Bool) throws(ChannelFailure) {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw errno == ECONNRESET ? .closed(clean: false) : .io(errno: errno)
            }
            if n == 0 { throw .closed(clean: eofIsClean && done == 0) }
            done += n
        }
    }
}
