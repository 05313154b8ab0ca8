import Foundation
import SnapshotCatalog
import Synchronization

/// The job journal service: starts, stages and finishes jobs, leaves them pending, and fires a
/// failed job's on-failure hooks and records its `failed-job` alert (``Alerts``) once.
///
/// State: the set of jobs whose on-failure hooks already ran (lab resets finish jobs from
/// several threads at once, so it sits behind a `Mutex`). Calls: the catalog and ``Hooks``.
/// Whether a job runs nested in another one (its failure reaches the hooks through the outer
/// job) comes from the caller's ``OperationContext``, not from stored state. Needs no libvirt
/// connection: the job list reads it while libvirtd is down (``init(catalog:)``).
public final class JobJournal: Sendable {
    let catalog: Catalog
    let clock: any EngineClock
    let hooks: Hooks
    let diagnostics: Diagnostics
    private let failureHooksFired = Mutex<Set<Int64>>([])

    init(catalog: Catalog, clock: any EngineClock, hooks: Hooks, diagnostics: Diagnostics) {
        self.catalog = catalog
        self.clock = clock
        self.hooks = hooks
        self.diagnostics = diagnostics
    }

    /// A journal over `catalog` alone, for reading it (``list(vm:failedOnly:limit:)``) where no
    /// engine is built.
    public convenience init(catalog: Catalog) {
        let clock = SystemClock()
        self.init(catalog: catalog, clock: clock, hooks: Hooks(catalog: catalog, clock: clock), diagnostics: .standardError)
    }

    /// Jobs, newest first, optionally of one VM (name or UUID, also VMs that no longer exist).
    public func list(vm: String? = nil, failedOnly: Bool = false, limit: Int = 200) throws(EngineError) -> [JobRecord] {
        let all = try withCatalog { () throws(CatalogError) in
            try catalog.read { try $0.jobs(states: failedOnly ? [.failed] : nil) }
        }
        let filtered = all.filter { job in vm == nil || job.vmName == vm || job.vmUUID?.lowercased() == vm?.lowercased() }
        return Array(filtered.prefix(limit))
    }

    /// Starts a job of `vm`. Only with the VM's lock held, kept until the job ends: recovery,
    /// which takes that lock, relies on it to tell a dead owner from a live one.
    func start(
        kind: JobKind, vm: VMRecord, snapshotID: String? = nil, snapshotName: String? = nil,
        journal: String? = nil
    ) throws(EngineError) -> JobRecord {
        var job = JobRecord(
            kind: kind, vmUUID: vm.uuid, vmName: vm.name, snapshotID: snapshotID, snapshotName: snapshotName,
            state: JobState.running, startedAt: clock.now(), pid: getpid())
        job.journal = journal
        return try withCatalog { () throws(CatalogError) in
            try catalog.write { db in
                try db.insert(&job); return job
            }
        }
    }

    /// Writes a job's stage, progress or journal; a failure is thrown.
    func update(_ job: JobRecord) throws(EngineError) {
        try withCatalog { () throws(CatalogError) in try catalog.write { try $0.update(job) } }
    }

    /// Writes a job's stage where the operation goes on regardless (a progress mark): a failure
    /// is reported to the diagnostics instead of aborting the operation.
    func note(_ job: JobRecord, _ what: String) {
        do { try update(job) } catch { diagnostics.swallowed("recording \(what) of job \(job.id ?? 0) (\(job.kind))", error) }
    }

    /// Journals a failure that happened without the VM's lock (e.g. it could not be taken): the
    /// job is written failed at once, never running, so no recovery can take it for a dead one.
    func recordFailed(kind: JobKind, vm: VMRecord, error: EngineError) {
        var job = JobRecord(kind: kind, vmUUID: vm.uuid, vmName: vm.name, state: JobState.failed, startedAt: clock.now(), pid: getpid())
        job.error = error.message
        do {
            try withCatalog { () throws(CatalogError) in try catalog.write { db in try db.insert(&job) } }
        } catch {
            diagnostics.swallowed("recording the failed \(kind.rawValue) job of \(vm.name)", error)
            return
        }
        finish(job, error: error)
    }

    /// Marks a job finished. A failed top-level job runs the on-failure hooks, once per job.
    func finish(_ job: JobRecord, error: EngineError?, note: String? = nil) {
        var job = job
        job.state = error == nil ? .succeeded : .failed
        job.error = error?.message
        job.endedAt = clock.now()
        job.progress = error == nil ? 1 : job.progress
        if let note { job.note = [job.note, note].compactMap { $0 }.joined(separator: "; ") }
        self.note(job, "the end")
        guard let error, OperationContext.nesting == 0, let id = job.id, claimFailureHooks(id) else { return }
        // The alert is in the outbox before the hooks run: a kill during a hook still leaves it to deliver.
        Alerts(catalog: catalog, clock: clock, diagnostics: diagnostics).failedJob(job, error: error)
        let failures = hooks.run(.onFailure, job: job, error: error.message).compactMap(\.failure)
        if !failures.isEmpty {
            job.note = [job.note, failures.joined(separator: "; ")].compactMap { $0 }.joined(separator: "; ")
            self.note(job, "the on-failure hook failures")
        }
    }

    /// Leaves a restore or revert that libvirt cut short `pending`: nothing can be decided or
    /// undone without libvirt, so the next command on the VM finishes it.
    func markPending(_ job: JobRecord, _ message: String) throws(EngineError) {
        var job = job
        job.state = .pending
        job.error = message
        try update(job)
    }

    /// The jobs of a VM that are not over (`running` or `pending`), for recovery.
    func unfinished(vmUUID: String, limit: Int? = nil) throws(EngineError) -> [JobRecord] {
        try withCatalog { () throws(CatalogError) in
            try catalog.read { try $0.jobs(vmUUID: vmUUID, states: [.running, .pending], limit: limit) }
        }
    }

    /// Marks job `id`'s on-failure hooks as fired; false when they already were.
    private func claimFailureHooks(_ id: Int64) -> Bool {
        failureHooksFired.withLock { $0.insert(id).inserted }
    }
}

/// Per-operation state that travels with the call (a task-local value, also on plain threads),
/// never in the engine's stored properties: safe when several operations run at once.
enum OperationContext {
    /// > 0 while an operation runs inside another one's job (guard's snapshot and restore, a
    /// restore's safety snapshot): their failures reach on-failure hooks through the outer job.
    @TaskLocal static var nesting = 0

    /// Runs `body` as part of an enclosing job.
    static func nested<T>(_ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        let result = $nesting.withValue(nesting + 1) { Result { () throws(EngineError) in try body() } }
        return try result.get()
    }
}

/// Converts a catalog failure into the engine's error.
func withCatalog<T>(_ body: () throws(CatalogError) -> T) throws(EngineError) -> T {
    do { return try body() } catch {
        // An engine error thrown inside a transaction body (e.g. notFound) stays what it was.
        if let own = error.underlying as? EngineError { throw own }
        throw EngineError(.catalog, error.message)
    }
}
