import Foundation
import SnapshotEngine

/// The second host that scripts/lib/ssh-peer.sh starts: sshd at 10.213.0.2 in its own network
/// namespace, reached over the veth `ksnssh0`, with client configs and vault directories in
/// `dir` (same filesystem, so tests can look at the bytes the far side wrote).
enum SSHPeer {
    static let dir = ProcessInfo.processInfo.environment["KVMSNAP_SSH_PEER_DIR"] ?? "/var/lib/kvmsnap-ssh-peer"
    static let address = "10.213.0.2"
    static let hostDevice = "ksnssh0"

    /// True when the peer answers, or when integration tests are required (then a missing peer fails them).
    static var available: Bool { IntegrationEnvironment.required || answers() }

    static func answers() -> Bool {
        (try? ExternalProcess.run("ssh", ["-F", dir + "/ssh_config", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", address, "true"]).succeeded) == true
    }

    /// Fails the test when the peer is not running; points this process (and the kvmsnap
    /// processes it starts) at the full-access client config and the built kvmsnap.
    static func require() throws {
        guard answers() else { throw TestGuestError("the ssh peer does not answer at \(address): run scripts/lib/ssh-peer.sh start") }
        setenv("KVMSNAP_SSH_CONFIG", dir + "/ssh_config", 1)
        setenv("KVMSNAP_REMOTE_COMMAND", CLI.binary, 1)
    }

    /// Client settings for one of the peer's keys: "" (full access), "_append", "_unknown", "_stranger".
    static func environment(_ key: String = "") -> [String: String] {
        ["KVMSNAP_SSH_CONFIG": dir + "/ssh_config" + key, "KVMSNAP_REMOTE_COMMAND": CLI.binary]
    }

    /// A fresh vault directory on the peer (removed first); "append" is the append-only key's.
    static func vaultPath(_ name: String) -> String {
        let path = dir + "/vaults/" + name
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    static func location(_ path: String) -> String { "ssh://root@\(address)\(path)" }

    static func link(up: Bool) throws {
        _ = try TestGuest.run("ip", ["link", "set", hostDevice, up ? "up" : "down"])
    }
}
