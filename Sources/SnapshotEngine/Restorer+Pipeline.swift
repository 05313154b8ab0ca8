import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Restorer {
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

    /// The restore itself (documented at ``SnapshotEngine/restore(vm:snapshot:options:onStage:)``);
    /// the caller holds the VM's lock.
    func restore(
        domain: Domain, vm: VMRecord, snapshotName name: String, options: RestoreOptions,
        onStage: ((RestoreStage) -> Void)?
    ) throws(EngineError) -> RestoreReport {
        let snapshot = try readySnapshot(vm: vm, name: name)
        // Refusals come before the job and the hooks: a refused restore changes nothing.
        try validateRestorable(vm: vm, snapshot: snapshot)
        if options.safetySnapshot {
            try layerStore.requireInStep(domain: domain, vm: vm)
            try refuseInternalSnapshots(domain, vmName: vm.name)
        }
        let plan = RestorePlan(safetySnapshot: options.safetySnapshot, target: options.target, snapshotHasMemory: snapshot.hasMemory)
        // Checked, before the job: a rollback started from a wrong guess would leave a running VM off.
        let wasRunning = try layerStore.isActiveChecked(domain)
        let previousXML = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        let journal = RestoreJournal(safetySnapshotID: nil, wasRunning: wasRunning, target: options.target, previousXML: previousXML)
        let job = try jobJournal.start(
            kind: .restore, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name,
            journal: SnapshotEngine.encode(journal))
        let report = RestoreReport(
            vm: vm.name, snapshot: snapshot.name, safetySnapshot: nil, restoredMemory: plan.restoresMemory,
            finalState: "", stages: [], guestDowntimeSeconds: 0, notices: [])
        var run = RestoreRun(
            domain: domain, vm: vm, snapshot: snapshot, options: options, plan: plan, wasRunning: wasRunning,
            previousXML: previousXML, agentWasConnected: wasRunning && SnapshotEngine.agentConnected(domain),
            journal: journal, job: job, report: report)
        if options.runHooks {
            do { try hookService.runPre(.preRestore, job: job) } catch {
                let failure = EngineError(error.code, "\(error.message); nothing was changed")
                jobJournal.finish(job, error: failure)
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
            var safetyOptions = CreateOptions(name: try uniqueName("pre-restore-" + SnapshotEngine.stamp(clock.now()), vm: vm))
            safetyOptions.description = "state before restoring '\(snapshot.name)'"
            safetyOptions.expiresAt = clock.now().addingTimeInterval(options.safetyExpiry)
            safetyOptions.labels = ["pre-restore"]
            safetyOptions.fullEvery = 0
            safetyOptions.runHooks = false
            // The VM is stopped next: capture it paused, in one pass (see CreateOptions.pauseGuest).
            safetyOptions.pauseGuest = true
            let current = try currentVM(vm)
            let created = try OperationContext.nested { () throws(EngineError) in try safetySnapshot(domain: domain, vm: current, options: safetyOptions) }
            run.safety = created.snapshot
            run.report.safetySnapshot = created.snapshot.name
            // Recorded before the VM is touched, so a crash from here on rolls back to it.
            run.journal.safetySnapshotID = created.snapshot.id
            run.job.journal = SnapshotEngine.encode(run.journal)
            try jobJournal.update(run.job)
            run.report.notices += created.notices
        case .stop:
            run.stopStarted = ContinuousClock.now
            run.touched = true
            try stop(domain, graceful: !run.plan.restoresMemory, timeout: options.shutdownTimeout)
        case .revert:
            try inject(.restoreRevert)
            try revertLocked(
                domain: domain, vm: try currentVM(vm), snapshot: snapshot,
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
                let (answered, notice) = try verifyAgent(
                    domain: domain, wasConnected: run.agentWasConnected,
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
                message +=
                    "; "
                    + (try rollBackRestore(
                        domain: run.domain, vm: vm, safety: safety, previousXML: run.previousXML,
                        wasRunning: run.wasRunning))
            } catch let rollbackError {
                if !libvirtAnswers {
                    let failed = message
                    message +=
                        "; libvirt stopped answering, so the outcome is decided and any rollback "
                        + (safety.map { "to safety snapshot '\($0.name)' " } ?? "")
                        + "done by the next kvmsnap command on \(vm.name) once libvirt answers again (see 'kvmsnap check \(vm.name)')"
                    try jobJournal.markPending(run.job, message)
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
        jobJournal.finish(run.job, error: failure)
        throw failure
    }

    /// Every stage passed: reclaims the old layers, runs the post-restore hooks, ends the job.
    private func finishRestore(_ run: RestoreRun) -> RestoreReport {
        var (job, report) = (run.job, run.report)
        // Verified: from here on a crash must not roll the restore back, only finish the cleanup.
        job.stage = RestoreJobStage.finishing.rawValue
        jobJournal.note(job, "the restore's finishing stage")
        // The layers the VM ran on before the restore can go now.
        do { try layerStore.reclaim(vmUUID: run.vm.uuid, domain: run.domain) } catch {
            report.notices.append("restored, but reclaiming old layers failed: \(error.message)")
        }
        report.finalState = ((try? run.domain.state().state).map { "\($0)" }) ?? "unknown"
        var note: String?
        if run.options.runHooks {
            let failures = hookService.runPost(.postRestore, job: job)
            report.notices += failures
            if !failures.isEmpty { note = failures.joined(separator: "; ") }
        }
        jobJournal.finish(job, error: nil, note: note)
        return report
    }

    /// The restore's safety snapshot: a create that, refused because of the VM's current state
    /// (a broken chain, layers changed outside kvmsnap), says how to restore without one.
    func safetySnapshot(domain: Domain, vm: VMRecord, options: CreateOptions) throws(EngineError) -> CreateResult {
        do { return try capture.create(domain: domain, vm: vm, options: options) } catch  where error.code == .conflict {
            throw EngineError(error.code, "\(error.message); to restore anyway, discarding the VM's current state, add --no-safety-snapshot")
        }
    }
}
