import Foundation
import KVMSnapCore

/// The far side of an `ssh://` vault: `kvmsnap vault serve --stdio PATH` reads ``ServeProtocol``
/// requests on one descriptor and answers on another, each request mapped onto a
/// ``DirectoryBackend`` at `PATH`. It starts no process and trusts nothing it reads: a key that
/// is not a safe relative path is refused, a frame over the limit ends the session, a malformed
/// request gets an error answer.
///
/// **Append-only** (`--append-only`, for the forced command of a sending host's key): chunks,
/// manifests, pins, config and keys can be added but never deleted or replaced; a `writeAtomic`
/// of such a key succeeds only when the key is new (created with link(2), never replacing).
/// A send's own bookkeeping stays writable: `marks/send-*` (its liveness mark) and `partial/`
/// (its resume checkpoints, which hold chunk ids only and are never read as references). A gc
/// needs a full-access key: its mark (`marks/gc-*`) is refused, so it stops before it deletes.
public struct VaultServer: Sendable {
    public let root: String
    public let appendOnly: Bool

    public init(root: String, appendOnly: Bool) {
        self.root = root
        self.appendOnly = appendOnly
    }

    /// Serves requests until the client hangs up. Returns nil after a clean hang-up, else why the
    /// session ended (a version mismatch, an oversized or cut frame, a vault it cannot open);
    /// the command prints that on stderr (stdout carries the protocol only) and exits 2.
    public func serve(input: Int32, output: Int32) -> String? {
        signal(SIGPIPE, SIG_IGN)  // a client that hung up ends the session with an error, not a signal
        let channel = FrameChannel(input: input, output: output)
        let backend: DirectoryBackend
        switch handshake(channel) {
        case .success(let opened): backend = opened
        case .failure(let problem): return problem.reason
        }
        while true {
            let body: [UInt8]
            do { body = try channel.receive() } catch { return error == .closed(clean: true) ? nil : error.text }
            do { try handle(body, backend: backend, channel: channel) } catch { return error.text }
        }
    }

    struct Refusal: Error {
        var reason: String
    }

    private func handshake(_ channel: FrameChannel) -> Result<DirectoryBackend, Refusal> {
        let body: [UInt8]
        do { body = try channel.receive() } catch { return .failure(Refusal(reason: "no hello from the client: \(error.text)")) }
        var r = FrameReader(body)
        guard r.u8() == ServeProtocol.Op.hello.rawValue, r.string16() == "", let version = r.u32(),
            String(decoding: r.rest(), as: UTF8.self) == ServeProtocol.greeting
        else {
            try? reply(channel, failure: .badRequest, message: "not a kvmsnap vault client")
            return .failure(Refusal(reason: "not a kvmsnap vault client (this command is run by ssh for an ssh:// vault)"))
        }
        guard version == ServeProtocol.version else {
            let text = "protocol version \(version); this server speaks \(ServeProtocol.version)"
            try? reply(channel, failure: .badRequest, message: text)
            return .failure(Refusal(reason: text))
        }
        let backend: DirectoryBackend
        do { backend = try DirectoryBackend(root: root, create: true) } catch {
            try? reply(channel, error: error)
            return .failure(Refusal(reason: error.description))
        }
        var ok = FrameWriter()
        ok.u8(ServeProtocol.Status.ok.rawValue)
        ok.u32(ServeProtocol.version)
        ok.u8(appendOnly ? 1 : 0)
        do { try channel.send(ok.bytes) } catch { return .failure(Refusal(reason: error.text)) }
        return .success(backend)
    }

    private func handle(_ body: [UInt8], backend: DirectoryBackend, channel: FrameChannel) throws(ChannelFailure) {
        var r = FrameReader(body)
        guard let raw = r.u8(), let op = ServeProtocol.Op(rawValue: raw), op != .hello, let key = r.string16() else {
            return try reply(channel, failure: .badRequest, message: "malformed request")
        }
        guard op == .flush || ServeProtocol.isSafeKey(key, prefix: op == .list) else {
            return try reply(channel, failure: .badRequest, message: "refused key '\(key.prefix(200))': not a relative path inside the vault")
        }
        if let refusal = appendOnlyRefusal(op, key) { return try reply(channel, failure: .refused, operation: refusal, message: key) }
        let payload = r.rest()
        if op == .list { return try list(key, backend: backend, channel: channel) }
        let answer: [UInt8]
        do throws(VaultError) {
            answer = try perform(op, key, payload, backend: backend)
        } catch {
            return try reply(channel, error: error)
        }
        try reply(channel, ok: answer)
    }

