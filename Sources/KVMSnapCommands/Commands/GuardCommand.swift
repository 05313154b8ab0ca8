import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine

struct GuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Snapshot a VM (pinned, labelled before-change), run a command, and roll back or keep on failure.",
        discussion: """
            Runs CMD without a shell, with kvmsnap's stdin, stdout and stderr, and exits with its \
            status (128+signal when killed). A non-zero status, a signal or --timeout counts as \
            failure: --on-failure restore restores the snapshot without asking (the flag is the \
            consent); keep (the default) leaves the VM and prints the rollback command. The VM stays \
            locked while CMD runs, so CMD cannot run kvmsnap on the same VM. kvmsnap's own messages \
            go to stderr.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Option(help: "Snapshot name (default before-change-<yyyymmdd-hhmmss>).") var name: String?
    @Option(help: "Snapshot description (default: the command).") var description: String = ""
    @Option(name: .customLong("on-failure"), help: "restore or keep. (default: keep)", transform: GuardFailurePolicy.parser("--on-failure")) var onFailure:
        GuardFailurePolicy = .keep
    @Flag(help: "Freeze guest filesystems for the snapshot (disks only; needs the guest agent).") var quiesce = false
    @Option(help: ArgumentHelp("Kill CMD after this long (30s, 10min, 2h) and treat it as failed.", valueName: "DURATION")) var timeout: String?
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD")) var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. kvmsnap guard VM -- apt-get upgrade") }
        try Self.requireRunnable(command[0])
    }

    /// Refuses a command that cannot be started, before anything (the catalog included) is opened.
    static func requireRunnable(_ program: String) throws {
        guard ExternalProcess.resolve(program) == nil else { return }
        throw ValidationError("cannot run \(program): \(program.contains("/") ? "not an executable file" : "not found in PATH")")
    }

    func run() throws {
        if let name { try SnapshotEngine.validateName(name) }  // before the catalog is opened
        var options = GuardOptions(command: command)
        options.name = name
        options.description = description
        options.onFailure = onFailure
        options.quiesce = quiesce ? .required : .off
        options.timeout = try timeout.map { text throws(SpecError) in try TimeoutSpec.duration(text) }
        let engine = try Context(global).engine(vm: vm)
        let report = try engine.guardCommand(vm: vm, options: options) { snapshot, notices in
            notices.forEach(Output.notice)
            Output.notice("snapshot '\(snapshot.name)' taken (pinned, label before-change); running: \(command.joined(separator: " "))")
        }
        if report.rolledBack { report.notices.forEach(Output.notice) }
        if global.json { Output.json(report) }
        if report.succeeded {
            Output.notice("command succeeded; when you are satisfied, release the snapshot's pin: kvmsnap verified \(report.vm) \(report.snapshot)")
        } else {
            Output.notice("FAILED: \(report.commandResult)")
            if report.rolledBack {
                Output.notice("rolled back: \(report.vm) is restored to '\(report.snapshot)'")
            } else {
                if let error = report.rollbackError { Output.notice("ROLLBACK FAILED: \(error)") }
                Output.notice("VM left as is; to roll back: kvmsnap restore \(report.vm) \(report.snapshot) --confirm \(report.vm)")
            }
        }
        Foundation.exit(report.succeeded ? 0 : (report.exitStatus == 0 ? 1 : report.exitStatus))
    }
}
