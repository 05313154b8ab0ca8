import Foundation
import KVMSnapCore
import SnapshotCatalog

/// When a hook runs.
public enum HookPhase: String, Sendable, CaseIterable, Codable {
    case preSnapshot = "pre-snapshot"
    case postSnapshot = "post-snapshot"
    case preRestore = "pre-restore"
    case postRestore = "post-restore"
    case onFailure = "on-failure"

    var isPre: Bool { self == .preSnapshot || self == .preRestore }
}

extension HookRecord {
    /// The hook's phase, decoded once; nil for a phase this version does not know.
    var hookPhase: HookPhase? { HookPhase(rawValue: phase) }
}

/// What one hook run did.
public struct HookRun: Sendable {
    public var hook: HookRecord
    public var outcome: ExternalProcess.Outcome?
    /// Set when the hook failed: exit status, signal, timeout kill or launch failure.
    public var failure: String?
}

/// The hooks service: the catalog's hook table and running hooks for a job.
///
/// State: none of its own (the hook records live in the catalog). Calls: the catalog and
/// ``ExternalProcess`` only; needs no libvirt connection (the hook list reads it while libvirtd is down).
public struct Hooks: Sendable {
    let catalog: Catalog
    let clock: any EngineClock
    let diagnostics: Diagnostics

    public init(catalog: Catalog, clock: any EngineClock = SystemClock(), diagnostics: Diagnostics = .standardError) {
        self.catalog = catalog
        self.clock = clock
        self.diagnostics = diagnostics
    }

    func add(phase: HookPhase, vm: String?, command: [String], timeout: Duration) throws(EngineError) -> HookRecord {
        guard let program = command.first, !program.isEmpty else { throw EngineError(.invalidInput, "a hook needs a command after --") }
        do { try TimeoutSpec.validate(timeout, what: "hook timeout") } catch { throw EngineError(error) }
        guard ExternalProcess.resolve(program) != nil else {
            throw EngineError(.invalidInput, "hook command \(program) is \(program.contains("/") ? "not an executable file" : "not found in PATH")")
        }
        var record = HookRecord(phase: phase.rawValue, vm: vm, command: command, timeoutSeconds: timeout.seconds, createdAt: clock.now())
        return try withCatalog { () throws(CatalogError) in
            try catalog.write { db in
                try db.insert(&record); return record
            }
        }
    }

    /// Every hook, in id order.
    public func all() throws(EngineError) -> [HookRecord] {
        try withCatalog { () throws(CatalogError) in try catalog.read { try $0.hooks() } }
    }

    func remove(id: Int64) throws(EngineError) {
        let removed = try withCatalog { () throws(CatalogError) in try catalog.write { try $0.deleteHook(id: id) } }
        if !removed { throw EngineError(.notFound, "no hook with id \(id)") }
    }

    /// Runs the hooks of `phase` that apply to the job's VM, in id order, each with its timeout.
    /// A pre-phase stops at the first failure; other phases run every hook.
    func run(_ phase: HookPhase, job: JobRecord, error: String? = nil) -> [HookRun] {
        let all: [HookRecord]
        do { all = try self.all() } catch {
            // As before, no hook runs when the hook table cannot be read; now it is said.
            diagnostics.swallowed("reading the \(phase.rawValue) hooks for job \(job.id ?? 0)", error)
            all = []
        }
        let applicable = all.filter { hook in
            hook.hookPhase == phase && (hook.vm == nil || hook.vm == job.vmName || hook.vm == job.vmUUID)
        }
        var runs: [HookRun] = []
        for hook in applicable {
            let run = Self.run(hook, phase: phase, job: job, error: error)
            runs.append(run)
            if phase.isPre, run.failure != nil { break }
        }
        return runs
    }

    private static func run(_ hook: HookRecord, phase: HookPhase, job: JobRecord, error: String?) -> HookRun {
        var environment = [
            "KVMSNAP_VM": job.vmName ?? "",
            "KVMSNAP_SNAPSHOT": job.snapshotName ?? "",
            "KVMSNAP_KIND": job.kind,
            "KVMSNAP_PHASE": phase.rawValue,
            "KVMSNAP_JOB": job.id.map(String.init) ?? "",
        ]
        if let error { environment["KVMSNAP_ERROR"] = error }
        let label = "\(phase.rawValue) hook \(hook.id ?? 0) (\(Bounds.clip(hook.command.joined(separator: " "), 200)))"
        var run = HookRun(hook: hook)
        do {
            let outcome = try ExternalProcess.run(
                hook.command[0], Array(hook.command.dropFirst()),
                environment: environment, timeout: ExternalProcess.timeout(seconds: hook.timeoutSeconds),
                outputLimit: ExternalProcess.hookOutputLimit)
            run.outcome = outcome
            if outcome.timedOut {
                run.failure = "\(label) was killed after its \(SnapshotEngine.seconds(hook.timeoutSeconds)) timeout"
            } else if outcome.wasSignalled {
                run.failure = "\(label) was killed by signal \(outcome.status - 128)"
            } else if outcome.status != 0 {
                let detail = lastLine(outcome.standardError)
                run.failure = "\(label) failed with exit status \(outcome.status)" + (detail.isEmpty ? "" : ": \(detail)")
            }
        } catch {
            run.failure = "\(label) could not start: \(error.reason)"
        }
        return run
    }

    /// Runs a pre-phase; throws (external) naming the failed hook, so the caller aborts.
    func runPre(_ phase: HookPhase, job: JobRecord) throws(EngineError) {
        if let failed = run(phase, job: job).first(where: { $0.failure != nil }), let failure = failed.failure {
            throw EngineError(.external, failure)
        }
    }

    /// Runs a post-phase; returns the failures as notices (the operation stands).
    func runPost(_ phase: HookPhase, job: JobRecord) -> [String] {
        run(phase, job: job).compactMap(\.failure).map { "\($0); the operation itself succeeded" }
    }

    /// The last line of a hook's output for a one-line message; its last 300 characters at most.
    static func lastLine(_ text: String) -> String {
        let line = String(text.split(whereSeparator: \.isNewline).last ?? "").trimmingCharacters(in: .whitespaces)
        return line.count > 300 ? "…" + line.suffix(300) : line
    }
}

extension SnapshotEngine {
    public static let defaultHookTimeout: Duration = .seconds(600)

    @discardableResult
    public func addHook(phase: HookPhase, vm: String?, command: [String], timeout: Duration = SnapshotEngine.defaultHookTimeout) throws(EngineError)
        -> HookRecord
    {
        try hookService.add(phase: phase, vm: vm, command: command, timeout: timeout)
    }

    public func hooks() throws(EngineError) -> [HookRecord] { try hookService.all() }

    public func removeHook(id: Int64) throws(EngineError) { try hookService.remove(id: id) }

    /// `600 s`, `1.5 s`; any value, also one an old version stored unchecked, formats without trapping.
    public static func seconds(_ value: Double) -> String {
        guard value.isFinite, value.magnitude < 1e15 else { return "\(value) s" }
        return value == value.rounded() ? "\(Int64(value)) s" : String(format: "%.1f s", value)
    }
}
