import Foundation

/// One open connection to a `vault serve` peer: the descriptors to write requests to and read
/// answers from. ``close()`` ends it and returns what the transport said on the way (ssh's
/// stderr: "Host key verification failed.", "Permission denied (publickey).").
public protocol VaultChannel: AnyObject {
    var requestFD: Int32 { get }
    var responseFD: Int32 { get }
    func close() -> String
}

/// Opens connections to a `vault serve` peer (the engine's ssh transport; a pipe pair in tests).
public protocol VaultTransport: Sendable {
    /// How errors name the backend (`ssh://user@host/path`).
    var name: String { get }
    func connect() throws(VaultError) -> any VaultChannel
}

/// A vault reached through ``ServeProtocol``: up to `connections` connections opened on demand,
/// one request at a time on each, so parallel chunk puts run on parallel connections. A
/// connection that fails is closed and never reused; every error names the backend and the key.
public final class RemoteBackend: VaultBackend, @unchecked Sendable {
    public let transport: any VaultTransport
    public let connections: Int
    private let lock = NSCondition()
    private var idle: [Connection] = []
    private var open = 0
    /// The server said it runs `--append-only` (known after the first connection).
    public private(set) var serverAppendOnly = false

    final class Connection {
        let channel: any VaultChannel
        var frames: FrameChannel { FrameChannel(input: channel.responseFD, output: channel.requestFD) }
        init(_ channel: any VaultChannel) { self.channel = channel }
    }

    public init(transport: any VaultTransport, connections: Int = 4) {
        self.transport = transport
        self.connections = max(1, connections)
        // A write to a connection whose far end died must be an error naming the object, not a
        // silent death by SIGPIPE (children get the default back: ExternalProcess resets it).
        signal(SIGPIPE, SIG_IGN)
    }

    deinit { for c in idle { _ = c.channel.close() } }

