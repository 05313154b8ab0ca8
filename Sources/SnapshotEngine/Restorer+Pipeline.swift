import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

public struct RestoreOptions: Sendable {
    public var safetySnapshot = true
    public var target: RestoreTarget = .running
    /// Expiry of the safety snapshot.
    public var safetyExpiry: TimeInterval = 7 * 86_400
    /// Graceful shutdown timeout for a VM whose memory is not being replaced.
    public var shutdownTimeout: Duration = .seconds(60)
    /// Run the pre-/post-restore hooks.
    public var runHooks = true
    /// How long verify waits for the guest agent to answer a ping (when it answered before).
    public var agentTimeout: Duration = .seconds(30)
    public init() {}
}

public struct RestoreReport: Sendable, Encodable {
    public var vm: String
    public var snapshot: String
    public var safetySnapshot: String?
    public var restoredMemory: Bool
    public var finalState: String
    /// Seconds each stage took, in order.
    public var stages: [StageTiming]
    /// From the start of `stop` to the end of `start`: how long the guest did not run.
    public var guestDowntimeSeconds: Double
    /// Verify's guest-agent ping: true answered, false no answer after a boot (not fatal),
    /// nil not pinged (no agent channel, agent not connected before, or the VM is not running).
    public var guestAgentAnswered: Bool?
    public var notices: [String]

    public struct StageTiming: Sendable, Encodable {
        public var stage: String
        public var seconds: Double
    }
}

/// What recovery needs to undo a restore whose process died after it touched the VM.
struct RestoreJournal: Codable {
    var safetySnapshotID: String?
    var wasRunning: Bool
    var target: RestoreTarget
    /// The VM's persistent definition before the restore: what a rollback without a safety
    /// snapshot puts back (also when it is left pending for the next command).
    var previousXML: String?
}

extension SnapshotEngine {
    /// The job stage after verify passed (reclaim, post-restore hooks): the restore stands.

    /// Restores `vm` to snapshot `name`: validate → safety snapshot → stop → revert → start → verify.
    ///
    /// Any failure after the VM was touched rolls back: to the safety snapshot when there is one
    /// (memory included), else to the previous definition and disks, started again if it ran.
    /// The thrown error names the stage that failed. `onStage` is called as each stage begins.
    public func restore(vm nameOrUUID: String, snapshot name: String, options: RestoreOptions,
                        onStage: ((RestoreStage) -> Void)? = nil) throws(EngineError) -> RestoreReport {
        let domain = try domain(nameOrUUID)
        let vm = try unsavedRecord(for: domain)   // a VM the catalog does not know has nothing to restore
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try restoreLocked(domain: domain, vm: vm, snapshotName: name, options: options, onStage: onStage)
    }

    /// One restore in flight: what it decided before the job and what it has done so far.
    /// A value the pipeline's steps pass along, so nothing of it lives on the engine.
    struct RestoreRun {
        let domain: Domain
        let vm: VMRecord
        let snapshot: SnapshotRecord
        let options: RestoreOptions
        let plan: RestorePlan
        let wasRunning: Bool
        let previousXML: String
        /// "The guest has an agent": its channel was connected before anything changed.
        let agentWasConnected: Bool
        var journal: RestoreJournal
        var job: JobRecord
        var report: RestoreReport
        var safety: SnapshotRecord?
        var touched = false
        var stopStarted: ContinuousClock.Instant?
    }

