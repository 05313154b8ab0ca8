import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a VM to a snapshot: confirm → safety snapshot → stop → revert → start → verify; any failure rolls back.",
        discussion: """
            Current data will be lost. Interactively you type the VM's name to confirm; scripts pass \
            --confirm VM. Without a terminal and without --confirm, the restore is refused. With --as \
            NEWNAME the snapshot becomes a new VM and the original is not touched. With --from-vault \
            NAME, VM and SNAP name a snapshot in that vault (disaster recovery on any host): its disks \
            (qcow2, or --raw), memory image and NVRAM are written to the store (or --disk-dir), it becomes \
            the VM's first local snapshot, and the VM is defined and started from it; a VM that exists \
            here is replaced only with --confirm.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Argument(help: "Snapshot name.") var snapshot: String
    @Option(help: ArgumentHelp("The VM's name, to confirm without a prompt.", valueName: "VM")) var confirm: String?
    @Flag(name: .customLong("no-safety-snapshot"), help: "Do not snapshot the current state first.") var noSafetySnapshot = false
    @Flag(name: .customLong("no-start"), help: "Leave the VM shut off.") var noStart = false
    @Flag(help: "Leave the VM paused.") var paused = false
    @Option(name: .customLong("as"), help: ArgumentHelp("Restore into a new VM with this name instead.", valueName: "NEWNAME")) var asName: String?
    @Option(name: .customLong("from-vault"), help: ArgumentHelp("Restore VM's snapshot SNAP from this vault.", valueName: "NAME"))
    var fromVault: String?
    @Option(name: .customLong("disk-dir"), help: ArgumentHelp("With --from-vault: write the disks here, not into the store.", valueName: "DIR"))
    var diskDirectory: String?
    @Flag(help: "With --from-vault: raw disk images instead of qcow2.") var raw = false

    func validate() throws {
        if noStart && paused { throw ValidationError("--no-start and --paused exclude each other") }
        if fromVault == nil && (diskDirectory != nil || raw) { throw ValidationError("--disk-dir and --raw need --from-vault") }
    }

    func run() throws {
        if let asName { try SnapshotEngine.validateVMName(asName) }  // before the catalog is opened
        if let fromVault { return try restoreFromVault(fromVault) }
        let progress = Output.progressBar(json: global.json)
        let engine = try Context(global).engine(progress: progress, .existing)
        let info = try engine.snapshot(vm: vm, name: snapshot)
        let start: StartMode = noStart ? .off : (paused ? .paused : .running)

        if let asName {
            let (uuid, notices) = try engine.restoreAsNewVM(vm: vm, snapshot: snapshot, newName: asName, start: start)
            Output.endProgress(progress)
            notices.forEach(Output.notice)
            if global.json {
                Output.json(["vm": asName, "uuid": uuid, "from": "\(vm)/\(snapshot)"])
            } else {
                Output.line("created VM \(asName) (\(uuid)) from snapshot '\(snapshot)' of \(vm)")
            }
            return
        }

        let domainName = try engine.domain(vm).name
        try confirmRestore(engine: engine, info: info, domainName: domainName)
        var options = RestoreOptions()
        options.safetySnapshot = !noSafetySnapshot
        options.target = RestoreTarget(rawValue: start.rawValue) ?? .running
        let showStages = !global.json && isatty(STDERR_FILENO) == 1
        let report = try engine.restore(vm: vm, snapshot: snapshot, options: options) { stage in
            if showStages { FileHandle.standardError.write(Data("\r\u{1B}[K[\(stage.rawValue)]\n".utf8)) }
        }
        Output.endProgress(progress)
        report.notices.forEach(Output.notice)
        if global.json { Output.json(report); return }
        Output.line("restored \(report.vm) to '\(report.snapshot)' (\(report.restoredMemory ? "memory and disks" : "disks"), now \(report.finalState))")
        if let safety = report.safetySnapshot { Output.line("safety snapshot: '\(safety)' (expires in 7 days)") }
        Output.line("stages: " + report.stages.map { "\($0.stage) \(String(format: "%.2f", $0.seconds))s" }.joined(separator: ", "))
        Output.line(String(format: "guest downtime: %.2f s", report.guestDowntimeSeconds))
        if report.guestAgentAnswered == true { Output.line("guest agent: answered a ping") }
    }

    /// The typed-name check. A refusal throws before anything is changed.
    func confirmRestore(engine: SnapshotEngine, info: SnapshotInfo, domainName: String) throws {
        if let confirm {
            guard RestorePlan.confirmationMatches(typed: confirm, vmName: domainName) else {
                throw CommandFailure("--confirm '\(confirm)' does not match the VM name '\(domainName)'; nothing was changed", exitCode: 64)
            }
            return
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CommandFailure("refusing to restore without confirmation: stdin is not a terminal; pass --confirm \(domainName)", exitCode: 64)
        }
        let r = info.record
        let vmRecord = try engine.catalogVM(vm)
        let current = try vmRecord.currentSnapshotID.flatMap { id in try engine.snapshots(vm: vm).1.first { $0.record.id == id } }
        let since = current.map { "changes since \(Output.localTime($0.record.createdAt)) (snapshot '\($0.record.name)')" } ?? "all current state"
        Output.line("WARNING: restoring \(domainName) replaces its current state; current data will be lost.")
        Output.line("  snapshot:  '\(r.name)' created \(Output.localTime(r.createdAt))")
        Output.line("  lost:      \(since)\(noSafetySnapshot ? "" : " (a safety snapshot is taken first)")")
        Output.line("  memory:    \(r.hasMemory && !noStart ? "restored (the guest resumes where it was)" : "not restored (the guest boots from disk)")")
        print("Type VM name to confirm: ", terminator: "")
        fflush(nil)
        let typed = readLine(strippingNewline: true) ?? ""
        guard RestorePlan.confirmationMatches(typed: typed, vmName: domainName) else {
            throw CommandFailure("confirmation '\(typed)' does not match '\(domainName)'; nothing was changed", exitCode: 64)
        }
    }
}