    private func perform(_ op: ServeProtocol.Op, _ key: String, _ payload: [UInt8], backend: DirectoryBackend) throws(VaultError) -> [UInt8] {
        switch op {
        case .hello, .list: return []
        case .putIfAbsent: return [try backend.putIfAbsent(key, payload) ? 1 : 0]
        case .writeAtomic: try writeAtomic(key, payload, backend: backend)
        case .get: return try backend.get(key)
        case .exists: return [try backend.exists(key) ? 1 : 0]
        case .delete: try backend.delete(key)
        case .touch: try backend.touch(key)
        case .flush: try backend.flush()
        }
        return []
    }

    /// Keys a send keeps rewriting and deleting for its own bookkeeping.
    static func isBookkeeping(_ key: String) -> Bool {
        key.hasPrefix(VaultLayout.partialsPrefix) || key.hasPrefix(VaultLayout.marksPrefix + "send-")
    }

    /// What append-only mode refuses up front (nil: allowed, maybe with a check at write time).
    func appendOnlyRefusal(_ op: ServeProtocol.Op, _ key: String) -> String? {
        guard appendOnly else { return nil }
        switch op {
        case .delete, .touch:
            return Self.isBookkeeping(key) ? nil : op == .delete ? "delete" : "touch"
        case .writeAtomic where key.hasPrefix(VaultLayout.marksPrefix + "gc-"):
            return "gc (needs a full-access key)"
        default:
            return nil
        }
    }

    private func writeAtomic(_ key: String, _ bytes: [UInt8], backend: DirectoryBackend) throws(VaultError) {
        guard appendOnly, !Self.isBookkeeping(key) else { return try backend.writeAtomic(key, bytes) }
        // Append-only: create, never replace (link(2) fails on an existing key), then make it durable.
        guard try backend.putIfAbsent(key, bytes) else { throw .appendOnly(backend: root, key: key, operation: "overwrite") }
        try backend.flush()
    }

    private func list(_ prefix: String, backend: DirectoryBackend, channel: FrameChannel) throws(ChannelFailure) {
        let all: [VaultObjectInfo]
        do throws(VaultError) { all = try backend.list(prefix: prefix) } catch { return try reply(channel, error: error) }
        var start = 0
        repeat {
            let end = min(all.count, start + ServeProtocol.listBatch)
            var w = FrameWriter()
            w.u8((end == all.count ? ServeProtocol.Status.ok : .more).rawValue)
            for o in all[start..<end] {
                w.string16(o.key)
                w.i64(o.size)
                w.i64(Int64((o.modified.timeIntervalSince1970 * 1e9).rounded()))
            }
            try channel.send(w.bytes)
            start = end
        } while start < all.count
    }

    private func reply(_ channel: FrameChannel, ok payload: [UInt8]) throws(ChannelFailure) {
        var w = FrameWriter()
        w.u8(ServeProtocol.Status.ok.rawValue)
        w.raw(payload)
        try channel.send(w.bytes)
    }

    private func reply(
        _ channel: FrameChannel, failure: ServeProtocol.Failure, errno: Int32 = 0, operation: String = "", message: String
    ) throws(ChannelFailure) {
        var w = FrameWriter()
        w.u8(ServeProtocol.Status.failed.rawValue)
        w.u8(failure.rawValue)
        w.u32(UInt32(bitPattern: errno))
        w.string16(operation)
        w.raw(Array(message.utf8))
        try channel.send(w.bytes)
    }

    private func reply(_ channel: FrameChannel, error: VaultError) throws(ChannelFailure) {
        switch error {
        case .missingObject(let key): try reply(channel, failure: .missing, message: key)
        case .backend(let key, let op, let e): try reply(channel, failure: .backend, errno: e, operation: op, message: key)
        case .appendOnly(_, let key, let op): try reply(channel, failure: .refused, operation: op, message: key)
        default: try reply(channel, failure: .backend, message: error.description)
        }
    }
}
