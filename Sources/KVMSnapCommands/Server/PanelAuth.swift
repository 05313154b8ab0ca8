import Crypto
import Foundation
import Synchronization

/// The panel's secret: a random token in a 0600 file under the store, created at the first start.
/// The token is what an admin types at the login page and what scripts send as `Authorization: Bearer`.
struct PanelTokenFile {
    let path: String

    init(store: String) { path = store + "/panel-token" }

    /// Reads the token, creating the file (0600, exclusive create) when there is none.
    /// `created` is true when this call made it (the token is printed once then).
    func loadOrCreate() throws -> (token: String, created: Bool) {
        if let token = try read() { return (token, false) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let token = PanelRandom.hex(bytes: 32)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            // Another `serve` made it first: use that one.
            if errno == EEXIST, let token = try read() { return (token, false) }
            throw CommandFailure("cannot create the panel token file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array((token + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            unlink(path)
            throw CommandFailure("cannot write the panel token file \(path)")
        }
        return (token, true)
    }

    /// The token, or nil when the file does not exist. A file others can read is refused.
    func read() throws -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if info.st_mode & 0o077 != 0 {
            throw CommandFailure(
                "the panel token file \(path) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it", exitCode: 64)
        }
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 32 else { throw CommandFailure("the panel token file \(path) holds no token", exitCode: 64) }
        return text
    }
}

enum PanelRandom {
    /// `bytes` random bytes from the system's CSPRNG, as lowercase hex.
    static func hex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Compares two secrets in time that depends only on their lengths.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// Logged-in browser sessions (in memory: a restart logs everyone out) with their CSRF tokens,
/// and the login rate limit.
final class PanelSessions: Sendable {
    struct Session: Sendable {
        let csrf: String
        let expires: Date
    }

    static let lifetime: TimeInterval = 12 * 3600
    /// Failed logins allowed per client address in ``failureWindow``; more are answered 429.
    static let maxFailures = 5
    static let failureWindow: TimeInterval = 60

    private let sessions = Mutex<[String: Session]>([:])
    private let failures = Mutex<[String: [Date]]>([:])
    let token: String

    init(token: String) { self.token = token }

    /// The session of a cookie value, if it is live.
    func session(_ id: String) -> Session? {
        let now = Date()
        return sessions.withLock { all in
            guard let s = all[SHA256.hex(id)] else { return nil }
            if s.expires < now { all[SHA256.hex(id)] = nil; return nil }
            return s
        }
    }

    /// True when `candidate` is the panel token.
    func tokenMatches(_ candidate: String) -> Bool { PanelRandom.equal(SHA256.hex(candidate), SHA256.hex(token)) }

    enum LoginOutcome {
        case session(id: String, csrf: String)
        case wrongToken
        case tooManyAttempts
    }

    /// Exchanges the token for a new session; counts failures per client address.
    func login(token candidate: String, client: String) -> LoginOutcome {
        let now = Date()
        let recent = failures.withLock { all -> Int in
            // Many addresses (an IPv6 spray): forget those whose failures are all old.
            if all.count > 10_000 { all = all.filter { $0.value.contains { now.timeIntervalSince($0) < Self.failureWindow } } }
            let kept = (all[client] ?? []).filter { now.timeIntervalSince($0) < Self.failureWindow }
            all[client] = kept.isEmpty ? nil : kept
            return kept.count
        }
        if recent >= Self.maxFailures { return .tooManyAttempts }
        guard tokenMatches(candidate) else {
            failures.withLock { $0[client, default: []].append(now) }
            return .wrongToken
        }
        let id = PanelRandom.hex(bytes: 32), csrf = PanelRandom.hex(bytes: 32)
        sessions.withLock { all in
            all = all.filter { $0.value.expires > now }
            all[SHA256.hex(id)] = Session(csrf: csrf, expires: now.addingTimeInterval(Self.lifetime))
        }
        return .session(id: id, csrf: csrf)
    }

    func logout(_ id: String) { _ = sessions.withLock { $0.removeValue(forKey: SHA256.hex(id)) } }
}

extension SHA256 {
    /// Sessions are stored by the hash of their id (a memory dump shows no usable cookie).
    static func hex(_ text: String) -> String { hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined() }
}
