import Foundation
import SnapshotEngine

/// A real alert receiver (scripts/lib/notify-receiver.py: an HTTP server or aiosmtpd) that
/// records each request or mail as a JSON file. The shared ones scripts/test.sh starts
/// (`KVMSNAP_TEST_NOTIFY_HTTP`/`_SMTP` and their `_DIR`) are used when set; otherwise, or when a
/// test needs its own (one that is down, then up), the test starts one and stops it.
final class NotifyReceiver {
    let kind: String
    let directory: String
    let port: Int
    private let child: ExternalProcess.Child?

    var address: String { "127.0.0.1:\(port)" }

    private init(kind: String, directory: String, port: Int, child: ExternalProcess.Child?) {
        self.kind = kind; self.directory = directory; self.port = port; self.child = child
    }

    static var script: String { IntegrationEnvironment.packageRoot + "/scripts/lib/notify-receiver.py" }

    /// The shared receiver of `kind` (http or smtp), or a new one under `scratch`.
    static func shared(_ kind: String, scratch: String) throws -> NotifyReceiver {
        let env = ProcessInfo.processInfo.environment
        let key = kind == "http" ? "KVMSNAP_TEST_NOTIFY_HTTP" : "KVMSNAP_TEST_NOTIFY_SMTP"
        if let address = env[key], let dir = env[key + "_DIR"], let port = address.split(separator: ":").last.flatMap({ Int($0) }) {
            return NotifyReceiver(kind: kind, directory: dir, port: port, child: nil)
        }
        return try start(kind, directory: scratch + "/" + kind)
    }

    /// Starts a receiver (on `port`, or a free one) and waits until it listens.
    /// `environment`: NOTIFY_TLS_CERT/KEY for https and STARTTLS, NOTIFY_SMTP_USER/PASSWORD for AUTH.
    static func start(_ kind: String, directory: String, port: Int = 0, environment: [String: String] = [:]) throws -> NotifyReceiver {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        unlink(directory + "/port")
        let child = try ExternalProcess.start("/usr/bin/python3", [script, kind, directory, String(port)], environment: environment)
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: directory + "/port", encoding: .utf8), let bound = Int(text) {
                return NotifyReceiver(kind: kind, directory: directory, port: bound, child: child)
            }
            if child.hasExited { break }
            usleep(50_000)
        }
        child.signal(SIGKILL); child.wait()
        throw TestGuestError("the \(kind) receiver did not start (is aiosmtpd installed? scripts/lib/notify-peers.sh install)")
    }

    /// Stops a receiver this test started (a shared one is left running).
    func stop() {
        guard let child else { return }
        child.signal(SIGTERM)
        _ = child.wait(timeout: .seconds(10))
        if !child.hasExited { child.signal(SIGKILL); child.wait() }
    }

    /// Every recorded request (`http-*.json`) or mail (`mail-*.json`), oldest first.
    func records() -> [[String: Any]] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return files.compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
    }

    /// Requests whose path starts with `prefix`.
    func requests(pathPrefix prefix: String) -> [[String: Any]] {
        records().filter { ($0["path"] as? String)?.hasPrefix(prefix) == true }
    }

    /// Mails to `recipient`.
    func mails(to recipient: String) -> [[String: Any]] {
        records().filter { ($0["rcptTos"] as? [String])?.contains(recipient) == true }
    }

    /// A loopback port nothing listens on right now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
