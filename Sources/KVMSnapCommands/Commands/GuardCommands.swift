import ArgumentParser
import Foundation
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
    @Option(name: .customLong("on-failure"), help: "restore or keep.") var onFailure: String = "keep"
    @Flag(help: "Freeze guest filesystems for the snapshot (disks only; needs the guest agent).") var quiesce = false
    @Option(help: ArgumentHelp("Kill CMD after this long (30s, 10min, 2h) and treat it as failed.", valueName: "DURATION")) var timeout: String?
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD")) var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. kvmsnap guard VM -- apt-get upgrade") }
        if GuardFailurePolicy(rawValue: onFailure) == nil { throw ValidationError("--on-failure must be restore or keep") }
        try Self.requireRunnable(command[0])
    }

    /// Refuses a command that cannot be started, before anything (the catalog included) is opened.
    static func requireRunnable(_ program: String) throws {
        guard ExternalProcess.resolve(program) == nil else { return }
        throw ValidationError("cannot run \(program): \(program.contains("/") ? "not an executable file" : "not found in PATH")")
    }

    func run() throws {
        if let name { try SnapshotEngine.validateName(name) }   // before the catalog is opened
        var options = GuardOptions(command: command)
        options.name = name
        options.description = description
        options.onFailure = GuardFailurePolicy(rawValue: onFailure) ?? .keep
        options.quiesce = quiesce ? .required : .off
        options.timeout = try timeout.map { text throws(EngineError) in try TimeoutSpec.parse(text) }
        let engine = try Context(global).engine()
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

struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Commands kvmsnap runs before/after snapshots and restores, and when a job fails.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a hook (no shell; env KVMSNAP_VM, _SNAPSHOT, _KIND, _PHASE, _JOB, and _ERROR for on-failure).",
            discussion: "A failing pre- hook aborts the operation with nothing changed; a failing post- hook is reported and the operation stands. A hook killed by its timeout counts as failed.")
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("pre-snapshot, post-snapshot, pre-restore, post-restore or on-failure.", valueName: "PHASE")) var phase: String
        @Option(help: "Only for this VM (name or UUID); default every VM.") var vm: String?
        @Option(help: ArgumentHelp("Kill the hook after this long (30s, 10min, 2h; default 10min).", valueName: "DURATION")) var timeout: String?
        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD")) var command: [String] = []

        func validate() throws {
            if HookPhase(rawValue: phase) == nil {
                throw ValidationError("--phase must be one of \(HookPhase.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if command.isEmpty { throw ValidationError("give the hook's command after --") }
            try GuardCommand.requireRunnable(command[0])
        }

        func run() throws {
            let seconds = try timeout.map { text throws(EngineError) in try TimeoutSpec.parse(text) } ?? SnapshotEngine.defaultHookTimeout
            let hook = try Context(global).engine().addHook(phase: HookPhase(rawValue: phase)!, vm: vm, command: command, timeout: seconds)
            if global.json { Output.json(HookJSON(hook)); return }
            Output.line("added hook \(hook.id ?? 0): \(phase)\(vm.map { " for \($0)" } ?? "") runs \(command.joined(separator: " "))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List hooks.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let hooks = try Context(global).engine(.read).hooks()
            if global.json { Output.json(hooks.map(HookJSON.init)); return }
            Output.table(["ID", "PHASE", "VM", "TIMEOUT", "COMMAND"], hooks.map { hook in
                [String(hook.id ?? 0), hook.phase, hook.vm ?? "(all)", SnapshotEngine.seconds(hook.timeoutSeconds), hook.command.joined(separator: " ")]
            })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a hook.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Hook id (see hook list).") var id: Int64
        func run() throws {
            try Context(global).engine(.existing).removeHook(id: id)
            if !global.json { Output.line("removed hook \(id)") }
        }
    }
}

struct HookJSON: Encodable {
    var id: Int64?
    var phase: String
    var vm: String?
    var command: [String]
    var timeoutSeconds: Double
    init(_ hook: HookRecord) {
        id = hook.id; phase = hook.phase; vm = hook.vm; command = hook.command; timeoutSeconds = hook.timeoutSeconds
    }
}

struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List kvmsnap's jobs, newest first.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this VM (name or UUID).") var vm: String?
    @Flag(help: "Only failed jobs.") var failed = false

    func run() throws {
        let jobs = try Context(global).engine(.read).jobs(vm: vm, failedOnly: failed)
        if global.json { Output.json(jobs.map(JobJSON.init)); return }
        Output.table(["ID", "KIND", "VM", "SNAPSHOT", "STATE", "STARTED", "DURATION", "ERROR"], jobs.map { job in
            [String(job.id ?? 0), job.kind, job.vmName ?? "-", job.snapshotName ?? "-", job.state.rawValue,
             Output.localTime(job.startedAt), JobJSON.duration(job).map { String(format: "%.1fs", $0) } ?? "-",
             job.error ?? job.note ?? ""]
        })
    }
}

struct JobJSON: Encodable {
    var id: Int64?
    var kind: String
    var vm: String?
    var vmUUID: String?
    var snapshot: String?
    var state: String
    var stage: String?
    var startedAt: Date
    var endedAt: Date?
    var durationSeconds: Double?
    var error: String?
    var note: String?
    /// The job's journal (JSON text): for guard, the command, its status and the rollback.
    var details: String?

    init(_ job: JobRecord) {
        id = job.id; kind = job.kind; vm = job.vmName; vmUUID = job.vmUUID; snapshot = job.snapshotName
        state = job.state.rawValue; stage = job.stage; startedAt = job.startedAt; endedAt = job.endedAt
        durationSeconds = Self.duration(job); error = job.error; note = job.note; details = job.journal
    }

    static func duration(_ job: JobRecord) -> Double? { job.endedAt.map { $0.timeIntervalSince(job.startedAt) } }
}
