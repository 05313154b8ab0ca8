import Foundation
import SnapshotEngine
import Testing

/// `kvmsnap serve` with TLS and on an address other than loopback, with a certificate openssl makes
/// at test time. The other address is one the test creates on a veth interface of its own
/// (198.18.0.0/15, the benchmarking range), so nothing is ever exposed to a real network.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct PanelTLSTests {
    /// A scratch directory with a catalog, a store, and openssl's files: `cert.pem`/`key.pem`
    /// (self-signed, for 127.0.0.1 and `address`), `other-key.pem` (a key of another pair).
    final class Setup {
        let directory: String
        let interface: String
        let address: String
        var cli: CLI { CLI(catalog: directory + "/catalog.sqlite", store: directory + "/store") }
        var cert: String { directory + "/cert.pem" }
        var key: String { directory + "/key.pem" }
        var tokenFile: String { directory + "/store/panel-token" }

        init() throws {
            let id = Int(getpid()) % 50_000
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-paneltls-\(UUID().uuidString)").path
            interface = "kvtls\(id)"  // and kvtlsNNNNNp, its peer (15 characters at most)
            address = "198.18.\(id % 250).\(1 + id / 250 % 250)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            do {
                for (key, cert) in [("key.pem", "cert.pem"), ("other-key.pem", "other-cert.pem")] {
                    try Self.run(
                        "/usr/bin/openssl",
                        [
                            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                            "-subj", "/CN=kvmsnap-test", "-addext", "subjectAltName=IP:127.0.0.1,IP:\(address)",
                            "-keyout", directory + "/" + key, "-out", directory + "/" + cert,
                        ])
                }
                // A veth pair of our own (this kernel has no dummy interfaces); the address is on one end.
                _ = try? ExternalProcess.run("/usr/sbin/ip", ["link", "del", interface])  // a killed run's leftover
                try Self.run("/usr/sbin/ip", ["link", "add", interface, "type", "veth", "peer", "name", interface + "p"])
                try Self.run("/usr/sbin/ip", ["addr", "add", address + "/32", "dev", interface])
                try Self.run("/usr/sbin/ip", ["link", "set", interface, "up"])
                try Self.run("/usr/sbin/ip", ["link", "set", interface + "p", "up"])
            } catch {
                destroy()
                throw error
            }
        }

        func destroy() {
            _ = try? ExternalProcess.run("/usr/sbin/ip", ["link", "del", interface])
            try? FileManager.default.removeItem(atPath: directory)
        }

        static func run(_ executable: String, _ arguments: [String]) throws {
            let outcome = try ExternalProcess.run(executable, arguments, timeout: .seconds(60))
            guard outcome.succeeded else { throw TestGuestError("\(executable) \(arguments): \(outcome.standardError)") }
        }

        /// True when something accepts TCP connections on `host:port` (curl connects, whatever it then says).
        static func listening(_ host: String, _ port: Int) -> Bool {
            let outcome = try? ExternalProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "--max-time", "5", "telnet://\(host):\(port)"])
            // 7: could not connect; 28: timed out while connected (telnet waits for input).
            return outcome.map { $0.status != 7 } ?? false
        }
    }

    @Test func httpsAnswersAndTheSessionCookieIsSecure() throws {
        let s = try Setup()
        defer { s.destroy() }
        let panel = try PanelProcess(s.cli, tls: (s.cert, s.key))
        defer { panel.stop() }
        #expect(panel.base.hasPrefix("https://127.0.0.1:"))
        // The certificate verifies against the one openssl made (curl --cacert), and the API answers over it.
        #expect(try panel.api("GET", "/vms").status == 200)
        let response = try HTTP.request("POST", panel.base + "/login", json: ["token": panel.token], caFile: s.cert)
        let cookie = try #require(response.headers["set-cookie"], "\(response.status) \(response.body)")
        let attributes = Set(cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(attributes.isSuperset(of: ["Secure", "HttpOnly", "SameSite=Strict"]), "\(cookie)")
        // Plain HTTP on the TLS port gets no answer the panel would give.
        let plain = try? HTTP.request("GET", "http://127.0.0.1:\(panel.port)/api/v1/health", timeout: 10)
        #expect(plain == nil || plain?.status != 200)
        // TLS also makes another address acceptable, without a warning.
        let outside = try PanelProcess(s.cli, host: s.address, tls: (s.cert, s.key), captureOutput: true)
        #expect(try outside.api("GET", "/vms").status == 200)
        let outcome = outside.stop()
        #expect(!outcome.standardError.contains("warning"), "\(outcome.standardError)")
    }

    @Test func anotherAddressWithoutTLSIsRefusedUnlessInsecureHTTPIsGivenAndThenWarns() throws {
        let s = try Setup()
        defer { s.destroy() }
        let port = try PanelProcess.freePort()
        for host in [s.address, "0.0.0.0", "127.0.0.1.nip.io"] {
            let refused = try s.cli.run(["serve", "--listen", "\(host):\(port)"], timeout: 30)
            #expect(refused.status == 64, "\(host): \(refused.status) \(refused.stdout)\(refused.stderr)")
            #expect(refused.stderr.contains("needs --tls-cert and --tls-key") && refused.stderr.contains("nothing was started"), "\(refused.stderr)")
            #expect(!Setup.listening(s.address, port) && !Setup.listening("127.0.0.1", port))
            #expect(!FileManager.default.fileExists(atPath: s.tokenFile), "a refused serve made the token file")
        }
        let insecure = try PanelProcess(s.cli, extraArguments: ["--insecure-http"], host: s.address, captureOutput: true)
        #expect(insecure.base.hasPrefix("http://\(s.address):"))
        #expect(try insecure.api("GET", "/vms").status == 200)
        let outcome = insecure.stop()
        #expect(outcome.standardError.contains("warning: serving plain HTTP on \(s.address)"), "\(outcome.standardError)")
    }

    @Test func aMissingUnreadableOrMismatchedKeyIsRefusedClearly() throws {
        let s = try Setup()
        defer { s.destroy() }
        try "not a key\n".write(toFile: s.directory + "/garbage.pem", atomically: true, encoding: .utf8)
        let port = try PanelProcess.freePort()
        let cases: [(cert: String, key: String, says: String)] = [
            (s.cert, s.directory + "/missing.pem", "missing.pem"),
            (s.cert, s.directory + "/garbage.pem", "garbage.pem"),
            (s.cert, s.directory + "/other-key.pem", "does not match"),
            (s.key, s.cert, "cert"),
            (s.directory + "/missing-cert.pem", s.key, "missing-cert.pem"),
        ]
        for c in cases {
            let refused = try s.cli.run(["serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", c.cert, "--tls-key", c.key], timeout: 30)
            #expect(refused.status == 64, "\(c): \(refused.status) \(refused.stderr)")
            #expect(
                refused.stderr.contains("TLS") && refused.stderr.contains(c.says) && refused.stderr.contains("nothing was started"), "\(c): \(refused.stderr)")
            #expect(!Setup.listening("127.0.0.1", port))
            #expect(!FileManager.default.fileExists(atPath: s.tokenFile), "a refused serve made the token file")
        }
    }
}
