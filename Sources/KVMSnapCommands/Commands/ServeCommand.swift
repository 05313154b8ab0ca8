import ArgumentParser
import Foundation
import KVMSnapCore
import NIOCore

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the web panel and its JSON API (/api/v1) over the same engine as the CLI.",
        discussion: """
            Listens on 127.0.0.1:8470 by default. Another address needs --tls-cert and --tls-key, or \
            --insecure-http (a warning is printed: the token and cookies then cross the network in \
            clear). The panel's token is created at the first start in STORE/panel-token (mode 0600) \
            and printed once; --show-token prints it again. Log in with it in the browser, or send \
            it as 'Authorization: Bearer TOKEN' to the API.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Address and port to listen on.", valueName: "HOST:PORT")) var listen = "127.0.0.1:8470"
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain for HTTPS.", valueName: "FILE")) var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key for HTTPS.", valueName: "FILE")) var tlsKey: String?
    @Flag(name: .customLong("insecure-http"), help: "Allow plain HTTP on an address other than loopback.") var insecureHTTP = false
    @Flag(name: .customLong("show-token"), help: "Print the panel's token (creating it if needed) and exit.") var showToken = false

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    /// `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback). HOST is an IPv4 literal or a DNS name;
    /// an IPv6 literal goes in brackets. Anything else is refused (exit 64) as not an address.
    static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        let notAddress = CommandFailure(
            "--listen: '\(Bounds.clip(text, 80))' is not an address: give HOST:PORT, [IPv6]:PORT or :PORT, e.g. 127.0.0.1:8470; nothing was started",
            exitCode: 64)
        var host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].dropFirst().first == ":" else { throw notAddress }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[close...].dropFirst(2)
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, String(host), &v6) == 1 else { throw notAddress }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            let nameCharacters = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
            guard nameCharacters, !host.hasPrefix("-"), !host.hasPrefix("."), host.count <= 253 else { throw notAddress }
        } else {
            throw notAddress
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard let number = Int(port), (0...65535).contains(number) else {
            throw CommandFailure("--listen: '\(Bounds.clip(String(port), 20))' is not a port (0-65535); nothing was started", exitCode: 64)
        }
        return (String(host), number)
    }

    /// True for `localhost` and for IP literals of the loopback networks (127.0.0.0/8, ::1).
    /// Any other name is not loopback, whatever it resolves to (`127.0.0.1.example.com` is a DNS name).
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } == Array(repeating: 0, count: 15) + [1] }
        return false
    }

    /// Every error as kvmsnap's one line: serve's usage line belongs to usage errors only (those
    /// ArgumentParser finds before `run`).
    func run() throws {
        do { try serve() } catch { throw CommandFailure.from(error) ?? CommandFailure(Self.describe(error)) }
    }

    func serve() throws {
        let (host, port) = try Self.parseListen(listen)
        let tokenFile = PanelTokenFile(store: global.resolvedStore)
        if showToken {
            print(try tokenFile.loadOrCreate().token)
            return
        }
        let secure = tlsCert != nil
        if !Self.isLoopback(host) && !secure {
            guard insecureHTTP else {
                throw CommandFailure(
                    "listening on \(host) needs --tls-cert and --tls-key (or --insecure-http, which sends the token in clear); nothing was started",
                    exitCode: 64)
            }
            Output.notice("warning: serving plain HTTP on \(host): the token and session cookies cross the network unencrypted")
        }
        let tls = try tlsCert.map { try PanelServer.tlsConfiguration(certificate: $0, key: tlsKey!) }
        try Context.requireLocalHypervisor(global.resolvedURI)
        let (token, created) = try tokenFile.loadOrCreate()
        let server = PanelServer(
            host: host, port: port, tls: tls, backend: PanelBackend(options: global), sessions: PanelSessions(token: token))
        let scheme = secure ? "https" : "http"
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let done = DispatchSemaphore(value: 0)
        let failure = RestoreOutcome()
        Task {
            do {
                try await server.run { boundPort in
                    Output.line("kvmsnap panel: \(scheme)://\(shownHost):\(boundPort)/")
                    if created { Output.line("token (shown once; `kvmsnap serve --show-token` prints it again): \(token)") }
                    fflush(nil)
                }
                failure.finish(nil)
            } catch {
                failure.finish(error)
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error as? IOError, error.errnoCode == EADDRINUSE || error.errnoCode == EADDRNOTAVAIL || error.errnoCode == EACCES {
            throw CommandFailure("cannot listen on \(shownHost):\(port): \(String(cString: strerror(error.errnoCode))); nothing was started")
        }
        if let error = failure.error { throw CommandFailure("the panel stopped: \(Self.describe(error))") }
    }

    /// An error of the server (a bind or TLS failure from SwiftNIO) as one plain sentence.
    static func describe(_ error: any Error) -> String {
        if let failure = CommandFailure.from(error) { return failure.message }
        return String(describing: error)
    }
}
