import ArgumentParser
import Foundation
import Vault

/// The far side of an `ssh://` vault. Needs no catalog, store or libvirt: only the directory.
struct VaultServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a vault directory over stdin/stdout (what an ssh:// vault runs on the far side).",
        discussion: """
            Run by ssh, not by hand. For a sending host's key, force it in authorized_keys: \
            command="kvmsnap vault serve --stdio --append-only /srv/vault",restrict ssh-ed25519 AAAA… \
            With --append-only the key can add chunks and snapshots but not delete or replace them, \
            and cannot run gc; prune and gc run from a trusted host with a full-access key.
            """)
    @Flag(help: "Speak the vault protocol on stdin and stdout (the only mode).") var stdio = false
    @Flag(name: .customLong("append-only"), help: "Refuse deleting and replacing vault objects (sends still work).") var appendOnly = false
    @Argument(help: "The vault directory on this host (made when missing; its parent must exist).") var path: String

    func validate() throws {
        guard stdio else { throw ValidationError("give --stdio (serve speaks the vault protocol on stdin and stdout)") }
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { throw ValidationError("PATH must be absolute, without '..'") }
    }

    func run() throws {
        if let problem = VaultServer(root: path, appendOnly: appendOnly).serve(input: 0, output: 1) {
            throw CommandFailure("vault serve: \(problem)", exitCode: 2)
        }
    }
}
