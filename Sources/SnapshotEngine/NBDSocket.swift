import Foundation

/// A connected Unix stream socket with exact-length send and receive (the NBD transport).
/// Owns its descriptor (close-on-exec, so no child process inherits it); `close` is idempotent.
final class NBDSocket {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close() }

    /// Connects to the Unix socket at `path`.
    static func connect(path: String) throws(EngineError) -> NBDSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw EngineError(.invalidInput, "socket path too long (\(bytes.count) bytes): \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EngineError(.io, "socket: \(String(cString: strerror(errno)))") }
        let socket = NBDSocket(fd: fd)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw EngineError(.io, "cannot connect to \(path): \(String(cString: strerror(errno)))") }
        // Bigger buffers let a whole request's payload sit in the kernel (fewer wake-ups).
        var size: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// The engine error a buffer closure rethrew (untyped by the standard library).
    private static func engineError(_ error: any Error) -> EngineError {
        error as? EngineError ?? EngineError(.io, "\(error)")
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    func send(_ bytes: [UInt8]) throws(EngineError) {
        do { try bytes.withUnsafeBytes { try send($0) } } catch { throw Self.engineError(error) }
    }

    /// Sends all of `buffer` (MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE).
    func send(_ buffer: UnsafeRawBufferPointer) throws(EngineError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            guard fd >= 0 else { throw EngineError(.io, "NBD socket is closed") }
            let n = Glibc.send(fd, base + done, buffer.count - done, Int32(MSG_NOSIGNAL))
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw EngineError(.io, "NBD send failed: \(n < 0 ? String(cString: strerror(errno)) : "connection closed")")
        }
    }

    /// Fills all of `buffer`; fails when the peer closes first.
    func receive(_ buffer: UnsafeMutableRawBufferPointer) throws(EngineError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            guard fd >= 0 else { throw EngineError(.io, "NBD socket is closed") }
            let n = recv(fd, base + done, buffer.count - done, Int32(MSG_WAITALL))
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw EngineError(.io, "NBD receive failed: \(n < 0 ? String(cString: strerror(errno)) : "server closed the connection")")
        }
    }

    func receive(count: Int) throws(EngineError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        do { try bytes.withUnsafeMutableBytes { try receive($0) } } catch { throw Self.engineError(error) }
        return bytes
    }
}

/// The fixed newstyle handshake: what the client learns about the export.
enum NBDHandshake {
    struct Export {
        var size: Int64
        var flags: UInt16
        var maxBlock: UInt32?
    }

    static func negotiate(_ socket: NBDSocket, exportName: String) throws(EngineError) -> Export {
        var hello = NBDProtocol.Reader(try socket.receive(count: 18))
        guard hello.take(UInt64.self) == NBDProtocol.initMagic, hello.take(UInt64.self) == NBDProtocol.optionMagic else {
            throw EngineError(.io, "NBD server does not speak the newstyle protocol")
        }
        let serverFlags: UInt16 = hello.take() ?? 0
        guard serverFlags & NBDProtocol.flagFixedNewstyle != 0 else {
            throw EngineError(.io, "NBD server does not offer fixed newstyle negotiation")
        }
        let noZeroes = serverFlags & NBDProtocol.flagNoZeroes
        var clientFlags = NBDProtocol.Message()
        clientFlags.put(UInt32(NBDProtocol.flagFixedNewstyle | noZeroes))
        try socket.send(clientFlags.bytes)

        try socket.send(NBDProtocol.option(NBDProtocol.optGo, data: NBDProtocol.goData(exportName: exportName)))
        var export = Export(size: -1, flags: 0, maxBlock: nil)
        while true {
            var header = NBDProtocol.Reader(try socket.receive(count: 20))
            guard header.take(UInt64.self) == NBDProtocol.optionReplyMagic else {
                throw EngineError(.io, "NBD server sent an option reply with bad magic")
            }
            let _: UInt32? = header.take()
            let type: UInt32 = header.take() ?? 0, length: UInt32 = header.take() ?? 0
            guard length <= 65536 else { throw EngineError(.io, "NBD option reply of \(length) bytes is too long") }
            var data = NBDProtocol.Reader(try socket.receive(count: Int(length)))
            if type == NBDProtocol.repErrUnsupported {
                return try legacyExportName(socket, exportName, noZeroes: noZeroes != 0)
            }
            if type & NBDProtocol.repErrorBit != 0 {
                let text = String(decoding: data.bytes, as: UTF8.self)
                throw EngineError(.io, "NBD server refused export '\(exportName)': \(text.isEmpty ? "reply \(type & ~NBDProtocol.repErrorBit)" : text)")
            }
            if type == NBDProtocol.repAck { break }
            guard type == NBDProtocol.repInfo, let info: UInt16 = data.take() else { continue }
            if info == NBDProtocol.infoExport, let size: UInt64 = data.take(), let flags: UInt16 = data.take() {
                export.size = Int64(clamping: size); export.flags = flags
            } else if info == NBDProtocol.infoBlockSize, let _: UInt32 = data.take(), let _: UInt32 = data.take(), let max: UInt32 = data.take() {
                export.maxBlock = max
            }
        }
        guard export.size >= 0 else { throw EngineError(.io, "NBD server did not say the export's size") }
        return export
    }

    /// The old way in (`NBD_OPT_EXPORT_NAME`) for servers without `NBD_OPT_GO`.
    private static func legacyExportName(_ socket: NBDSocket, _ name: String, noZeroes: Bool) throws(EngineError) -> Export {
        try socket.send(NBDProtocol.option(NBDProtocol.optExportName, data: Array(name.utf8)))
        var reply = NBDProtocol.Reader(try socket.receive(count: 10))
        if !noZeroes { _ = try socket.receive(count: 124) }
        let size: UInt64 = reply.take() ?? 0, flags: UInt16 = reply.take() ?? 0
        return Export(size: Int64(clamping: size), flags: flags, maxBlock: nil)
    }
}
