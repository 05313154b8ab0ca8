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
    /// Why it failed or was skipped, or a notice.
    public var message: String?
}

public struct RunDueReport: Sendable {
    public var now: Date
    /// One entry per catalog VM with a scheduled effective policy, by VM name.
    public var runs: [ScheduledRun]
    /// Wall-clock seconds the run took.
    public var duration: Double
    public var failed: [ScheduledRun] { runs.filter { $0.outcome == .failed } }
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

extension SnapshotEngine {
    /// The snapshot name for a slot: `auto-YYYYMMDD-HHMM` in the slot's local time.
    public static func scheduledSnapshotName(slot: Date, timeZone: TimeZone) -> String {
        let local = CronSchedule.localSeconds(slot, timeZone: timeZone)
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let sod = local - days * 86_400
        let c = CivilTime.civilFromDays(days)
        func pad(_ v: Int64, _ n: Int) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "auto-\(pad(c.year, 4))\(pad(c.month, 2))\(pad(c.day, 2))-\(pad(sod / 3600, 2))\(pad(sod / 60 % 60, 2))"
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
        let realStart = ContinuousClock.now
        try store.prepareLocks()
        let lock: VMLock
        do {
            lock = try VMLock(path: store.runDueLockPath, wait: .zero) { "another run-due is running" }
        } catch where error.code == .busy {
            return .alreadyRunning
        }
        defer { withExtendedLifetime(lock) {} }
        try inject(.runDueLocked)

        var shifted = configuration
        shifted.clock = ShiftedClock(base: now, realStart: realStart)
        let engine = SnapshotEngine(connection: connection, catalog: catalog, configuration: shifted)

        var runs: [ScheduledRun] = []
        for vm in try catalogVMs() {
            if let run = engine.runScheduled(vm: vm, now: now, timeZone: timeZone) { runs.append(run) }
        }
        return .ran(RunDueReport(now: now, runs: runs, duration: (ContinuousClock.now - realStart).seconds))
    }

    /// One VM's part of ``runDue(now:timeZone:)``; nil when its policy has no schedule.
    func runScheduled(vm: VMRecord, now: Date, timeZone: TimeZone) -> ScheduledRun? {
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

        let name = Self.scheduledSnapshotName(slot: slot, timeZone: timeZone)
        run.snapshotName = name
        // The VM's lock before the job: a job marked running is always held by its live owner,
        // so recovery (which takes this lock) never mistakes this run for a dead one.
        let job: JobRecord, lock: VMLock
        do {
            lock = try lockVM(vm, domain: domain)
            job = try startJob(kind: .runDue, vm: vm, snapshotName: name)
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
                let created = try create(domain: domain, vm: vm, options: options)
                if !created.notices.isEmpty { run.message = created.notices.joined(separator: "; ") }
            }
            let record = ScheduleStateRecord(vmUUID: vm.uuid, lastSlot: slot, updatedAt: clock.now())
            try db { () throws(CatalogError) in try catalog.write { try $0.save(record) } }
            run.outcome = .snapshot
            if !policy.retention.isEmpty {
                run.pruned = try pruneLocked(vm: try currentVM(vm), domain: domain, policyOverride: nil, now: clock.now()).deleted
            }
            finishJob(job, error: nil)
        } catch {
            finishJob(job, error: error)
            run.outcome = .failed
            run.message = error.message
        }
        return run
    }

    /// Marks the run failed and records a failed `run-due` job for it.
    private func failed(_ run: ScheduledRun, _ error: EngineError) -> ScheduledRun {
        var run = run
        run.outcome = .failed
        run.message = error.message
        do {
            if let vm = try db({ () throws(CatalogError) in try catalog.read { try $0.vm(uuid: run.vmUUID) } }) {
                recordFailedJob(kind: .runDue, vm: vm, error: error)
            }
        } catch let readError {
            diagnostics.swallowed("recording the failed run-due job of \(run.vm)", readError)
        }
        return run
    }

    // MARK: Metrics

    /// What the Prometheus textfile reports.
    public struct Metrics: Sendable {
        public struct VM: Sendable {
            public var name: String
            public var uuid: String
            /// Ready snapshots.
            public var snapshots: Int
            /// `usage`'s total: memory files plus every layer file the catalog holds.
            public var bytes: Int64
            /// Creation time of the newest ready snapshot.
            public var lastSnapshotAt: Date?
        }
        public var vms: [VM]
        /// Failed jobs in the journal, by kind.
        public var failedJobs: [String: Int]
    }

    public func metrics() throws(EngineError) -> Metrics {
        let usage = try usage(vm: nil)
        let bytes = Dictionary(usage.map { ($0.uuid, $0.totalBytes) }, uniquingKeysWith: { a, _ in a })
        let (vms, snapshots, failedJobs) = try db { () throws(CatalogError) in
            try catalog.read { db in
                let vms = try db.allVMs()
                return (vms, try vms.map { try db.snapshots(vmUUID: $0.uuid) }, try db.failedJobCounts())
            }
        }
        let rows = zip(vms, snapshots).map { vm, snaps in
            let ready = snaps.filter { $0.state == .ready }
            return Metrics.VM(name: vm.name, uuid: vm.uuid, snapshots: ready.count, bytes: bytes[vm.uuid] ?? 0,
                              lastSnapshotAt: ready.map(\.createdAt).max())
        }
        return Metrics(vms: rows, failedJobs: failedJobs)
    }
}
