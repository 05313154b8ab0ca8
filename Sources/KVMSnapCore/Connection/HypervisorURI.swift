/// The parts of a libvirt connection URI kvmsnap cares about: which machine it reaches.
///
/// kvmsnap keeps its store and catalog on the machine it runs on and reads and writes the VM's
/// images there, so it only works with a hypervisor on that same machine. `qemu:///system`,
/// `test:///default` and `qemu+ssh://localhost/system` are local; `qemu+ssh://host2/system` is not.
import Foundation

public struct HypervisorURI: Sendable, Equatable {
    public let text: String
    /// The host part (`user@` and `:port` removed, IPv6 brackets stripped); nil when empty.
    public let host: String?

    public init(_ text: String) {
        self.text = text
        guard let schemeEnd = text.range(of: "://") else { host = nil; return }
        var authority = text[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var name: Substring
        if authority.hasPrefix("[") {
            name = authority.dropFirst().prefix { $0 != "]" }
        } else {
            name = authority.prefix { $0 != ":" }
        }
        name = name.drop { $0 == " " }
        host = name.isEmpty ? nil : String(name).lowercased()
    }

    /// True when the URI reaches this machine: no host, a loopback name or address, or one of
    /// `localNames` (this machine's host names). A short name matches a local FQDN's first label;
    /// an FQDN matches a local FQDN exactly, or a short local name when no local FQDN is known.
    public func isLocal(localNames: [String]) -> Bool {
        guard let host else { return true }
        if ["localhost", "localhost.localdomain", "::1"].contains(host) || host.hasPrefix("127.") { return true }
        let names = localNames.map { $0.lowercased() }.filter { !$0.isEmpty }
        let short = { (name: String) in String(name.prefix { $0 != "." }) }
        if !host.contains(".") { return names.contains { short($0) == host } }
        let fqdns = names.filter { $0.contains(".") }
        if !fqdns.isEmpty { return fqdns.contains(host) }
        return names.contains(short(host))
    }

    /// The query parameters libvirt's remote driver reads that only choose files, sockets,
    /// authentication and checks. Everything else is refused: `command` (the program the `ext`
    /// and ssh transports run), `netcat` and `proxy` (what runs on the far side), `name` (the URI
    /// the daemon opens, which kvmsnap cannot check), and names libvirt may add later.
    public static let allowedParameters: Set<String> = [
        "socket", "mode", "auth", "no_verify", "no_tty", "pkipath", "keyfile", "sshauth", "known_hosts",
        "known_hosts_verify", "tls_priority",
    ]

    /// Why kvmsnap refuses to connect with this URI at all, or nil. Checked before connecting:
    /// libvirt starts programs while it connects (`qemu+ext:///system?command=PROG` runs PROG,
    /// `?command=` also replaces ssh), so a refusal after connecting would be too late.
    public var refusal: String? {
        let shown = TerminalText.escape(text)
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace || TerminalText.needsEscape($0) }) {
            return "connection URI '\(shown)' contains spaces or control characters"
        }
        guard let schemeEnd = text.range(of: "://"), !text[..<schemeEnd.lowerBound].isEmpty else {
            return "'\(shown)' is not a libvirt connection URI (driver[+transport]://[host]/path, e.g. qemu:///system)"
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let transport = scheme.split(separator: "+", maxSplits: 1).dropFirst().first.map(String.init)
        if transport == "ext" {
            return "connection URI '\(shown)': the ext transport runs an external program; kvmsnap does not use it"
        }
        guard let query = text.firstIndex(of: "?").map({ text[text.index(after: $0)...] }) else { return nil }
        for pair in query.split(whereSeparator: { $0 == "&" || $0 == ";" }) {
            let rawName = pair.prefix { $0 != "=" }
            guard let name = String(rawName).replacingOccurrences(of: "+", with: " ").removingPercentEncoding?.lowercased(),
                Self.allowedParameters.contains(name)
            else {
                return
                    "connection URI '\(shown)': parameter '\(TerminalText.escape(String(rawName)))' is not accepted (kvmsnap accepts "
                    + "\(Self.allowedParameters.sorted().joined(separator: ", ")))"
            }
        }
        return nil
    }
}
