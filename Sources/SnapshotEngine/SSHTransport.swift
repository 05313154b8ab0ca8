import Foundation
import Vault

/// Connections to an `ssh://[user@]host[:port]/path` vault: each one runs the system OpenSSH
/// client, `ssh … HOST kvmsnap vault serve --stdio PATH`, and speaks ``ServeProtocol`` over
/// its stdin and stdout. The user's ssh config, keys, agent and known_hosts apply; kvmsnap adds
/// `BatchMode=yes` (never a prompt) and `StrictHostKeyChecking=yes` (an unknown or changed host
/// key is refused, never accepted), and keep-alives so a cut network ends a request with an
/// error in about 15 s instead of hanging.
///
/// Environment: `KVMSNAP_SSH_CONFIG` names an ssh config file (`ssh -F`), `KVMSNAP_REMOTE_COMMAND`
/// the far side's kvmsnap (default `kvmsnap`), `KVMSNAP_SSH_CONNECTIONS` the connections used for
/// parallel transfers (default 4, 1 to 16).
public struct SSHTransport: VaultTransport {
    let user: String?
    let host: String
    let port: Int?
    let path: String
    let configFile: String?
    let remoteCommand: String

    public init(user: String?, host: String, port: Int?, path: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.user = user
        self.host = host
        self.port = port
        self.path = path
        configFile = environment["KVMSNAP_SSH_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        remoteCommand = environment["KVMSNAP_REMOTE_COMMAND"].flatMap { $0.isEmpty ? nil : $0 } ?? "kvmsnap"
    }

    public static func connections(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        min(16, max(1, environment["KVMSNAP_SSH_CONNECTIONS"].flatMap { Int($0) } ?? 4))
    }

    public var name: String { VaultLocation.ssh(user: user, host: host, port: port, path: path).description }

    /// The ssh command line (no shell on this side; the far side's shell reads the last word).
    var arguments: [String] {
        var args: [String] = []
        if let configFile { args += ["-F", configFile] }
        args += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
        args += ["-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR"]
        if let port { args += ["-p", String(port)] }
        if let user { args += ["-l", user] }
        args += ["--", host, "\(Self.quote(remoteCommand)) vault serve --stdio \(Self.quote(path))"]
        return args
    }

    /// POSIX shell single quotes (the path was checked by VaultLocation; quoting keeps it one word).
    static func quote(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    public func connect() throws(VaultError) -> any VaultChannel {
        do {
            let started = try ExternalProcess.startConnected("ssh", arguments)
            return SSHChannel(child: started.child, requestFD: started.input, responseFD: started.output)
        } catch {
            throw .connection(backend: name, key: "(connect)", reason: "\(error.description) (install openssh-client)")
        }
    }
}

/// One running `ssh` and its pipes.
final class SSHChannel: VaultChannel, @unchecked Sendable {
    let child: ExternalProcess.Child
    private(set) var requestFD: Int32
    private(set) var responseFD: Int32

    init(child: ExternalProcess.Child, requestFD: Int32, responseFD: Int32) {
        self.child = child
        self.requestFD = requestFD
        self.responseFD = responseFD
    }

    /// Closes our ends (the server sees end of input and exits), waits briefly for ssh, and
    /// returns what it wrote on stderr.
    func close() -> String {
        if requestFD >= 0 { Glibc.close(requestFD); requestFD = -1 }
        if responseFD >= 0 { Glibc.close(responseFD); responseFD = -1 }
        let outcome = child.wait(timeout: .seconds(5), outputLimit: 4096)
        let text = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty && !outcome.succeeded ? "ssh exited with status \(outcome.status)" : text
    }

    deinit { _ = close() }
}
