import Foundation
import KVMSnapCore
import SnapshotCatalog

/// The kinds of targets (`notify add --webhook | --ntfy | --gotify | --smtp`).
public enum NotifyTargetKind: String, Sendable, CaseIterable, Codable {
    case webhook, ntfy, gotify, smtp
}

/// What `notify add` asks for, before it is checked.
public struct NotifyTargetSpec: Sendable {
    public var name: String
    public var kind: NotifyTargetKind
    /// The URL (HTTP kinds) or `HOST[:PORT]` (smtp).
    public var endpoint: String
    public var tokenFile: String?
    public var mailFrom: String?
    public var mailTo: String?
    public var startTLS = false
    public var user: String?
    public var passwordFile: String?
    public init(name: String, kind: NotifyTargetKind, endpoint: String) { self.name = name; self.kind = kind; self.endpoint = endpoint }
}

/// Alert targets and rules (`notify add/list/remove`, `notify rule ...`): checks what is given
/// and keeps it in the catalog. Holds no state; secrets stay in their files (only the path is kept).
public struct NotifyTargets: Sendable {
    let catalog: Catalog
    let now: @Sendable () -> Date

    public init(catalog: Catalog, now: @escaping @Sendable () -> Date = { Date() }) { self.catalog = catalog; self.now = now }

    /// Checks `spec` and records it. A refusal writes nothing.
    @discardableResult
    public func add(_ spec: NotifyTargetSpec) throws(NotifyError) -> NotifyTargetRecord {
        let record = try Self.check(spec, at: now())
        try write { db in
            if try db.notifyTarget(named: spec.name) != nil { throw NotifyError(.conflict, "a target named '\(spec.name)' exists") }
            try db.insert(record)
        }
        return record
    }

    /// Checks `spec` without the catalog (name, URL or host, addresses, secret file modes) and
    /// returns the record ``add(_:)`` would write.
    @discardableResult
    public static func check(_ spec: NotifyTargetSpec, at date: Date = Date()) throws(NotifyError) -> NotifyTargetRecord {
        if let problem = NameRules.problem(with: spec.name, what: "target name") { throw NotifyError(.invalidInput, problem) }
        var record = NotifyTargetRecord(name: spec.name, kind: spec.kind.rawValue, endpoint: spec.endpoint, addedAt: date)
        switch spec.kind {
        case .webhook, .ntfy, .gotify:
            _ = try HTTPEndpoint.parse(spec.endpoint)
            if spec.mailFrom != nil || spec.mailTo != nil || spec.startTLS || spec.user != nil || spec.passwordFile != nil {
                throw NotifyError(.invalidInput, "--from, --to, --starttls, --user and --password-file belong to --smtp targets")
            }
            if spec.kind == .gotify && spec.tokenFile == nil {
                throw NotifyError(.invalidInput, "a gotify target needs --token-file (a 0600 file holding the application token)")
            }
            record.secretFile = try spec.tokenFile.map { path throws(NotifyError) in try checkedSecretFile(path) }
        case .smtp:
            record.endpoint = try mailServer(spec.endpoint).text
            if spec.tokenFile != nil { throw NotifyError(.invalidInput, "--token-file belongs to HTTP targets; mail uses --password-file") }
            guard let from = spec.mailFrom, let to = spec.mailTo else { throw NotifyError(.invalidInput, "an smtp target needs --from and --to") }
            record.mailFrom = try mailAddress(from, "--from")
            record.mailTo = try recipients(to).joined(separator: ",")
            record.startTLS = spec.startTLS
            guard (spec.user == nil) == (spec.passwordFile == nil) else {
                throw NotifyError(.invalidInput, "--user and --password-file go together")
            }
            if let user = spec.user, let passwordFile = spec.passwordFile {
                guard spec.startTLS else {
                    throw NotifyError(.invalidInput, "SMTP AUTH needs --starttls: kvmsnap sends a password only over TLS")
                }
                guard !user.isEmpty, user.count <= 256, !user.contains(where: { $0.asciiValue.map { $0 < 0x20 } ?? false }) else {
                    throw NotifyError(.invalidInput, "bad --user")
                }
                record.user = user
                record.secretFile = try checkedSecretFile(passwordFile)
            }
        }
        return record
    }

    public func list() throws(NotifyError) -> [NotifyTargetRecord] { try read { try $0.notifyTargets() } }

    /// Removes a target with its rules and its deliveries (sent, pending or failed).
    public func remove(_ name: String) throws(NotifyError) {
        try write { db in
            guard try db.deleteNotifyTarget(named: name) else { throw NotifyError(.notFound, "no target named '\(name)'") }
        }
    }

