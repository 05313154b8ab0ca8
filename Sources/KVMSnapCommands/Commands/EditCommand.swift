import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

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
        if description == nil && expires == nil && !pin && !unpin {
            throw ValidationError("nothing to change: give --description, --expires, --pin or --unpin")
        }
    }

    func run() throws {
        var expiresAt: Date?? = nil
        if let expires {
            expiresAt = expires == "never" ? .some(nil) : .some(try ExpirySpec.parse(expires, now: Date()))
        }
        try Context(global).engine(.existing).edit(
            vm: vm, snapshot: snapshot, description: description, expiresAt: expiresAt,
            pinned: pin ? true : (unpin ? false : nil))
        if !global.json { Output.line("updated '\(snapshot)'") }
    }
}
