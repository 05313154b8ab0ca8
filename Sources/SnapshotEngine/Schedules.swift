import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

/// What `run-due` did for one VM whose effective policy has a schedule.
public struct ScheduledRun: Sendable {
    public enum Outcome: String, Sendable, Encodable {
        /// A snapshot was taken for the slot (and the VM pruned).
        case snapshot
        /// The latest slot was already handled.
        case upToDate = "up-to-date"
        /// The schedule has no slot at or before now within the search window.
        case noSlot = "no-slot"
        /// The VM is in the catalog but no longer defined in libvirt: skipped, not a failure.
        case missing
        /// Something failed; recorded as a failed `run-due` job.
        case failed
    }
    public var vm: String
    public var vmUUID: String
    public var schedule: String
    /// The latest slot at or before now.
    public var slot: Date?
    public var outcome: Outcome
    public var snapshotName: String?
    /// Snapshots the prune after the capture deleted.
    public var pruned: [String] = []
    /// The send to the policy's vault (nil: no vault, or the vault held the snapshot already).
    public var sent: SendReport?
    /// Vault snapshots the vault prune after the send deleted.
    public var vaultPruned: [String] = []
    /// Why it failed or was skipped, or a notice.
    public var message: String?
    /// The scheduled drill (`policy set --drill`), nil without one.
    public var drill: ScheduledDrill? = nil

    /// The snapshot part failed, or the drill could not run or did not pass.
    public var hasFailed: Bool { outcome == .failed || drill?.hasFailed == true }
}

/// What `run-due` did about one VM's drill schedule.
public struct ScheduledDrill: Sendable {
    public enum Outcome: String, Sendable, Encodable {
        /// A drill ran for the slot (its report says whether it passed).
        case drilled
        case upToDate = "up-to-date"
        case noSlot = "no-slot"
        /// The drill could not run (retried by the next run-due).
        case failed
    }
    public var schedule: String
    public var slot: Date?
    public var outcome: Outcome
    public var report: DrillRecord?
    public var message: String?

    public var hasFailed: Bool { outcome == .failed || report?.passed == false }
}

public struct RunDueReport: Sendable {
    public var now: Date
    /// One entry per catalog VM with a scheduled effective policy, by VM name.
    public var runs: [ScheduledRun]
    /// Wall-clock seconds the run took.
    public var duration: Double
    public var failed: [ScheduledRun] { runs.filter(\.hasFailed) }
}

public enum RunDueOutcome: Sendable {
    case ran(RunDueReport)
    /// Another run-due holds `<store>/locks/run-due.lock`; nothing was done.
    case alreadyRunning
}

/// `now` given to run-due plus the real time elapsed since, so snapshots and jobs carry the
/// injected time in tests and the real time in production.
struct ShiftedClock: EngineClock {
    let base: Date
    /// Elapsed time is measured on the monotonic clock: a wall-clock step does not shift it.
    let realStart: ContinuousClock.Instant
    func now() -> Date { base.addingTimeInterval((ContinuousClock.now - realStart).seconds) }
}

/// What a scheduled run needs from the rest of the engine, with the run's shifted clock: the
/// job journal, the VM's lock (which finishes a dead job first), a capture and a prune under it.
protocol ScheduledRunSteps {
    var jobJournal: JobJournal { get }
    func lockVM(_ vm: VMRecord, domain: Domain?, wait: Duration?) throws(EngineError) -> VMLock
    func create(
        domain: Domain, vm: VMRecord, options: CreateOptions,
        willStart: (() throws(EngineError) -> Void)?
    ) throws(EngineError) -> CreateResult
    func pruneLocked(vm: VMRecord, domain: Domain?, policyOverride: RetentionPolicy?, now: Date) throws(EngineError) -> PruneResult
    func currentVM(_ vm: VMRecord) throws(EngineError) -> VMRecord
    func sendHoldingLock(vm: VMRecord, snapshotName: String, vaultName: String, ifAbsent: Bool) throws(EngineError) -> SendReport?
    func pruneVault(_ name: String, vm: String?, policy: RetentionPolicy, dryRun: Bool) throws(EngineError) -> [VaultPruneResult]
    /// A drill of the VM under its lock (``SnapshotEngine/drill(vm:options:)``).
    func drillLocking(vm: VMRecord, options: DrillOptions) throws(EngineError) -> DrillRecord
}