    func restoreLocked(domain: Domain, vm: VMRecord, snapshotName name: String, options: RestoreOptions,
                       onStage: ((RestoreStage) -> Void)?) throws(EngineError) -> RestoreReport {
        let snapshot = try readySnapshot(vm: vm, name: name)
        // Refusals come before the job and the hooks: a refused restore changes nothing.
        try validateRestorable(vm: vm, snapshot: snapshot)
        if options.safetySnapshot {
            try requireInStep(domain: domain, vm: vm)
            try refuseInternalSnapshots(domain, vmName: vm.name)
        }
        let plan = RestorePlan(safetySnapshot: options.safetySnapshot, target: options.target, snapshotHasMemory: snapshot.hasMemory)
        // Checked, before the job: a rollback started from a wrong guess would leave a running VM off.
        let wasRunning = try isActiveChecked(domain)
        let previousXML = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        let journal = RestoreJournal(safetySnapshotID: nil, wasRunning: wasRunning, target: options.target, previousXML: previousXML)
        let job = try startJob(kind: .restore, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name,
                               journal: Self.encode(journal))
        let report = RestoreReport(vm: vm.name, snapshot: snapshot.name, safetySnapshot: nil, restoredMemory: plan.restoresMemory,
                                   finalState: "", stages: [], guestDowntimeSeconds: 0, notices: [])
        var run = RestoreRun(domain: domain, vm: vm, snapshot: snapshot, options: options, plan: plan, wasRunning: wasRunning,
                             previousXML: previousXML, agentWasConnected: wasRunning && Self.agentConnected(domain),
                             journal: journal, job: job, report: report)
        if options.runHooks {
            do { try hookService.runPre(.preRestore, job: job) } catch {
                let failure = EngineError(error.code, "\(error.message); nothing was changed")
                finishJob(job, error: failure)
                throw failure
            }
        }

        for stage in plan.stages {
            onStage?(stage)
            run.job.stage = RestoreJobStage.pipeline(stage).rawValue
            run.job.progress = Double(plan.stages.firstIndex(of: stage)!) / Double(plan.stages.count)
            let began = ContinuousClock.now
            do throws(EngineError) {
                // Written before the stage runs: recovery decides from it whether the VM was touched.
                try jobJournal.update(run.job)
                try runRestoreStage(stage, &run)
            } catch {
                run.report.stages.append(.init(stage: stage.rawValue, seconds: (ContinuousClock.now - began).seconds))
                return try failRestore(at: stage, error, run)
            }
            run.report.stages.append(.init(stage: stage.rawValue, seconds: (ContinuousClock.now - began).seconds))
            if stage == .start || (stage == .revert && options.target == .off), let stopStarted = run.stopStarted {
                run.report.guestDowntimeSeconds = (ContinuousClock.now - stopStarted).seconds
            }
        }
        return finishRestore(run)
    }

    /// Runs one stage of the pipeline.
    private func runRestoreStage(_ stage: RestoreStage, _ run: inout RestoreRun) throws(EngineError) {
        let (domain, vm, snapshot, options) = (run.domain, run.vm, run.snapshot, run.options)
        switch stage {
        case .validate:
            try validateRestorable(vm: vm, snapshot: snapshot)
        case .safetySnapshot:
            // Under the lock, so two restores in the same second get different names.
            var safetyOptions = CreateOptions(name: try uniqueName("pre-restore-" + Self.stamp(clock.now()), vm: vm))
            safetyOptions.description = "state before restoring '\(snapshot.name)'"
            safetyOptions.expiresAt = clock.now().addingTimeInterval(options.safetyExpiry)
            safetyOptions.labels = ["pre-restore"]
            safetyOptions.fullEvery = 0
            safetyOptions.runHooks = false
            // The VM is stopped next: capture it paused, in one pass (see CreateOptions.pauseGuest).
            safetyOptions.pauseGuest = true
            let current = try currentVM(vm)
            let created = try nested { () throws(EngineError) in try safetySnapshot(domain: domain, vm: current, options: safetyOptions) }
            run.safety = created.snapshot
            run.report.safetySnapshot = created.snapshot.name
            // Recorded before the VM is touched, so a crash from here on rolls back to it.
            run.journal.safetySnapshotID = created.snapshot.id
            run.job.journal = Self.encode(run.journal)
            try jobJournal.update(run.job)
            run.report.notices += created.notices
        case .stop:
            run.stopStarted = ContinuousClock.now
            run.touched = true
            try stop(domain, graceful: !run.plan.restoresMemory, timeout: options.shutdownTimeout)
        case .revert:
            try inject(.restoreRevert)
            try revertLocked(domain: domain, vm: try currentVM(vm), snapshot: snapshot,
                             start: run.plan.restoresMemory ? .paused : .off, reclaim: false)
        case .start:
            try inject(.restoreStart)
            let state = try lv("cannot read VM state") { () throws(LibvirtError) in try domain.state().state }
            switch (options.target, state) {
            case (.running, .paused): try lv("cannot resume VM") { () throws(LibvirtError) in try domain.resume() }
            case (.running, .shutoff): try lv("cannot start VM") { () throws(LibvirtError) in try domain.start() }
            case (.paused, .shutoff): try lv("cannot start VM") { () throws(LibvirtError) in try domain.start(flags: [.paused]) }
            default: break
            }
        case .verify:
            try inject(.restoreVerify)
            try verifyRestore(domain: domain, vm: vm, snapshot: snapshot, target: options.target)
            if options.target == .running {
                let (answered, notice) = try verifyAgent(domain: domain, wasConnected: run.agentWasConnected,
                                                         restoredMemory: run.plan.restoresMemory, timeout: options.agentTimeout)
                run.report.guestAgentAnswered = answered
                if let notice { run.report.notices.append(notice) }
            }
        }
    }