    public func target(_ name: String) throws(NotifyError) -> NotifyTargetRecord {
        guard let target = try read({ try $0.notifyTarget(named: name) }) else { throw NotifyError(.notFound, "no target named '\(name)'") }
        return target
    }

    // MARK: Rules

    /// Adds a rule: events of `event` (for `vm`, or every VM) go to `target`. `olderThan` is the
    /// stale-restore-point threshold (default 36h) and refused with other events.
    @discardableResult
    public func addRule(target: String, event: AlertEventType, vm: String?, olderThanSeconds: Double?) throws(NotifyError) -> NotifyRuleRecord {
        try Self.checkRule(event: event, vm: vm, olderThanSeconds: olderThanSeconds)
        let threshold = event == .staleRestorePoint ? olderThanSeconds ?? AlertRuleSpec.defaultStaleSeconds : nil
        var rule = NotifyRuleRecord(target: target, event: event.rawValue, vm: vm, olderThanSeconds: threshold, createdAt: now())
        try write { db in
            guard try db.notifyTarget(named: target) != nil else { throw NotifyError(.notFound, "no target named '\(target)'") }
            try db.insert(&rule)
        }
        return rule
    }

    /// Checks a rule's values without the catalog.
    public static func checkRule(event: AlertEventType, vm: String?, olderThanSeconds: Double?) throws(NotifyError) {
        guard event != .test else { throw NotifyError(.invalidInput, "'test' is not an event a rule can name (use notify test)") }
        if olderThanSeconds != nil && event != .staleRestorePoint {
            throw NotifyError(.invalidInput, "--older-than belongs to --on stale-restore-point")
        }
        if let seconds = olderThanSeconds, seconds < 60 { throw NotifyError(.invalidInput, "--older-than must be at least 1min") }
        if let vm, let problem = NameRules.problem(with: vm, what: "VM name") { throw NotifyError(.invalidInput, problem) }
    }

    public func rules() throws(NotifyError) -> [NotifyRuleRecord] { try read { try $0.notifyRules() } }

    public func removeRule(id: Int64) throws(NotifyError) {
        try write { db in
            guard try db.deleteNotifyRule(id: id) else { throw NotifyError(.notFound, "no rule with id \(id)") }
        }
    }

    // MARK: Checks

    static func checkedSecretFile(_ path: String) throws(NotifyError) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        _ = try SecretFile.read(absolute)
        return (absolute as NSString).standardizingPath
    }

    /// `HOST[:PORT]` (port 25 when omitted; `[v6]:PORT` for IPv6).
    static func mailServer(_ text: String) throws(NotifyError) -> (host: String, port: Int, text: String) {
        var host = text, port = 25
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { port = Int(rest.dropFirst()) ?? -1 } else if !rest.isEmpty { port = -1 }
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = String(text[..<colon]); port = Int(text[text.index(after: colon)...]) ?? -1
        }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-:_"))
        guard !host.isEmpty, host.count <= 253, host.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }) else {
            throw NotifyError(.invalidInput, "bad mail server '\(Bounds.clip(text))': expected HOST[:PORT]")
        }
        guard (1...65_535).contains(port) else { throw NotifyError(.invalidInput, "bad port in mail server '\(Bounds.clip(text))'") }
        return (host, port, host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
    }

    /// A bare address `local@domain`: no spaces, no angle brackets, no control characters.
    static func mailAddress(_ text: String, _ flag: String) throws(NotifyError) -> String {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, text.count <= 254,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !"<>,;\"()[]\\".unicodeScalars.contains($0) })
        else { throw NotifyError(.invalidInput, "bad \(flag) address '\(Bounds.clip(text))': expected user@domain") }
        return text
    }

    /// `--to a@x,b@y`: one or more addresses.
    static func recipients(_ text: String) throws(NotifyError) -> [String] {
        let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !list.isEmpty, list.count <= 20 else { throw NotifyError(.invalidInput, "--to needs 1 to 20 addresses") }
        var checked: [String] = []
        for address in list { checked.append(try mailAddress(address, "--to")) }
        return checked
    }

    func read<T>(_ body: (CatalogAccess) throws -> T) throws(NotifyError) -> T {
        do { return try catalog.read(body) } catch { throw NotifyError(.catalog, error.message) }
    }

    func write<T>(_ body: (CatalogAccess) throws -> T) throws(NotifyError) -> T {
        do { return try catalog.write(body) } catch {
            if let own = error.underlying as? NotifyError { throw own }
            throw NotifyError(.catalog, error.message)
        }
    }
}