    // MARK: VaultBackend

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) throws(VaultError) -> Bool {
        try call(.putIfAbsent, key, bytes).first == 1
    }
    public func writeAtomic(_ key: String, _ bytes: [UInt8]) throws(VaultError) { _ = try call(.writeAtomic, key, bytes) }
    public func get(_ key: String) throws(VaultError) -> [UInt8] { try call(.get, key) }
    public func exists(_ key: String) throws(VaultError) -> Bool { try call(.exists, key).first == 1 }
    public func delete(_ key: String) throws(VaultError) { _ = try call(.delete, key) }
    public func touch(_ key: String) throws(VaultError) { _ = try call(.touch, key) }

    public func list(prefix: String) throws(VaultError) -> [VaultObjectInfo] {
        var out: [VaultObjectInfo] = []
        _ = try call(.list, prefix) { (frame) throws(VaultError) in
            var r = FrameReader(frame)
            while r.remaining > 0 {
                guard let key = r.string16(), let size = r.i64(), let ns = r.i64() else {
                    throw .connection(backend: self.transport.name, key: prefix, reason: "malformed list answer")
                }
                out.append(VaultObjectInfo(key: key, size: size, modified: Date(timeIntervalSince1970: Double(ns) / 1e9)))
            }
        }
        return out
    }

    /// Flushes on every open connection (each server process syncs what it linked).
    public func flush() throws(VaultError) {
        lock.lock()
        let count = max(1, open)
        lock.unlock()
        var held: [Connection] = []
        defer { for c in held { checkin(c) } }
        for _ in 0..<count {
            let c = try checkout(key: "(flush)")
            let answer = try roundTrip(c, .flush, "", [], more: nil)
            held.append(c)
            _ = try parse(answer, .flush, key: "(flush)", more: nil)
        }
    }

    // MARK: Connections

    private func checkout(key: String) throws(VaultError) -> Connection {
        lock.lock()
        while idle.isEmpty && open >= connections { lock.wait() }
        if let c = idle.popLast() {
            lock.unlock()
            return c
        }
        open += 1
        lock.unlock()
        do throws(VaultError) {
            return try connect(key: key)
        } catch {
            release(nil)
            throw error
        }
    }

    private func checkin(_ c: Connection) {
        lock.lock()
        idle.append(c)
        lock.signal()
        lock.unlock()
    }

    /// Forgets a broken connection (or a slot whose connect failed).
    private func release(_ c: Connection?) {
        lock.lock()
        open -= 1
        lock.signal()
        lock.unlock()
    }

    private func connect(key: String) throws(VaultError) -> Connection {
        let c = Connection(try transport.connect())
        var hello = FrameWriter()
        hello.u8(ServeProtocol.Op.hello.rawValue)
        hello.string16("")
        hello.u32(ServeProtocol.version)
        hello.raw(Array(ServeProtocol.greeting.utf8))
        let answer: [UInt8]
        do {
            try c.frames.send(hello.bytes)
            answer = try c.frames.receive()
        } catch {
            throw .connection(backend: transport.name, key: key, reason: "cannot connect: \(Self.diagnostic(c.channel.close(), error))")
        }
        var r = FrameReader(answer)
        let status = r.u8()
        guard status == ServeProtocol.Status.ok.rawValue, r.u32() == ServeProtocol.version, let flag = r.u8() else {
            _ = c.channel.close()
            // The server refused (it cannot open the vault directory, another protocol version).
            if status == ServeProtocol.Status.failed.rawValue {
                let refused = failure(&r, key: key)
                if case .missingObject = refused { throw .connection(backend: transport.name, key: key, reason: "the server cannot open the vault") }
                throw refused
            }
            let text = String(decoding: answer.dropFirst(), as: UTF8.self).filter { !$0.isASCII || $0.isPrintableASCII }
            throw .connection(
                backend: transport.name, key: key, reason: "the far side is not a kvmsnap vault server of version \(ServeProtocol.version) (\(text))")
        }
        lock.lock()
        serverAppendOnly = flag == 1
        lock.unlock()
        return c
    }

    static func diagnostic(_ transportText: String, _ failure: ChannelFailure) -> String {
        let said = transportText.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var text = said.isEmpty ? failure.text : said.suffix(3).joined(separator: "; ")
        if text.contains("Host key verification failed") || text.contains("No ED25519 host key is known") || text.contains("host key for") {
            text += " (kvmsnap never accepts an unknown or changed host key: check it and add it to known_hosts first)"
        }
        return text
    }

    /// One request on a pooled connection; answers of status `more` go to `more`.
    private func call(_ op: ServeProtocol.Op, _ key: String, _ payload: [UInt8] = [], more: Entries? = nil) throws(VaultError) -> [UInt8] {
        let c = try checkout(key: key)
        let answer = try roundTrip(c, op, key, payload, more: more)
        checkin(c)
        return try parse(answer, op, key: key, more: more)
    }

    typealias Entries = ([UInt8]) throws(VaultError) -> Void

    /// Sends one request and reads its answer; a connection that breaks is closed and forgotten.
    private func roundTrip(_ c: Connection, _ op: ServeProtocol.Op, _ key: String, _ payload: [UInt8], more: Entries?) throws(VaultError) -> [UInt8] {
        var w = FrameWriter()
        w.u8(op.rawValue)
        w.string16(key)
        w.raw(payload)
        var parts: [[UInt8]] = []
        var answer: [UInt8]
        do {
            try c.frames.send(w.bytes)
            answer = try c.frames.receive()
            while answer.first == ServeProtocol.Status.more.rawValue {
                parts.append(Array(answer.dropFirst()))
                answer = try c.frames.receive()
            }
        } catch {
            let said = c.channel.close()
            release(c)
            throw .connection(backend: transport.name, key: key, reason: Self.diagnostic(said, error))
        }
        if let more { for p in parts { try more(p) } }
        return answer
    }

    private func parse(_ answer: [UInt8], _ op: ServeProtocol.Op, key: String, more: Entries?) throws(VaultError) -> [UInt8] {
        var r = FrameReader(answer)
        switch r.u8().flatMap(ServeProtocol.Status.init(rawValue:)) {
        case .ok:
            let rest = r.rest()
            if op == .list, let more { try more(rest) }
            return rest
        case .failed: throw failure(&r, key: key)
        default: throw .connection(backend: transport.name, key: key, reason: "malformed answer")
        }
    }

    private func failure(_ r: inout FrameReader, key: String) -> VaultError {
        let kind = r.u8().flatMap(ServeProtocol.Failure.init(rawValue:))
        let errno = r.i32() ?? 0
        let operation = r.string16() ?? ""
        let message = String(decoding: r.rest(), as: UTF8.self)
        switch kind {
        case .missing: return .missingObject(key: key)
        case .backend where errno != 0:
            let object = message == key || message.isEmpty ? "" : " \(message)"
            return .connection(backend: transport.name, key: key, reason: "\(operation)\(object) failed on the server: \(String(cString: strerror(errno)))")
        case .refused: return .appendOnly(backend: transport.name, key: key, operation: operation)
        default: return .connection(backend: transport.name, key: key, reason: message)
        }
    }
}

extension Character {
    fileprivate var isPrintableASCII: Bool { isASCII && (asciiValue ?? 0) >= 0x20 && (asciiValue ?? 0) < 0x7f }
}
