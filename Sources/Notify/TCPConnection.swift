import Foundation

/// A TCP connection with a deadline on connect, each send and each receive (SO_SNDTIMEO /
/// SO_RCVTIMEO), so an unreachable or silent receiver fails a delivery instead of hanging it;
/// optionally upgraded to TLS (``startTLS(host:)``: https, SMTP STARTTLS).
/// Owns its descriptor (close-on-exec); `close` is idempotent.
final class TCPConnection {
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var tls: TLSSession?
    let peer: String

    var isTLS: Bool { tls != nil }

    /// Runs a TLS handshake on this connection; from then on every send and read is encrypted.
    /// Refused while unread plaintext is buffered (it would be a response injected before TLS).
    func startTLS(host: String) throws(NotifyError) {
        guard buffer.isEmpty else { throw NotifyError(.delivery, "\(peer) sent data before the TLS handshake; refusing it") }
        tls = try TLSSession(fd: fd, host: host, peer: peer)
    }

    private init(fd: Int32, peer: String) { self.fd = fd; self.peer = peer }
    deinit { close() }

    /// Connects to `host:port`, trying each address the name resolves to.
    static func connect(host: String, port: Int, timeout: Double) throws(NotifyError) -> TCPConnection {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw NotifyError(.delivery, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            entry = current.pointee.ai_next
            let fd = socket(current.pointee.ai_family, current.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), current.pointee.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            let connection = TCPConnection(fd: fd, peer: "\(host):\(port)")
            connection.setTimeout(timeout)
            if Glibc.connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 { return connection }
            lastError = errno == EINPROGRESS || errno == EAGAIN ? "timed out after \(Int(timeout))s" : String(cString: strerror(errno))
        }
        throw NotifyError(.delivery, "cannot connect to \(host):\(port): \(lastError)")
    }

    func setTimeout(_ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) throws(NotifyError) {
        var offset = 0
        while offset < bytes.count {
            if let tls {
                let written = bytes[offset...].withUnsafeBytes { raw in Result { () throws(NotifyError) in try tls.write(raw) } }
                offset += try written.get()
                continue
            }
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw NotifyError(.delivery, "sending to \(peer): \(Self.describe(errno))")
            }
            offset += sent
        }
    }

    func send(_ text: String) throws(NotifyError) { try send(Array(text.utf8)) }

    /// One line without its CRLF (or LF). Throws when the peer closes first.
    func readLine(limit: Int = 65_536) throws(NotifyError) -> String {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < limit else { throw NotifyError(.delivery, "\(peer) sent a line longer than \(limit) bytes") }
            guard try fill() else { throw NotifyError(.delivery, "\(peer) closed the connection") }
        }
    }

    /// Reads more into the buffer; false at end of stream.
    private func fill() throws(NotifyError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        if let tls {
            let read = chunk.withUnsafeMutableBytes { raw in Result { () throws(NotifyError) in try tls.read(raw) } }
            let count = try read.get()
            buffer.append(contentsOf: chunk[..<count])
            return count > 0
        }
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw NotifyError(.delivery, "reading from \(peer): \(Self.describe(errno))")
            }
            if count == 0 { return false }
            buffer.append(contentsOf: chunk[..<count])
            return true
        }
    }

    func close() {
        tls = nil
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    static func describe(_ code: Int32) -> String {
        code == EAGAIN || code == EWOULDBLOCK ? "timed out" : String(cString: strerror(code))
    }
}
