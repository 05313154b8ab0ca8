/// One check of a restore drill, in the order the drill runs them, with its own time and result.
/// This is also the JSON model of `drill --json`'s `checks` array and of the catalog's report.
public struct DrillCheck: Codable, Sendable, Equatable {
    /// `running`, `agent`, `console`, `port`, `command`, `script`.
    public var name: String
    public var passed: Bool
    /// How long the check took (waiting included).
    public var seconds: Double
    /// What was seen: the matched console line, the exit status, why it failed.
    public var detail: String

    public init(name: String, passed: Bool, seconds: Double, detail: String) {
        self.name = name; self.passed = passed; self.seconds = seconds; self.detail = detail
    }
}

/// The isolated libvirt network a drill's clone is wired to: a bridge with no `<forward>` (no
/// route anywhere), no `<ip>` (no host address on it, so not even the host answers; no DHCP or
/// DNS server), and nothing but the clone's interfaces on it.
public enum DrillNetwork {
    /// Prefix of every drill network's name (recovery and test cleanup look for it).
    public static let namePrefix = "kvmsnap-drill-"

    /// Network `kvmsnap-drill-<id>` on bridge `kvd-<id>` (`id`: 8 lowercase hex digits; a Linux
    /// interface name has at most 15 characters).
    public static func xml(id: String) -> String {
        """
        <network>
          <name>\(namePrefix)\(id)</name>
          <bridge name='kvd-\(id)' stp='on' delay='0'/>
        </network>
        """
    }
}
