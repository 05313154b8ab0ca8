import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

public enum GuardFailurePolicy: String, Sendable, Codable, CaseIterable {
    /// Restore the snapshot (memory included when it has memory); the flag is the consent.
    case restore
    /// Leave the VM as the command left it; the report carries the rollback command.
    case keep
}

public struct GuardOptions: Sendable {
    public var command: [String]
    /// Snapshot name; default `before-change-<yyyymmdd-hhmmss>`.
    public var name: String?
    public var description = ""
    public var onFailure: GuardFailurePolicy = .keep
    public var quiesce: QuiesceMode = .off
    /// After this long the command is killed (SIGTERM, then SIGKILL) and counted as failed.
    public var timeout: Duration?
    public init(command: [String]) { self.command = command }
}

/// What `guard` did; also the details kept in the guard job's journal.
public struct GuardReport: Sendable, Codable {
    public var vm: String
    public var snapshot: String
    public var command: [String]
    /// The command's exit status, 128 + signal when it was killed, 127 when it could not start.
    public var exitStatus: Int32
    public var signalled: Bool
    public var timedOut: Bool
    public var launchError: String?
    public var onFailure: GuardFailurePolicy
    /// True when the VM was restored to the snapshot after the command failed.
    public var rolledBack: Bool
    public var rollbackError: String?
    public var jobID: Int64?
    public var notices: [String]

    public var succeeded: Bool { exitStatus == 0 && !signalled && !timedOut && launchError == nil }

    /// One line saying how the command ended.
    public var commandResult: String {
        let shown = Bounds.clip(command.joined(separator: " "), 200)
        if let launchError { return "command '\(shown)' could not start: \(launchError)" }
        if timedOut { return "command '\(shown)' was killed after its timeout (status \(exitStatus))" }
        if signalled { return "command '\(shown)' was killed by signal \(exitStatus - 128)" }
        return "command '\(shown)' exited with status \(exitStatus)"
    }
}

/// The guard service: snapshot (pinned, labelled `before-change`) → run a command with the
/// terminal → on failure restore the snapshot or keep the VM, all as one `guard` job.
///
/// State: none of its own; the run's report travels in a value and is the job's journal. A
/// value built per call by the engine (``SnapshotEngine/guardService``), reading the engine's
/// configuration at each step. Calls: ``Capture`` (the snapshot), ``Restorer`` (the rollback),
/// ``JobJournal``, ``ExternalProcess`` (the command). The caller resolves the VM and holds its lock.
struct Guard: EngineService, Sendable {
    let restorer: Restorer

    var connection: Connection { restorer.connection }
    var catalog: Catalog { restorer.catalog }
    var configuration: EngineConfiguration { restorer.configuration }
    var clock: any EngineClock { configuration.clock }
    var jobJournal: JobJournal { restorer.jobJournal }
    var capture: Capture { restorer.capture }

    /// The guard itself (documented at ``SnapshotEngine/guardCommand(vm:options:onSnapshot:)``);
    /// the caller checked the options and holds the VM's lock.
    func run(
        domain: Domain, vm: VMRecord, options: GuardOptions,
        onSnapshot: ((SnapshotRecord, [String]) -> Void)?
    ) throws(EngineError) -> GuardReport {
        guard let program = options.command.first else { throw EngineError(.invalidInput, "guard needs a command after --") }
        // The default name is chosen under the lock, so two guards in the same second differ.
        let name: String
        if let given = options.name { name = given } else { name = try uniqueName("before-change-" + SnapshotEngine.stamp(clock.now()), vm: vm) }

        var report = GuardReport(
            vm: vm.name, snapshot: name, command: options.command, exitStatus: 0, signalled: false,
            timedOut: false, launchError: nil, onFailure: options.onFailure, rolledBack: false,
            rollbackError: nil, jobID: nil, notices: [])
        // The guard job is written once the snapshot passed its checks (right before the create
        // job): a refused guard leaves no job behind.
        var started: JobRecord?
        func stage(_ stage: GuardStage) {
            guard var job = started else { return }
            job.stage = stage.rawValue
            job.journal = SnapshotEngine.encode(report)
            started = job
            jobJournal.note(job, "guard stage \(stage.rawValue)")
        }
        func finish(_ error: EngineError?, note: String? = nil) {
            if let job = started { jobJournal.finish(job, error: error, note: note) }
        }

        // 1. The snapshot.
        let createOptions = Self.guardSnapshotOptions(options, name: name)
        let created: CreateResult
        do {
            created = try OperationContext.nested { () throws(EngineError) in
                try capture.create(domain: domain, vm: try currentVM(vm), options: createOptions) { () throws(EngineError) in
                    started = try jobJournal.start(kind: .guard, vm: vm, snapshotName: name, journal: SnapshotEngine.encode(report))
                    report.jobID = started?.id
                    stage(.snapshot)
                }
            }
        } catch {
            let failure = EngineError(error.code, "guard snapshot \(started == nil ? "refused" : "failed"): \(error.message); the command was not run")
            finish(failure)
            throw failure
        }
        report.notices += created.notices
        started?.snapshotID = created.snapshot.id
        onSnapshot?(created.snapshot, created.notices)

        // 2. The command, with kvmsnap's terminal.
        stage(.command)
        Self.runGuarded(program, options: options, vm: vm, snapshot: name, into: &report)
        if report.succeeded {
            stage(.done)
            finish(nil, note: report.commandResult)
            return report
        }

        // 3. Failure: roll back, or leave the VM for the user.
        var message = report.commandResult
        switch options.onFailure {
        case .keep:
            message += "; VM left as is (snapshot '\(name)' kept)"
        case .restore:
            stage(.rollback)
            message += "; " + rollBackGuard(domain: domain, vm: vm, snapshot: name, report: &report)
        }
        stage(report.rolledBack ? .rolledBack : .failed)
        finish(EngineError(.external, message))
        return report
    }