/// The schedules service: `run-due`, which takes the snapshots a VM's policy schedule says are
/// due and prunes after each, one run at a time.
///
/// State: none of its own; the last slot per VM is the catalog's schedule state. A value built
/// per call from the engine's configuration (``SnapshotEngine/schedules``). Calls: ``Policies``,
/// ``CatalogVMs``, ``JobJournal``, and through ``ScheduledRunSteps`` the engine's lock, capture
/// and prune (``Retention``).
struct Schedules: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let configuration: EngineConfiguration
    let journal: JobJournal

    var store: StoreLayout { configuration.store }
    var policies: Policies { Policies(catalog: catalog, clock: configuration.clock) }

    /// The snapshot name for a slot: `auto-YYYYMMDD-HHMM` in the slot's local time.
    static func snapshotName(slot: Date, timeZone: TimeZone) -> String {
        let local = CronSchedule.localSeconds(slot, timeZone: timeZone)
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let sod = local - days * 86_400
        let c = CivilTime.civilFromDays(days)
        func pad(_ v: Int64, _ n: Int) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "auto-\(pad(c.year, 4))\(pad(c.month, 2))\(pad(c.day, 2))-\(pad(sod / 3600, 2))\(pad(sod / 60 % 60, 2))"
    }

    /// The body of ``SnapshotEngine/runDue(now:timeZone:)`` (documented there). `makeSteps` gives
    /// the engine's steps with the run's clock: `now` plus the real time elapsed since the call.
    func runDue(
        now: Date, timeZone: TimeZone,
        steps makeSteps: (EngineConfiguration) -> some ScheduledRunSteps
    ) throws(EngineError) -> RunDueOutcome {
        let realStart = ContinuousClock.now
        try store.prepareLocks()
        let lock: VMLock
        do {
            lock = try VMLock(path: store.runDueLockPath, wait: .zero) { "another run-due is running" }
        } catch  where error.code == .busy {
            return .alreadyRunning
        }
        defer { withExtendedLifetime(lock) {} }
        try inject(.runDueLocked)

        var shifted = configuration
        shifted.clock = ShiftedClock(base: now, realStart: realStart)
        let steps = makeSteps(shifted)
        let schedules = Schedules(connection: connection, catalog: catalog, configuration: shifted, journal: steps.jobJournal)

        var runs: [ScheduledRun] = []
        for vm in try CatalogVMs(catalog: catalog).all() {
            if var run = schedules.run(vm: vm, now: now, timeZone: timeZone, steps: steps) {
                run.drill = schedules.drillRun(vm: vm, now: now, timeZone: timeZone, steps: steps)
                runs.append(run)
            }
        }
        // After this run's snapshots: a VM whose newest restore point is still too old alerts
        // (once per staleness episode; the commands deliver the outbox).
        Alerts(catalog: catalog, clock: shifted.clock, diagnostics: configuration.diagnostics).checkStaleness(now: shifted.clock.now())
        return .ran(RunDueReport(now: now, runs: runs, duration: (ContinuousClock.now - realStart).seconds))
    }

    /// One VM's part of ``runDue(now:timeZone:steps:)``; nil when its policy has no schedule.
    func run(vm: VMRecord, now: Date, timeZone: TimeZone, steps: some ScheduledRunSteps) -> ScheduledRun? {
        let effective: EffectivePolicy?
        do { effective = try policies.effective(vmUUID: vm.uuid) } catch {
            return failed(ScheduledRun(vm: vm.name, vmUUID: vm.uuid, schedule: "?", outcome: .failed), error)
        }
        guard let policy = effective?.policy, let expression = policy.schedule else { return nil }
        var run = ScheduledRun(vm: vm.name, vmUUID: vm.uuid, schedule: expression, outcome: .failed)
        let cron: CronSchedule
        do { cron = try policy.cron()! } catch { return failed(run, error) }

        guard let slot = cron.lastSlot(atOrBefore: now, timeZone: timeZone) else {
            run.outcome = .noSlot
            return run
        }
        run.slot = slot
        let state: ScheduleStateRecord?
        do { state = try db { () throws(CatalogError) in try catalog.read { try $0.scheduleState(vmUUID: vm.uuid) } } } catch {
            return failed(run, error)
        }
        if let last = state?.lastSlot, last >= slot {
            run.outcome = .upToDate
            return run
        }
        let domain: Domain
        do {
            domain = try connection.lookupDomain(uuid: vm.uuid)
        } catch {
            if error.code == .noDomain {
                run.outcome = .missing
                run.message = "VM \(vm.name) (\(vm.uuid)) is no longer defined in libvirt; skipped"
                return run
            }
            return failed(run, EngineError(.libvirt, "cannot look up VM \(vm.name): \(error.message)"))
        }

        let name = Self.snapshotName(slot: slot, timeZone: timeZone)
        run.snapshotName = name
        // The VM's lock before the job: a job marked running is always held by its live owner,
        // so recovery (which takes this lock) never mistakes this run for a dead one.
        let job: JobRecord, lock: VMLock
        do {
            lock = try steps.lockVM(vm, domain: domain, wait: nil)
            job = try journal.start(kind: .runDue, vm: vm, snapshotName: name)
        } catch { return failed(run, error) }
        defer { withExtendedLifetime(lock) {} }
        do {
            try inject(.runDueStarted)
            let existing = try db { () throws(CatalogError) in try catalog.read { try $0.snapshot(vmUUID: vm.uuid, name: name) } }
            if let existing, existing.state == .ready {
                run.message = "snapshot '\(name)' already exists; not taken again"
            } else {
                var options = CreateOptions(name: name)
                options.description = "scheduled (\(expression))"
                options.labels = ["scheduled"]
                if let fullEvery = policy.fullEvery { options.fullEvery = fullEvery }
                options.quiesce = policy.quiesce ?? .off
                let created = try steps.create(domain: domain, vm: vm, options: options, willStart: nil)
                if !created.notices.isEmpty { run.message = created.notices.joined(separator: "; ") }
            }
            let record = ScheduleStateRecord(vmUUID: vm.uuid, lastSlot: slot, updatedAt: configuration.clock.now())
            try db { () throws(CatalogError) in try catalog.write { try $0.save(record) } }
            run.outcome = .snapshot
            if !policy.retention.isEmpty {
                run.pruned = try steps.pruneLocked(vm: try steps.currentVM(vm), domain: domain, policyOverride: nil, now: configuration.clock.now()).deleted
            }
            // Phase 2: the vault. A failed send fails the run (the local snapshot stays).
            if let vaultName = policy.vault {
                run.sent = try steps.sendHoldingLock(vm: vm, snapshotName: name, vaultName: vaultName, ifAbsent: true)
                if let keep = policy.vaultRetention, !keep.isEmpty {
                    run.vaultPruned = try steps.pruneVault(vaultName, vm: vm.uuid, policy: keep, dryRun: false).flatMap { $0.plan.pruned.map(\.name) }
                }
            }
            journal.finish(job, error: nil)
        } catch {
            journal.finish(job, error: error)
            run.outcome = .failed
            run.message = error.message
        }
        return run
    }

    /// The drill part of a VM's run: when the drill schedule's latest slot is newer than the one
    /// stored, drills the newest ready snapshot (the checks: running, and the agent when the
    /// snapshot's VM has an agent channel). The slot is stored once the drill ran, passed or not;
    /// a drill that could not run is tried again by the next run-due.
    func drillRun(vm: VMRecord, now: Date, timeZone: TimeZone, steps: some ScheduledRunSteps) -> ScheduledDrill? {
        guard let policy = try? policies.effective(vmUUID: vm.uuid)?.policy, let expression = policy.drill else { return nil }
        var drill = ScheduledDrill(schedule: expression, outcome: .failed)
        do throws(EngineError) {
            guard let slot = try policy.drillCron()?.lastSlot(atOrBefore: now, timeZone: timeZone) else {
                drill.outcome = .noSlot
                return drill
            }
            drill.slot = slot
            let state = try db { () throws(CatalogError) in try catalog.read { try $0.drillScheduleState(vmUUID: vm.uuid) } }
            if let last = state?.lastSlot, last >= slot {
                drill.outcome = .upToDate
                return drill
            }
            var options = DrillOptions()
            options.checkAgentWhenConfigured = true
            drill.report = try steps.drillLocking(vm: vm, options: options)
            drill.outcome = .drilled
            let record = DrillScheduleStateRecord(vmUUID: vm.uuid, lastSlot: slot, updatedAt: configuration.clock.now())
            try db { () throws(CatalogError) in try catalog.write { try $0.save(record) } }
        } catch {
            drill.message = error.message
        }
        return drill
    }

    /// Marks the run failed and records a failed `run-due` job for it.
    private func failed(_ run: ScheduledRun, _ error: EngineError) -> ScheduledRun {
        var run = run
        run.outcome = .failed
        run.message = error.message
        do {
            if let vm = try db({ () throws(CatalogError) in try catalog.read { try $0.vm(uuid: run.vmUUID) } }) {
                journal.recordFailed(kind: .runDue, vm: vm, error: error)
            }
        } catch let readError {
            configuration.diagnostics.swallowed("recording the failed run-due job of \(run.vm)", readError)
        }
        return run
    }
}

