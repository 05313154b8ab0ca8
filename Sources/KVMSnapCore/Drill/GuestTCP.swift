/// Reads the listening TCP ports out of Linux's `/proc/net/tcp` and `/proc/net/tcp6` tables (what
/// a drill's port check gets from the guest through the agent: no tool in the guest needed).
public enum GuestTCP {
    /// Local ports of sockets in state LISTEN (`0A`).
    public static func listeningPorts(procNetTCP text: String) -> Set<Int> {
        var ports: Set<Int> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[0].hasSuffix(":"), fields[3] == "0A" else { continue }
            guard let colon = fields[1].lastIndex(of: ":"), let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16) else { continue }
            ports.insert(port)
        }
        return ports
    }
}
