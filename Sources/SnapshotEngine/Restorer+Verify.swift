import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Restorer {
    /// Graceful shutdown with a timeout, then forced; forced straight away when memory is replaced anyway.
    func stop(_ domain: Domain, graceful: Bool, timeout: Duration) throws(EngineError) {
        guard SnapshotEngine.isActive(domain) else { return }
        if graceful, (try? domain.state().state) == .running {
            if (try? domain.shutdown(timeout: timeout)) != nil, !SnapshotEngine.isActive(domain) { return }
        }
        if SnapshotEngine.isActive(domain) {
            try lv("cannot stop VM") { () throws(LibvirtError) in try domain.destroy() }
        }
    }

    /// The domain is in the expected state and each disk runs on an overlay of the snapshot's layer.
    func verifyRestore(domain: Domain, vm: VMRecord, snapshot: SnapshotRecord, target: RestoreTarget) throws(EngineError) {
        let state = try lv("cannot read VM state") { () throws(LibvirtError) in try domain.state().state }
        let expected: DomainState =
            switch target {
            case .running: .running;
            case .paused: .paused;
            case .off: .shutoff
            }
        guard state == expected else { throw EngineError(.libvirt, "VM is \(state), expected \(expected)") }
        let sources = try layerStore.currentDiskSources(domain)
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
                backing != layers.first(where: { $0.id == disk.layerID })?.path
            {
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
        let channel = SnapshotEngine.agentChannel(domain)
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
            if SnapshotEngine.agentConnected(domain) {
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
        if SnapshotEngine.isActive(domain) { try lv("cannot stop VM") { () throws(LibvirtError) in try domain.destroy() } }
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
        let restorer = reconnected(fresh)
        let outcome: RecoveryOutcome
        do { outcome = try restorer.recoverRestore(job: job, vm: vm, domain: domain) } catch {
            if !restorer.libvirtAnswers { return nil }
            outcome = .failed(EngineError(error.code, "the rollback once libvirt answered again failed: \(error.message)"))
        }
        let entry = outcome.journalEntry
        if let error = entry.error {
            jobJournal.finish(job, error: error)
            return (error.message, nil)
        }
        let note = entry.note
        let hookFailures = runHooks ? hookService.runPost(.postRestore, job: job) : []
        let what = ([note ?? "the restore stands"] + hookFailures).joined(separator: "; ")
        jobJournal.finish(job, error: nil, note: what)
        return (what, (try? domain.state().state).map { "\($0)" } ?? "unknown")
    }

    static func rollbackFailedMessage(_ error: EngineError, safety: SnapshotRecord?) -> String {
        "ROLLBACK FAILED (\(error.message))" + (safety.map { "; the safety snapshot '\($0.name)' still holds the previous state" } ?? "")
    }
}