extension SnapshotEngine: ScheduledRunSteps {
    func drillLocking(vm: VMRecord, options: DrillOptions) throws(EngineError) -> DrillRecord {
        let lock = try lockVM(vm, domain: try? connection.lookupDomain(uuid: vm.uuid), wait: nil)
        defer { withExtendedLifetime(lock) {} }
        return try drills.run(vm: vm, options: options)
    }

    /// The schedules service, with the configuration as it is now.
    var schedules: Schedules { Schedules(connection: connection, catalog: catalog, configuration: configuration, journal: jobJournal) }

    /// The snapshot name for a slot: `auto-YYYYMMDD-HHMM` in the slot's local time.
    public static func scheduledSnapshotName(slot: Date, timeZone: TimeZone) -> String {
        Schedules.snapshotName(slot: slot, timeZone: timeZone)
    }

    /// Takes the snapshots that are due at `now` and prunes after each.
    ///
    /// For every VM in the catalog whose effective policy (its own, else the default) has a
    /// schedule: the latest slot ≤ `now` (local time of `timeZone`) is compared with the slot
    /// stored in `scheduleState`; when it is newer, a snapshot `auto-YYYYMMDD-HHMM` (the slot's
    /// local time) is taken, the slot stored, and the VM pruned with its policy. Only the latest
    /// slot runs, however many were missed; a slot runs once (a second call does nothing). The
    /// first run for a VM takes the latest slot at once (like systemd's `Persistent=true`).
    ///
    /// Runs are serialised by a non-blocking `flock` on `<store>/locks/run-due.lock`: when
    /// another run holds it, this returns `.alreadyRunning` at once. A VM no longer defined in
    /// libvirt is skipped (`missing`). A failure is recorded as a failed `run-due` job and does
    /// not stop the other VMs; a failed capture is retried by the next run. Snapshots and jobs
    /// carry `now` plus the real time elapsed since the call.
    public func runDue(now: Date, timeZone: TimeZone = .current) throws(EngineError) -> RunDueOutcome {
        try schedules.runDue(now: now, timeZone: timeZone) { shifted in
            SnapshotEngine(connection: connection, catalog: catalog, configuration: shifted)
        }
    }
}