    /// A stage failed: rolls back once the VM was touched, ends the job and throws. Returns a
    /// report only when libvirt died and came back in time, and the restore turned out to stand.
    private func failRestore(at stage: RestoreStage, _ error: EngineError, _ run: RestoreRun) throws(EngineError) -> RestoreReport {
        let (vm, safety) = (run.vm, run.safety)
        var message = "restore failed at stage \(stage.rawValue): \(error.message)"
        if run.touched {
            do {
                message += "; " + (try rollBackRestore(domain: run.domain, vm: vm, safety: safety, previousXML: run.previousXML,
                                                       wasRunning: run.wasRunning))
            } catch let rollbackError {
                if !libvirtAnswers {
                    let failed = message
                    message += "; libvirt stopped answering, so the outcome is decided and any rollback "
                        + (safety.map { "to safety snapshot '\($0.name)' " } ?? "")
                        + "done by the next kvmsnap command on \(vm.name) once libvirt answers again (see 'kvmsnap check \(vm.name)')"
                    try markPending(run.job, message)
                    guard let id = run.job.id, let decided = finishPendingRestore(jobID: id, vm: vm, runHooks: run.options.runHooks) else {
                        throw EngineError(error.code, message)
                    }
                    guard let finalState = decided.finalState else { throw EngineError(error.code, "\(failed); \(decided.what)") }
                    var report = run.report
                    report.finalState = finalState
                    report.notices.append(decided.what)
                    return report
                }
                message += "; " + Self.rollbackFailedMessage(rollbackError, safety: safety)
            }
        } else {
            message += "; nothing was changed"
        }
        let failure = EngineError(error.code, message)
        finishJob(run.job, error: failure)
        throw failure
    }

    /// Every stage passed: reclaims the old layers, runs the post-restore hooks, ends the job.
    private func finishRestore(_ run: RestoreRun) -> RestoreReport {
        var (job, report) = (run.job, run.report)
        // Verified: from here on a crash must not roll the restore back, only finish the cleanup.
        job.stage = RestoreJobStage.finishing.rawValue
        jobJournal.note(job, "the restore's finishing stage")
        // The layers the VM ran on before the restore can go now.
        do { try reclaim(vmUUID: run.vm.uuid, domain: run.domain) } catch {
            report.notices.append("restored, but reclaiming old layers failed: \(error.message)")
        }
        report.finalState = ((try? run.domain.state().state).map { "\($0)" }) ?? "unknown"
        var note: String?
        if run.options.runHooks {
            let failures = hookService.runPost(.postRestore, job: job)
            report.notices += failures
            if !failures.isEmpty { note = failures.joined(separator: "; ") }
        }
        finishJob(job, error: nil, note: note)
        return report
    }

