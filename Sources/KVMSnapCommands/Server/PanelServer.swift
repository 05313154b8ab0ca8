import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import SnapshotEngine

/// The request context of the panel: Hummingbird's core storage plus the client's address
/// (the login rate limit counts per address).
struct PanelContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies above this are refused with 413 (every JSON body the API takes is small).
    var maxUploadSize: Int { PanelServer.maxBodyBytes }

    var clientKey: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// `kvmsnap serve`: the web panel and its JSON API over the same engine and JSON models as the CLI.
struct PanelServer {
    static let maxBodyBytes = 64 * 1024

    let host: String
    let port: Int
    let tls: TLSConfiguration?
    let backend: PanelBackend
    let sessions: PanelSessions

    /// Starts listening and serves until the process is stopped. `ready` gets the bound port.
    func run(ready: @escaping @Sendable (Int) -> Void) async throws {
        let responder = PanelResponder(backend: backend, sessions: sessions, secureCookies: tls != nil)
        let server: HTTPServerBuilder = try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1()
        var logger = Logger(label: "kvmsnap.panel")
        logger.logLevel = .warning
        let app = Application(
            responder: responder, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.runService()  // SIGTERM and SIGINT end it gracefully
    }

    /// The TLS configuration of a PEM certificate chain and key, checked the way the server will
    /// use it (a missing or unreadable file, a file without PEM, or a key that is not the
    /// certificate's are refused here, before anything listens or is created).
    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        func refuse(_ what: String) -> CommandFailure { CommandFailure("TLS: \(what) (nothing was started)", exitCode: 64) }
        for file in [certificate, key] where !FileManager.default.isReadableFile(atPath: file) {
            throw refuse("cannot read \(file): \(FileManager.default.fileExists(atPath: file) ? "permission denied" : "no such file")")
        }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
            throw refuse("\(certificate) holds no PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw refuse("\(certificate) holds no PEM certificate") }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw refuse("\(key) holds no unencrypted PEM private key (\(error))")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        // BoringSSL refuses a key whose public half is not the certificate's when the context is made.
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw refuse("the private key \(key) does not match the certificate \(certificate) (\(error))")
        }
        return configuration
    }
}

/// An answer other than success: a status and a message (JSON for the API, text for pages).
struct PanelError: Error {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// An engine error as its HTTP status: bad input 400, missing 404, conflict and busy 409.
    init(_ error: EngineError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .invalidInput: .badRequest
            case .notFound: .notFound
            case .conflict, .busy, .unsupported: .conflict
            default: .internalServerError
            }
        self.init(status, error.message)
    }

    static func from(_ error: any Error) -> PanelError {
        if let error = error as? PanelError { return error }
        if let error = error as? EngineError { return PanelError(error) }
        if let error = error as? HTTPError { return PanelError(error.status, error.body ?? "\(error.status.reasonPhrase)") }
        if error is NIOTooManyBytesError {
            return PanelError(.contentTooLarge, "the request body is larger than \(PanelServer.maxBodyBytes / 1024) KiB (nothing was changed)")
        }
        if let failure = CommandFailure.from(error) {
            return PanelError(failure.exitCode == 64 ? .badRequest : (failure.exitCode == 2 ? .notFound : .internalServerError), failure.message)
        }
        return PanelError(.internalServerError, "\(error)")
    }
}

/// Builds responses with the panel's security headers.
enum PanelResponse {
    static func headers(contentType: String) -> HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        fields[.cacheControl] = "no-store"
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
            + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        return fields
    }

    static func data(_ data: Data, status: HTTPResponse.Status = .ok, contentType: String) -> Response {
        Response(status: status, headers: headers(contentType: contentType), body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A model through the CLI's one encoder (``Output/encode(_:)``), as `--json` prints it.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        jsonData(try Output.encode(value), status: status)
    }

    /// What ``Output/encode(_:)`` made, with the newline `--json` ends with.
    static func jsonData(_ encoded: Data, status: HTTPResponse.Status = .ok) -> Response {
        data(encoded + Data("\n".utf8), status: status, contentType: "application/json")
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String) -> Response {
        data(Data(text.utf8), status: status, contentType: contentType)
    }

    static func error(_ error: PanelError, api: Bool) -> Response {
        if api { return (try? json(["error": error.message], status: error.status)) ?? Response(status: error.status) }
        return text(PanelPages.errorPage(error), status: error.status, contentType: "text/html; charset=utf-8")
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var fields = headers(contentType: "text/plain; charset=utf-8")
        fields[.location] = location
        if let cookie { fields[.setCookie] = cookie }
        return Response(status: .seeOther, headers: fields)
    }
}