    /// The guard's snapshot: pinned, labelled `before-change`, never an automatic full.
    static func guardSnapshotOptions(_ options: GuardOptions, name: String) -> CreateOptions {
        var createOptions = CreateOptions(name: name)
        createOptions.description = options.description.isEmpty ? "before: \(Bounds.clip(options.command.joined(separator: " "), 200))" : options.description
        createOptions.pin = true
        createOptions.labels = ["before-change"]
        createOptions.quiesce = options.quiesce
        createOptions.fullEvery = 0
        return createOptions
    }

    /// Runs the guarded command with kvmsnap's terminal; records how it ended in `report`.
    static func runGuarded(_ program: String, options: GuardOptions, vm: VMRecord, snapshot: String, into report: inout GuardReport) {
        do {
            let outcome = try ExternalProcess.run(
                program, Array(options.command.dropFirst()),
                environment: ["KVMSNAP_VM": vm.name, "KVMSNAP_SNAPSHOT": snapshot],
                captureOutput: false, timeout: options.timeout)
            report.exitStatus = outcome.status
            report.signalled = outcome.wasSignalled
            report.timedOut = outcome.timedOut
        } catch {
            report.exitStatus = 127
            report.launchError = error.reason
        }
    }

    /// Restores the guard's snapshot after the command failed (`--on-failure restore`); returns
    /// what happened, for the job's message.
    func rollBackGuard(domain: Domain, vm: VMRecord, snapshot name: String, report: inout GuardReport) -> String {
        var restoreOptions = RestoreOptions()
        restoreOptions.safetySnapshot = false
        do {
            let current = try currentVM(vm)
            let restored = try OperationContext.nested { () throws(EngineError) in
                try restorer.restore(domain: domain, vm: current, snapshotName: name, options: restoreOptions, onStage: nil)
            }
            report.rolledBack = true
            report.notices += restored.notices
            return "rolled back to '\(name)'"
        } catch {
            report.rollbackError = error.message
            return "ROLLBACK FAILED: \(error.message)"
        }
    }

    /// A guard whose process died: the pinned snapshot stays, and the job says how to roll back.
    func recover(_ job: JobRecord, vm: VMRecord, domain: Domain?) throws(EngineError) -> RecoveryOutcome {
        try restorer.layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
        let snapshot = job.snapshotName.map { "'\($0)'" } ?? "its pinned snapshot"
        return .abandoned(
            "interrupted (kvmsnap process \(job.pid) died) while the guarded command ran; \(snapshot) stays pinned: run 'kvmsnap restore \(vm.name) "
                + "\(job.snapshotName ?? "SNAP") --confirm \(vm.name)' if the change went wrong"
        )
    }
}

extension SnapshotEngine {
    /// The guard service, reading the engine's configuration as it is at each step.
    var guardService: Guard { Guard(restorer: restorer) }

    /// Snapshot (pinned, labelled `before-change`) → run the command with the terminal → on
    /// failure restore or keep. The VM stays locked throughout, and the whole run is one `guard`
    /// job. `onSnapshot` is called once the snapshot stands, before the command starts.
    public func guardCommand(
        vm nameOrUUID: String, options: GuardOptions,
        onSnapshot: ((SnapshotRecord, [String]) -> Void)? = nil
    ) throws(EngineError) -> GuardReport {
        guard let program = options.command.first, !program.isEmpty else {
            throw EngineError(.invalidInput, "guard needs a command after --")
        }
        // Before the snapshot: a command that cannot start would only leave a pinned snapshot.
        guard ExternalProcess.resolve(program) != nil else {
            throw EngineError(
                .invalidInput, "cannot run \(program): \(program.contains("/") ? "not an executable file" : "not found in PATH"); nothing was done")
        }
        if let timeout = options.timeout {
            do { try TimeoutSpec.validate(timeout, what: "--timeout") } catch { throw EngineError(error) }
        }
        if let name = options.name { try Self.validateName(name) }
        let domain = try domain(nameOrUUID)
        let vm = try vmRecord(for: domain)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try guardService.run(domain: domain, vm: vm, options: options, onSnapshot: onSnapshot)
    }
}
