import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine
import Vault

struct VaultSnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots", abstract: "What the vault holds, per VM, with logical and stored bytes.",
        discussion: """
            A manifest that cannot be read (truncated, modified) does not hide the others: each is named on \
            stderr and the exit status is 1 (the readable ones are still listed, also with --json). \
            'kvmsnap vault forget NAME VM SNAP --damaged' deletes one.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Argument(help: "Only this VM (name or UUID as the vault records it).") var vm: String?
    func run() throws {
        let listing = try Context(global).engine(.read).vaultSnapshotListing(name, vm: vm)
        let all = listing.snapshots
        if global.json { Output.json(all.map(VaultSnapshotJSON.init)) } else { table(all) }
        try Output.reportDamaged(listing.damaged, vault: name)
    }

    private func table(_ all: [VaultSnapshotSummary]) {
        Output.table(
            ["VM", "SNAPSHOT", "CREATED", "KIND", "MEMORY", "LOGICAL", "STORED", "BASE", "HOST", "PINNED"],
            all.map { s in
                [
                    s.vm, s.snapshot, Output.localTime(s.createdAt), s.kind, s.hasMemory ? "yes" : "no", Output.bytes(s.logicalBytes),
                    Output.bytes(s.storedBytes), s.baseSnapshot ?? "-", s.host + (s.hostID.map { " (\($0.prefix(8)))" } ?? ""),
                    s.pinned ? "yes" : "",
                ]
            })
    }
}

extension Output {
    /// One stderr line per damaged manifest, then exit status 1.
    static func reportDamaged(_ damaged: [DamagedManifest], vault: String) throws {
        guard !damaged.isEmpty else { return }
        for d in damaged {
            FileHandle.standardError.write(
                Data(
                    ("kvmsnap: warning: \(d.error.description) (not listed; to drop it: "
                        + "kvmsnap vault forget \(vault) \(d.vmUUID) \(d.snapshot) --damaged)\n").utf8))
        }
        throw ExitCode(1)
    }
}

struct VaultVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every manifest and that every referenced chunk exists; --read-data re-hashes every chunk.",
        discussion: "Works without the key of an encrypted vault (then chunks are checked for their framing and tag only). Exit 1 when a problem is found.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Flag(name: .customLong("read-data"), help: "Read and re-hash every referenced chunk.") var readData = false
    func run() throws {
        let report = try Context(global).engine(.read).verifyVault(name, readData: readData)
        if global.json {
            Output.json(VaultVerifyJSON(vault: name, report))
        } else {
            for p in report.problems { Output.line("\(p.kind.rawValue) \(p.object): \(p.detail)") }
            let data = report.dataChecked ? ", data re-hashed" : readData ? ", framing only (no key)" : ""
            Output.line(
                "\(report.ok ? "ok" : "\(report.problems.count) problem(s)"): \(report.manifestsChecked) manifests, \(report.chunksChecked) chunks\(data)")
        }
        if !report.ok { throw ExitCode(1) }
    }
}

struct VaultPruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete the vault snapshots a retention policy does not keep (borg 1.2's rules, pinned ones kept).",
        discussion: """
            Deletes manifests only; 'vault gc' reclaims the chunks nothing references any more. A manifest that \
            cannot be read is neither kept nor pruned: it is named on stderr and the exit status is 1.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Argument(help: "Only this VM (name or UUID as the vault records it).") var vm: String?
    @OptionGroup var keep: RetentionOptions
    @Flag(name: .customLong("dry-run"), help: "Only show what would be pruned.") var dryRun = false
    func validate() throws { if !keep.isGiven { throw ValidationError("give at least one --keep-... option") } }
    func run() throws {
        let policy = try keep.policy()
        let results = try Context(global).engine(.read).pruneVault(name, vm: vm, policy: policy, dryRun: dryRun)
        let damaged = results.flatMap(\.damaged)
        if global.json { Output.json(results.flatMap(VaultPruneJSON.items)) } else { table(results) }
        try Output.reportDamaged(damaged, vault: name)
    }

    private func table(_ results: [VaultPruneResult]) {
        Output.table(
            ["VM", "SNAPSHOT", "CREATED", "ACTION", "REASON"],
            results.flatMap { r in
                VaultPruneJSON.items(r).map { [$0.vm, $0.snapshot, $0.createdAt.map(Output.localTime) ?? "-", $0.action, $0.reason ?? "-"] }
            })
        let pruned = results.reduce(0) { $0 + $1.plan.pruned.count }
        let kept = results.reduce(0) { $0 + $1.plan.kept.count }
        Output.line(
            "total: \(kept) kept, \(pruned) \(dryRun ? "to prune (dry run, nothing deleted)" : "pruned; run 'kvmsnap vault gc \(name)' to reclaim chunks")")
    }
}

