/// The parts of a libvirt connection URI kvmsnap cares about: which machine it reaches.
///
/// kvmsnap keeps its store and catalog on the machine it runs on and reads and writes the VM's
/// images there, so it only works with a hypervisor on that same machine. `qemu:///system`,
/// `test:///default` and `qemu+ssh://localhost/system` are local; `qemu+ssh://host2/system` is not.
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
}
