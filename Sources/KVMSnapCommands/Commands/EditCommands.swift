import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct RenameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a snapshot.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Argument(help: "New snapshot name.") var newName: String

    func run() throws {
        try SnapshotEngine.validateName(newName)
        try Context(global).engine(.existing).rename(vm: vm, snapshot: snapshot, to: newName)
        if !global.json { Output.line("renamed '\(snapshot)' to '\(newName)'") }
    }
}

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit", abstract: "Change a snapshot's description, expiry or pin.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: "New description.") var description: String?
    @Option(help: ArgumentHelp("Expire after a duration (14d) or on a date (YYYY-MM-DD); 'never' clears it.", valueName: "WHEN")) var expires: String?
    @Flag(help: "Pin it (never pruned).") var pin = false
    @Flag(help: "Unpin it.") var unpin = false

    func validate() throws {
        if pin && unpin { throw ValidationError("--pin and --unpin exclude each other") }
        if description == nil && expires == nil && !pin && !unpin { throw ValidationError("nothing to change: give --description, --expires, --pin or --unpin") }
    }

    func run() throws {
        var expiresAt: Date?? = nil
        if let expires {
            expiresAt = expires == "never" ? .some(nil) : .some(try ExpirySpec.parse(expires, now: Date()))
        }
        try Context(global).engine(.existing).edit(vm: vm, snapshot: snapshot, description: description, expiresAt: expiresAt,
                                          pinned: pin ? true : (unpin ? false : nil))
        if !global.json { Output.line("updated '\(snapshot)'") }
    }
}

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a snapshot; never changes what any other snapshot restores.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let progress = Output.progressBar(json: global.json)
        let engine = try Context(global).engine(progress: progress, .existing)
        let info = try engine.snapshot(vm: vm, name: snapshot)
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CommandFailure("refusing to delete without --yes: stdin is not a terminal", exitCode: 64)
            }
            print(TerminalText.escape("Delete snapshot '\(info.record.name)' of \(vm) (created \(Output.localTime(info.record.createdAt)))? [y/N] "), terminator: "")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                throw CommandFailure("not deleted", exitCode: 1)
            }
        }
        try engine.deleteSnapshot(vm: vm, name: snapshot)
        Output.endProgress(progress)
        if !global.json { Output.line("deleted '\(snapshot)'") }
    }
}

/// The engine's revert, without the restore pipeline's safety net (that is `restore`).
struct RevertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert", abstract: "Low-level: put a VM back to a snapshot now, discarding its current state (no safety snapshot).",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: "VM name again, to confirm the current state may be lost.") var confirm: String
    @Option(help: "running, paused or off.") var start: String = "running"

    func run() throws {
        guard confirm == vm else { throw CommandFailure("--confirm must repeat the VM name '\(vm)' exactly", exitCode: 64) }
        guard let mode = StartMode(rawValue: start) else { throw CommandFailure("--start must be running, paused or off", exitCode: 64) }
        let progress = Output.progressBar(json: global.json)
        _ = try Context(global).engine(progress: progress, .existing).revert(vm: vm, to: snapshot, start: mode)
        Output.endProgress(progress)
        if !global.json { Output.line("reverted \(vm) to '\(snapshot)'") }
    }
}