    /// Graceful shutdown with a timeout, then forced; forced straight away when memory is replaced anyway.
    func stop(_ domain: Domain, graceful: Bool, timeout: Duration) throws(EngineError) {
        guard Self.isActive(domain) else { return }
        if graceful, (try? domain.state().state) == .running {
            if (try? domain.shutdown(timeout: timeout)) != nil, !Self.isActive(domain) { return }
        }
        if Self.isActive(domain) {
            try lv("cannot stop VM") { () throws(LibvirtError) in try domain.destroy() }
        }
    }

    /// The domain is in the expected state and each disk runs on an overlay of the snapshot's layer.
    func verifyRestore(domain: Domain, vm: VMRecord, snapshot: SnapshotRecord, target: RestoreTarget) throws(EngineError) {
        let state = try lv("cannot read VM state") { () throws(LibvirtError) in try domain.state().state }
        let expected: DomainState = switch target { case .running: .running; case .paused: .paused; case .off: .shutoff }
        guard state == expected else { throw EngineError(.libvirt, "VM is \(state), expected \(expected)") }
        let sources = try currentDiskSources(domain)
        let (disks, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.disks(ofSnapshot: snapshot.id), try db.layers(vmUUID: vm.uuid)) }
        }
        for disk in disks {
            guard let path = sources[disk.diskTarget], let layer = layers.first(where: { $0.path == path }) else {
                throw EngineError(.conflict, "disk \(disk.diskTarget) is not on a layer kvmsnap created for this restore")
            }
            guard layer.parentLayerID == disk.layerID else {
                throw EngineError(.conflict, "disk \(disk.diskTarget) is not backed by the snapshot's layer")
            }
            if let info = try? ImageTool.info(path), let backing = info.backingFile,
               backing != layers.first(where: { $0.id == disk.layerID })?.path {
                throw EngineError(.conflict, "disk \(disk.diskTarget)'s image is backed by \(backing), not the snapshot's layer")
            }
        }
    }

    /// The guest agent answers a ping, when the guest has one.
    ///
    /// After a memory restore the guest resumes as it was in the snapshot, and libvirt reports
    /// the agent's channel as connected exactly when the agent had it open then: a connected
    /// channel must answer within `timeout`, or the restore fails (and rolls back). After a boot
    /// the agent is waited for only if it was connected before the restore, and silence is a
    /// notice, not a failure: a guest may boot slowly, and state and disk chain are verified anyway.
    func verifyAgent(domain: Domain, wasConnected: Bool, restoredMemory: Bool, timeout: Duration) throws(EngineError) -> (Bool?, String?) {
        let channel = Self.agentChannel(domain)
        if channel == .absent { return (nil, nil) }
        if restoredMemory, channel != .connected {
            return (nil, "the guest agent was not running in the snapshot: not pinged")
        }
        if !restoredMemory, !wasConnected {
            return (nil, "the guest agent was not connected before the restore: not waited for after boot")
        }
        try inject(.restoreVerifyAgent)
        let deadline = ContinuousClock.now + timeout
        var last = "its channel is not connected"
        repeat {
            if Self.agentConnected(domain) {
                do throws(LibvirtError) {
                    try domain.pingAgent(timeoutSeconds: Int32(max(1, min(10, (deadline - ContinuousClock.now).seconds.rounded(.up)))))
                    return (true, nil)
                } catch { last = error.message }
            }
            usleep(200_000)
        } while ContinuousClock.now < deadline
        let what = "the guest agent did not answer a ping within \(Int(timeout.seconds)) s (\(last))"
        if restoredMemory { throw EngineError(.libvirt, what + "; it was running in the snapshot") }
        return (false, what + " after booting the snapshot's disks; the restore stands")
    }

    /// Puts the VM back as it was before the restore. Returns what it did, for the error message.
    func rollBackRestore(domain: Domain, vm: VMRecord, safety: SnapshotRecord?, previousXML: String, wasRunning: Bool) throws(EngineError) -> String {
        if let safety {
            try revertLocked(domain: domain, vm: try currentVM(vm), snapshot: safety, start: wasRunning ? .running : .off)
            return "rolled back to safety snapshot '\(safety.name)'"
        }
        if Self.isActive(domain) { try lv("cannot stop VM") { () throws(LibvirtError) in try domain.destroy() } }
        _ = try lv("cannot put the previous configuration back") { () throws(LibvirtError) in try connection.defineDomain(xml: previousXML) }
        if wasRunning { try lv("cannot start VM") { () throws(LibvirtError) in try domain.start() } }
        return "no safety snapshot: previous disks and configuration put back" + (wasRunning ? ", VM booted again (its memory state is lost)" : "")
    }

    /// Waits up to ``EngineConfiguration/libvirtWait`` for libvirt to answer on a new connection, then finishes the
    /// pending restore `jobID` as the next command would (``recoverRestore(job:vm:domain:)``).
    /// Returns what was done and, when the restore stands, the VM's state; nil when libvirt did
    /// not come back in time (the job stays pending).
    func finishPendingRestore(jobID: Int64, vm: VMRecord, runHooks: Bool) -> (what: String, finalState: String?)? {
        guard let uri = connectionURI else { return nil }
        let deadline = ContinuousClock.now + configuration.libvirtWait
        var fresh: Connection?
        while fresh == nil {
            if let candidate = try? Connection(uri: uri), (try? candidate.isAlive) == true { fresh = candidate; break }
            if ContinuousClock.now >= deadline { return nil }
            usleep(500_000)
        }
        guard let fresh, let domain = try? fresh.lookupDomain(uuid: vm.uuid) else { return nil }
        let job: JobRecord?
        do { job = try withCatalog { () throws(CatalogError) in try catalog.read { try $0.job(id: jobID) } } } catch {
            // The job stays pending: the next command on the VM finishes it.
            diagnostics.swallowed("reading pending restore job \(jobID) of \(vm.name)", error)
            return nil
        }
        guard let job, job.state == .pending else { return nil }
        // Same configuration, new connection; nesting travels with the call (``OperationContext``).
        let engine = SnapshotEngine(connection: fresh, catalog: catalog, configuration: configuration)
        let outcome: RecoveryOutcome
        do { outcome = try engine.recoverRestore(job: job, vm: vm, domain: domain) } catch {
            if !engine.libvirtAnswers { return nil }
            outcome = .failed(EngineError(error.code, "the rollback once libvirt answered again failed: \(error.message)"))
        }
        let entry = outcome.journalEntry
        if let error = entry.error {
            engine.finishJob(job, error: error)
            return (error.message, nil)
        }
        let note = entry.note
        let hookFailures = runHooks ? engine.hookService.runPost(.postRestore, job: job) : []
        let what = ([note ?? "the restore stands"] + hookFailures).joined(separator: "; ")
        engine.finishJob(job, error: nil, note: what)
        return (what, (try? domain.state().state).map { "\($0)" } ?? "unknown")
    }

    static func rollbackFailedMessage(_ error: EngineError, safety: SnapshotRecord?) -> String {
        "ROLLBACK FAILED (\(error.message))" + (safety.map { "; the safety snapshot '\($0.name)' still holds the previous state" } ?? "")
    }

    /// False when the connection to libvirt is gone (libvirtd died or restarted under us).
    var libvirtAnswers: Bool { (try? connection.isAlive) == true }

    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = .current
        return formatter.string(from: date)
    }
}