struct VaultGCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Delete chunks nothing references (safe against a concurrent send).",
        discussion: "Chunks younger than the grace period are kept; while a send runs, gc deletes nothing and says so.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Option(help: ArgumentHelp("Keep unreferenced chunks younger than this (0, 90min, 36h, 7d; default 1h).", valueName: "D")) var grace: String?
    @Flag(name: .customLong("dry-run"), help: "Only count what would be deleted.") var dryRun = false
    func run() throws {
        let seconds = try grace.map { (text) throws in text == "0" ? 0 : TimeInterval(try RetentionDuration(parsing: text).seconds) } ?? 3600
        let report = try Context(global).engine(.read).gcVault(name, grace: seconds, dryRun: dryRun)
        if global.json { Output.json(VaultGCJSON(vault: name, report)); return }
        if !report.deferredBy.isEmpty {
            Output.line("a send is running (\(report.deferredBy.joined(separator: ", "))): nothing deleted, run gc again later")
            return
        }
        Output.line(
            "\(dryRun ? "would delete" : "deleted") \(report.deletedChunks) chunks (\(Output.bytes(report.deletedBytes))); "
                + "\(report.referencedChunks) referenced, \(report.keptYoung) unreferenced kept (younger than the grace period)")
    }
}

struct VaultPinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pin", abstract: "Keep a vault snapshot from vault prune.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    func run() throws {
        try Context(global).engine(.read).setVaultPinned(true, vault: name, vm: vm, snapshot: snapshot)
        if !global.json { Output.line("pinned \(vm)/\(snapshot) in vault \(name)") }
    }
}

struct VaultUnpinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpin", abstract: "Let vault prune decide about a vault snapshot again.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    func run() throws {
        try Context(global).engine(.read).setVaultPinned(false, vault: name, vm: vm, snapshot: snapshot)
        if !global.json { Output.line("unpinned \(vm)/\(snapshot) in vault \(name)") }
    }
}

struct VaultForgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget", abstract: "Delete a vault manifest that cannot be read (truncated or modified), so gc can run again.",
        discussion: """
            Only with --damaged, and only when the manifest really fails to read: a readable one is refused (use \
            'vault prune'). The chunks only it referenced are reclaimed by the next 'vault gc'. VM is the UUID \
            that 'vault snapshots' or 'vault gc' names.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Vault name.") var name: String
    @Argument(help: "VM UUID (or name as the vault records it).") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Flag(help: "Required: the manifest is damaged and is to be deleted.") var damaged = false
    func validate() throws { if !damaged { throw ValidationError("give --damaged (only a damaged manifest is forgotten)") } }
    func run() throws {
        let gone = try Context(global).engine(.read).forgetDamagedVaultManifest(name, vm: vm, snapshot: snapshot)
        if global.json { Output.json(["vault": name, "deleted": gone.key]); return }
        Output.line("deleted damaged manifest \(gone.key) from vault \(name); run 'kvmsnap vault gc \(name)' to reclaim its chunks")
    }
}
