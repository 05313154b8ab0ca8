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
    /// Seconds after which the command is killed (SIGTERM, then SIGKILL) and counted as failed.
    public var timeout: Double?
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

extension SnapshotEngine {
    /// Snapshot (pinned, labelled `before-change`) → run the command with the terminal → on
    /// failure restore or keep. The VM stays locked throughout, and the whole run is one `guard`
    /// job. `onSnapshot` is called once the snapshot stands, before the command starts.
    public func guardCommand(vm nameOrUUID: String, options: GuardOptions,
                             onSnapshot: ((SnapshotRecord, [String]) -> Void)? = nil) throws(EngineError) -> GuardReport {
        guard let program = options.command.first, !program.isEmpty else {
            throw EngineError(.invalidInput, "guard needs a command after --")
        }
        if let timeout = options.timeout { try TimeoutSpec.validate(timeout, what: "--timeout") }
        let name = options.name ?? "before-change-" + Self.stamp(clock.now())
        try Self.validateName(name)
        let domain = try domain(nameOrUUID)
        let vm = try vmRecord(for: domain)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }

        var report = GuardReport(vm: vm.name, snapshot: name, command: options.command, exitStatus: 0, signalled: false,
                                 timedOut: false, launchError: nil, onFailure: options.onFailure, rolledBack: false,
                                 rollbackError: nil, jobID: nil, notices: [])
        var job = try startJob(kind: "guard", vm: vm, snapshotName: name, journal: Self.encode(report))
        report.jobID = job.id
        func stage(_ text: String) {
            job.stage = text
            job.journal = Self.encode(report)
            let now = job
            _ = try? catalog.write { try $0.update(now) }
        }

        // 1. The snapshot.
        stage("snapshot")
        var createOptions = CreateOptions(name: name)
        createOptions.description = options.description.isEmpty ? "before: \(Bounds.clip(options.command.joined(separator: " "), 200))" : options.description
        createOptions.pin = true
        createOptions.labels = ["before-change"]
        createOptions.quiesce = options.quiesce
        createOptions.fullEvery = 0
        let created: CreateResult
        do {
            created = try nested { () throws(EngineError) in try create(domain: domain, vm: try currentVM(vm), options: createOptions) }
        } catch {
            let failure = EngineError(error.code, "guard snapshot failed: \(error.message); the command was not run")
            finishJob(job, error: failure)
            throw failure
        }
        report.notices += created.notices
        job.snapshotID = created.snapshot.id
        onSnapshot?(created.snapshot, created.notices)

        // 2. The command, with kvmsnap's terminal.
        stage("command")
        do {
            let outcome = try ExternalProcess.run(program, Array(options.command.dropFirst()),
                                                  environment: ["KVMSNAP_VM": vm.name, "KVMSNAP_SNAPSHOT": name],
                                                  captureOutput: false, timeout: options.timeout)
            report.exitStatus = outcome.status
            report.signalled = outcome.wasSignalled
            report.timedOut = outcome.timedOut
        } catch {
            report.exitStatus = 127
            report.launchError = error.reason
        }
        if report.succeeded {
            stage("done")
            finishJob(job, error: nil, note: report.commandResult)
            return report
        }

        // 3. Failure: roll back, or leave the VM for the user.
        var message = report.commandResult
        switch options.onFailure {
        case .keep:
            message += "; VM left as is (snapshot '\(name)' kept)"
        case .restore:
            stage("rollback")
            var restoreOptions = RestoreOptions()
            restoreOptions.safetySnapshot = false
            do {
                let current = try currentVM(vm)
                let restored = try nested { () throws(EngineError) in
                    try restoreLocked(domain: domain, vm: current, snapshotName: name, options: restoreOptions, onStage: nil)
                }
                report.rolledBack = true
                report.notices += restored.notices
                message += "; rolled back to '\(name)'"
            } catch {
                report.rollbackError = error.message
                message += "; ROLLBACK FAILED: \(error.message)"
            }
        }
        stage(report.rolledBack ? "rolled back" : "failed")
        finishJob(job, error: EngineError(.external, message))
        return report
    }

    /// Jobs, newest first, optionally of one VM (name or UUID, also VMs that no longer exist).
    public func jobs(vm: String? = nil, failedOnly: Bool = false, limit: Int = 200) throws(EngineError) -> [JobRecord] {
        let all = try db { () throws(CatalogError) in
            try catalog.read { try $0.jobs(states: failedOnly ? [.failed] : nil) }
        }
        let filtered = all.filter { job in vm == nil || job.vmName == vm || job.vmUUID?.lowercased() == vm?.lowercased() }
        return Array(filtered.prefix(limit))
    }
}

/// Command timeouts: `90` or `90s`, `10min`, `2h` (`m` is refused: in retention it means months);
/// at most `Bounds.maxDurationSeconds` (100 years).
public enum TimeoutSpec {
    public static func parse(_ text: String) throws(EngineError) -> Double {
        let s = text.trimmingCharacters(in: .whitespaces)
        let digits = s.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        let unit = s.dropFirst(digits.count)
        guard let value = Double(digits), value > 0 else {
            throw EngineError(.invalidInput, "bad duration '\(Bounds.clip(text))': expected a positive number with s, min or h, e.g. 30s, 10min, 2h")
        }
        let seconds: Double
        switch unit {
        case "", "s": seconds = value
        case "min": seconds = value * 60
        case "h": seconds = value * 3600
        default:
            throw EngineError(.invalidInput, "bad duration '\(Bounds.clip(text))': unit must be s, min or h (e.g. 30s, 10min, 2h)")
        }
        try validate(seconds, what: "duration '\(Bounds.clip(text))'")
        return seconds
    }

    /// Refuses a timeout that is not positive, not finite or longer than 100 years.
    public static func validate(_ seconds: Double, what: String = "timeout") throws(EngineError) {
        guard seconds > 0, seconds.isFinite else { throw EngineError(.invalidInput, "\(what) must be positive") }
        guard seconds <= Double(Bounds.maxDurationSeconds) else {
            throw EngineError(.invalidInput, "\(what) is too long (at most \(Bounds.maxDurationText))")
        }
    }
}
