import CTLS
import Foundation

/// A TLS client session over a connected socket (OpenSSL): the peer's certificate is verified
/// against the system's trust store (OpenSSL's default paths; `SSL_CERT_FILE` / `SSL_CERT_DIR`
/// change them) and must name the host (or IP address) that was dialled. TLS 1.2 at least.
/// Owns its `SSL` and `SSL_CTX` and frees them in `deinit`.
final class TLSSession {
    private let ctx: OpaquePointer
    private let ssl: OpaquePointer
    let peer: String

    /// Runs the handshake on `fd` for `host`; throws with OpenSSL's reason (e.g. certificate verify failed).
    init(fd: Int32, host: String, peer: String) throws(NotifyError) {
        self.peer = peer
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw NotifyError(.delivery, "TLS to \(peer): \(Self.lastError())") }
        guard let ssl = SSL_new(ctx) else {
            SSL_CTX_free(ctx)
            throw NotifyError(.delivery, "TLS to \(peer): \(Self.lastError())")
        }
        self.ctx = ctx
        self.ssl = ssl
        _ = ctls_min_tls12(ctx)
        SSL_CTX_set_default_verify_paths(ctx)
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
        let param = SSL_get0_param(ssl)
        var address = in6_addr()
        let isIP = inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
        if isIP {
            X509_VERIFY_PARAM_set1_ip_asc(param, host)
        } else {
            _ = ctls_set_sni(ssl, host)
            SSL_set1_host(ssl, host)
        }
        SSL_set_fd(ssl, fd)
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason =
                verify != X509_V_OK
                ? "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify)))" : Self.lastError()
            throw NotifyError(.delivery, "TLS handshake with \(peer) failed: \(reason)")
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(ctx)
    }

    /// Writes part of `bytes`; returns how many were written.
    func write(_ bytes: UnsafeRawBufferPointer) throws(NotifyError) -> Int {
        ERR_clear_error()
        let count = SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        throw NotifyError(.delivery, "sending to \(peer) over TLS: \(describe(count))")
    }

    /// Reads into `buffer`; 0 at the end of the stream.
    func read(_ buffer: UnsafeMutableRawBufferPointer) throws(NotifyError) -> Int {
        ERR_clear_error()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        if SSL_get_error(ssl, count) == SSL_ERROR_ZERO_RETURN { return 0 }
        throw NotifyError(.delivery, "reading from \(peer) over TLS: \(describe(count))")
    }

    private func describe(_ result: Int32) -> String {
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_SYSCALL { return errno == 0 ? "connection closed" : TCPConnection.describe(errno) }
        return Self.lastError()
    }

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown TLS error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(cString: buffer)
    }
}
