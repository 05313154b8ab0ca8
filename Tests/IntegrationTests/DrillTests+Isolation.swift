import Foundation
import Testing

extension DrillTests {
    /// Isolation seen from inside the guests (issue 15): one probe pings the host's address on
    /// the production network and opens a TCP connection to a listener the test holds there.
    /// From the source VM both reach the host (so the probe can fail); as a drill's check command
    /// in the clone of that VM, whose NIC is up with the same address but a MAC of its own,
    /// neither does.
    func cloneCannotReachTheProductionNetwork(_ s: Setup) throws {
        let listener = try HostTCPListener(address: s.hostAddress)
        defer { listener.stop() }
        let probe = Self.reachProbe(host: s.hostAddress, port: listener.port)

        let control = try s.fixture.guest.exec(probe)
        let source = try #require(ProbeResult(control.output), "source probe: \(control)")
        #expect(control.status == 1 && source.verdict == "REACHED ping tcp", "the source VM should reach the host: \(control)")
        #expect(source.address == s.guestAddress + "/24" && source.state == "up", "\(control)")

        let result = try s.cli.run(["drill", s.vm, "s1", "--check-cmd", probe, "--timeout", "2min", "--json"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout) \(result.stderr)")
        let checks = try #require(report["checks"] as? [[String: Any]], "\(report)")
        let command = try #require(checks.first { $0["name"] as? String == "command" }, "\(checks)")
        let detail = command["detail"] as? String ?? ""
        #expect(command["passed"] as? Bool == true && detail.hasPrefix("exit 0"), "\(command)")
        let clone = try #require(ProbeResult(detail), "clone probe: \(detail)")
        #expect(clone.verdict == "UNREACHABLE", "the drill clone reached the production network: \(detail)")
        // Isolation, not a missing or dead NIC: the clone's eth0 is up with the source's address.
        #expect(clone.address == s.guestAddress + "/24" && clone.state == "up", "\(detail)")
        #expect(clone.mac.count == 17 && clone.mac != source.mac, "the clone has the source's MAC: \(detail) vs \(control.output)")
        try expectNothingLeft(s, clone: try #require(report["clone"] as? String))
    }

    /// A shell command printing one line: eth0's address, state and MAC, then `REACHED ping tcp`
    /// (what answered; exit 1) or `UNREACHABLE` (exit 0). ping waits 2 s, nc 3 s at most.
    static func reachProbe(host: String, port: Int) -> String {
        let facts = "ip=$(ip -o -4 addr show dev eth0 | awk '{print $4}') state=$(cat /sys/class/net/eth0/operstate) mac=$(cat /sys/class/net/eth0/address)"
        return "r=; ping -c 2 -W 2 \(host) >/dev/null 2>&1 && r=\"$r ping\"; nc -w 3 \(host) \(port) -e true 2>/dev/null && r=\"$r tcp\"; "
            + "f=\"\(facts)\"; if [ -n \"$r\" ]; then echo \"$f REACHED$r\"; exit 1; fi; echo \"$f UNREACHABLE\""
    }

    /// The line ``reachProbe(host:port:)`` prints, found in command output or a check's detail.
    struct ProbeResult {
        var address: String
        var state: String
        var mac: String
        var verdict: String

        init?(_ text: String) {
            guard let m = text.firstMatch(of: /ip=([0-9.\/]*) state=([a-z]*) mac=([0-9a-f:]*) (REACHED[a-z ]*|UNREACHABLE)/) else { return nil }
            (address, state, mac, verdict) = (String(m.1), String(m.2), String(m.3), String(m.4).trimmingCharacters(in: .whitespaces))
        }
    }
}

/// A TCP socket listening on a host address (port chosen by the kernel) that never accepts: a
/// guest's connect completes in the backlog. For reachability probes; `stop()` ends it.
struct HostTCPListener {
    let descriptor: Int32
    let port: Int

    init(address: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestGuestError("socket: errno \(errno)") }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_addr.s_addr = inet_addr(address)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &socketAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw TestGuestError("cannot listen on \(address): errno \(code)")
        }
        _ = withUnsafeMutablePointer(to: &socketAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        descriptor = fd
        port = Int(UInt16(bigEndian: socketAddress.sin_port))
    }

    func stop() { close(descriptor) }
}
