import ArgumentParser
import Foundation
import SnapshotCatalog
import SnapshotEngine

struct VaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Off-host copies of snapshots: vaults, what they hold, verify, retention, gc.",
        subcommands: [
            Add.self, List.self, Remove.self, VaultSnapshotsCommand.self, VaultVerifyCommand.self, VaultPruneCommand.self,
            VaultGCCommand.self, VaultForgetCommand.self, VaultPinCommand.self, VaultUnpinCommand.self, VaultExtractCommand.self, Key.self,
            VaultServeCommand.self,
        ])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a vault in a directory, over ssh or in an S3 bucket, or attach the one there.",
            discussion: """
                --encrypt makes a new vault encrypted (AES-256-GCM): its key goes to a 0600 file in the \
                store and is printed once as a paper key; keep that paper key off this host. Attaching \
                an encrypted vault on another host takes --paper-key, --key-file or --passphrase-file. \
                An ssh://[user@]host[:port]/path vault runs 'kvmsnap vault serve --stdio PATH' there through \
                the system ssh (its config, keys and known_hosts; an unknown host key is refused). \
                An s3://bucket/prefix vault needs --endpoint; its key pair comes from --credentials-file \
                (mode 0600, AWS format) or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A name for the vault on this host.") var name: String
        @Argument(help: "An absolute directory path (local disk, NFS/SMB mount, USB disk), ssh://[user@]host[:port]/path or s3://bucket/prefix.")
        var path: String
        @Flag(help: "Create the vault encrypted.") var encrypt = false
        @Option(name: .customLong("key-file"), help: ArgumentHelp("A key file (32 or 64 bytes) to protect or open the vault.", valueName: "F"))
        var keyFile: String?
        @Option(name: .customLong("paper-key"), help: ArgumentHelp("The paper key of an existing encrypted vault.", valueName: "KEY"))
        var paperKey: String?
        @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("A file whose first line is the passphrase.", valueName: "F"))
        var passphraseFile: String?
        @Option(
            name: .customLong("chunk-size"),
            help: ArgumentHelp("Disk chunk size of a new vault in KiB (256 to 4096, a power of two; default 4096).", valueName: "KIB"))
        var chunkKiB: Int64?
        @Option(help: ArgumentHelp("S3: the server, http(s)://host[:port] (path-style addressing).", valueName: "URL")) var endpoint: String?
        @Option(help: ArgumentHelp("S3: the region to sign for (default us-east-1).", valueName: "R")) var region: String?
        @Option(
            name: .customLong("credentials-file"),
            help: ArgumentHelp("S3: a 0600 AWS credentials file (its path is stored, never the secret).", valueName: "F"))
        var credentialsFile: String?
        @Option(
            help: ArgumentHelp(
                "Chunks a send stores in parallel (1 to 64; default one per core); for ssh:// also the connections (at most 16, default 4).", valueName: "N"))
        var jobs: Int?

        func run() throws {
            var options = VaultAddOptions(name: name, location: path)
            options.options = VaultOptions(endpoint: endpoint, region: region, credentialsFile: credentialsFile, jobs: jobs)
            options.encrypt = encrypt
            options.keyFile = keyFile
            options.paperKey = paperKey
            if let chunkKiB {
                guard chunkKiB > 0, chunkKiB <= 1 << 20 else { throw CommandFailure("--chunk-size must be 256 to 4096 (KiB)", exitCode: 64) }
                options.chunkSize = chunkKiB << 10
            }
            if let passphraseFile {
                guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8),
                    let line = text.split(separator: "\n", omittingEmptySubsequences: false).first, !line.isEmpty
                else { throw CommandFailure("cannot read a passphrase from \(passphraseFile)", exitCode: 64) }
                options.passphrase = String(line)
            }
            let result = try Context(global).engine().addVault(options)
            if global.json { Output.json(VaultRecordJSON(result.vault, created: result.created, paperKey: result.paperKey)); return }
            let how = result.created ? "created" : "attached"
            Output.line("\(how) vault \(name) at \(path)\(result.vault.encrypted ? " (encrypted)" : "")")
            if let paper = result.paperKey {
                Output.line("paper key (shown once; write it down and keep it off this host, it restores the vault anywhere):")
                Output.line("  \(paper)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The vaults this host knows.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let vaults = try Context(global).engine(.read).vaultRecords()
            if global.json { Output.json(vaults.map { VaultRecordJSON($0) }); return }
            Output.table(
                ["NAME", "LOCATION", "ENCRYPTED", "ADDED"],
                vaults.map { [$0.name, $0.location, $0.encrypted ? "yes" : "no", Output.localTime($0.addedAt)] })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a vault on this host (its contents and key file stay).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Vault name.") var name: String
        func run() throws {
            try Context(global).engine(.existing).removeVault(name)
            if !global.json { Output.line("removed vault \(name) from this host (its contents are untouched)") }
        }
    }

    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The vault's key.", subcommands: [Export.self])
        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the vault's master key as a paper key.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Vault name.") var name: String
            @Flag(help: "As a paper key (the only form so far).") var paper = false
            func validate() throws { if !paper { throw ValidationError("give --paper") } }
            func run() throws {
                let key = try Context(global).engine(.read).vaultPaperKey(name)
                if global.json { Output.json(["vault": name, "paperKey": key]); return }
                Output.line(key)
            }
        }
    }
}
