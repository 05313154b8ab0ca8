import Foundation
import KVMSnapCore
import Libvirt
import Notify
import SnapshotCatalog
import Vault

/// What a drill checks, and how long it may take (`kvmsnap drill`).
public struct DrillOptions: Sendable {
    /// The snapshot to drill; nil: the VM's newest ready snapshot (`--latest`).
    public var snapshot: String?
    /// Drill snapshot ``snapshot`` of this vault: its disks are rebuilt from the vault into the
    /// clone's directory (`--from-vault`).
    public var fromVault: String?
    /// Check that the guest agent answers `guest-ping` (`--check-agent`).
    public var checkAgent = false
    /// Check the agent only when the snapshot's VM has an agent channel (scheduled drills).
    public var checkAgentWhenConfigured = false
    /// A regular expression the serial console must show (`--check-console`).
    public var consolePattern: String?
    /// A TCP port that must be listening inside the guest, seen through the agent (`--check-port`).
    public var port: Int?
    /// A command run in the guest through the agent's `guest-exec`; must exit 0 (`--check-cmd`).
    public var command: String?
    /// A host program given the clone's name and address; must exit 0 (`--check-script`).
    public var script: String?
    /// How long all checks together may take, from the drill's start.
    public var timeout: Duration = .seconds(300)
    /// Leave a failed drill's clone (and its network and overlays) for inspection.
    public var keepOnFailure = false
    /// A passing drill marks the snapshot verified (as `kvmsnap verified` does for a pinned one).
    public var markVerified = false
    /// With ``markVerified``: how long the unpinned snapshot is kept (as `verified --grace`).
    public var verifiedGrace: TimeInterval = 14 * 86_400

    public init(snapshot: String? = nil) { self.snapshot = snapshot }
}

/// What a drill job journals before it creates anything: all the next command needs to remove
/// the clone, its network and its files when the drill's process died.
struct DrillJournal: Codable, Sendable {
    var clone: String
    var cloneUUID: String
    /// The isolated network's name; nil when the VM has no interface (the clone gets none).
    var network: String?
}

/// A vault snapshot a drill rebuilds its disks from (`--from-vault`).
struct DrillVaultSource {
    var name: String
    var repository: VaultRepository
    var manifest: VaultManifest
}

/// A drill's clone once it is defined.
struct DrillClone {
    var plan: DrillJournal
    var domain: Domain
    var serialLogs: [String]
}

/// The drill service: a throwaway clone of a snapshot (new name and UUID, copy-on-write overlays
/// on the snapshot's layers, every NIC on an isolated network with new MACs), booted and
/// checked, then removed, and the report kept in the catalog.
///
/// State: none; the run's plan is the job's journal. Calls: ``Restorer`` (snapshot lookup and
/// validation, the new VM's removal), ``JobJournal``, libvirt, ``ImageTool``, ``ExternalProcess``.
/// The caller holds the source VM's lock for the whole drill: a dead drill's job is then
/// recognized, and cleaned up, by the next command on that VM.
struct Drills: EngineService, Sendable {
    let restorer: Restorer

    var connection: Connection { restorer.connection }
    var catalog: Catalog { restorer.catalog }
    var configuration: EngineConfiguration { restorer.configuration }
    var store: StoreLayout { configuration.store }
    var jobJournal: JobJournal { restorer.jobJournal }

    /// Directory of the screenshots kept with the reports.
    var screenshotDirectory: String { "\(store.root)/drills" }

    /// Runs one drill of `vm` and records its report. A failed check is a report with
    /// `passed == false`, not a thrown error; an error is thrown only when nothing could be recorded.
    func run(vm: VMRecord, options: DrillOptions, vault: DrillVaultSource? = nil) throws(EngineError) -> DrillRecord {
        let began = ContinuousClock.now
        let startedAt = configuration.clock.now()
        let snapshot: SnapshotRecord
        if let vault {
            snapshot = Self.vaultSnapshot(vault, vm: vm)
        } else {
            snapshot = try pickSnapshot(vm: vm, name: options.snapshot)
            try restorer.validateRestorable(vm: vm, snapshot: snapshot)
        }
        let config = try DomainDefinition(xml: snapshot.configXML)
        var options = options
        if options.checkAgentWhenConfigured && config.agentChannel != .absent { options.checkAgent = true }
        let id = String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(8))
        let plan = DrillJournal(
            clone: Self.cloneName(vm: vm.name, at: startedAt), cloneUUID: UUID().uuidString.lowercased(),
            network: config.interfaceAttachments.isEmpty ? nil : DrillNetwork.namePrefix + id)
        let job = try jobJournal.start(
            kind: .drill, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name, journal: SnapshotEngine.encode(plan))
        var outcome = DrillOutcome()
        var clone: DrillClone?
        do throws(EngineError) {
            let built = try buildClone(vm: vm, snapshot: snapshot, plan: plan, vault: vault)
            clone = built
            try inject(.drillCloneStarted)
            outcome = runChecks(clone: built, vm: vm, snapshot: snapshot, options: options, began: began)
        } catch {
            outcome.error = error
            // A clone that could not be built or started fails the first check, with the reason.
            if outcome.checks.isEmpty {
                let detail = "the clone did not start: \(TerminalText.escape(String(error.message.prefix(300))))"
                outcome.checks = [DrillCheck(name: "running", passed: false, seconds: (ContinuousClock.now - began).seconds, detail: detail)]
            }
        }
        if let clone { outcome.screenshot = keepScreenshot(clone: clone, vm: vm) }
        let keep = options.keepOnFailure && !outcome.passed && clone != nil
        let leftover = keep ? nil : cleanUp(plan)
        return try record(
            vm: vm, snapshot: snapshot, plan: plan, job: job, outcome: outcome, startedAt: startedAt,
            options: options, kept: keep, leftover: leftover, vault: vault?.name)
    }

    /// The vault snapshot as the snapshot record a drill reads (name, configuration, memory flag).
    static func vaultSnapshot(_ vault: DrillVaultSource, vm: VMRecord) -> SnapshotRecord {
        let manifest = vault.manifest
        return SnapshotRecord(
            id: manifest.localSnapshotID ?? "vault:\(vault.name)", vmUUID: vm.uuid, name: manifest.snapshot,
            kind: SnapshotKind(rawValue: manifest.kind) ?? .incremental, parentID: nil, createdAt: manifest.createdAt, state: .ready,
            hasMemory: manifest.hasMemory, configXML: manifest.domainXML)
    }

    /// Writes the report, marks the snapshot verified when asked and the drill passed, and
    /// finishes the job (failed when a check failed or the clone could not be built or removed).
    private func record(
        vm: VMRecord, snapshot: SnapshotRecord, plan: DrillJournal, job: JobRecord, outcome: DrillOutcome, startedAt: Date,
        options: DrillOptions, kept: Bool, leftover: EngineError?, vault: String?
    ) throws(EngineError) -> DrillRecord {
        var report = DrillRecord(
            vmUUID: vm.uuid, vmName: vm.name, snapshotID: snapshot.id, snapshotName: snapshot.name, clone: plan.clone, jobID: job.id,
            startedAt: startedAt, endedAt: configuration.clock.now(), passed: outcome.passed,
            recoverySeconds: outcome.passed ? outcome.recoverySeconds : nil, checks: outcome.checks, screenshot: outcome.screenshot,
            error: [outcome.error?.message, leftover?.message].compactMap { $0 }.joined(separator: "; ").nilIfEmpty)
        report.keptClone = kept
        report.vault = vault
        var jobError: EngineError? = outcome.error ?? outcome.failedCheck.map { EngineError(.external, "drill check '\($0.name)' failed: \($0.detail)") }
        if let leftover { jobError = EngineError(leftover.code, [jobError?.message, leftover.message].compactMap { $0 }.joined(separator: "; ")) }
        if outcome.passed && options.markVerified && vault == nil {
            report.markedVerified = markVerified(snapshot, grace: options.verifiedGrace)
        }
        // The drill-passed/-failed alert goes in the report's transaction: a kill keeps both or neither.
        let alert = preparedAlert(report, job: job)
        do {
            try db { () throws(CatalogError) in
                try catalog.write { db in
                    try db.insert(&report)
                    if let (event, targets) = alert { _ = try db.recordNotifyEvent(event, targets: targets) }
                }
            }
        } catch {
            jobJournal.finish(job, error: error)
            throw error
        }
        jobJournal.finish(job, error: jobError, note: kept ? "clone \(plan.clone) kept (--keep-on-failure)" : nil)
        return report
    }

    /// The `drill-passed` or `drill-failed` event and the targets whose rules ask for it (nil:
    /// none, or the rules could not be read, which goes to the diagnostics, never fails the drill).
    private func preparedAlert(_ report: DrillRecord, job: JobRecord) -> (NotifyEventRecord, [String])? {
        let detail =
            report.passed
            ? "drill of \(report.vmName) at \(report.snapshotName) passed; recovery \(report.recoverySeconds.map { String(Int($0.rounded())) } ?? "?") s"
            : "drill of \(report.vmName) at \(report.snapshotName) failed: \(report.error ?? "a check failed")"
        let event = AlertEvent.drill(
            passed: report.passed, vm: report.vmName, vmUUID: report.vmUUID, snapshot: report.snapshotName, detail: detail,
            host: Outbox.hostName, time: configuration.clock.now())
        let key = AlertDedupKey.drill(vmUUID: report.vmUUID, passed: report.passed, runID: String(job.id ?? 0))
        do { return try Outbox(catalog: catalog).prepare(event, dedupKey: key) } catch {
            restorer.diagnostics.swallowed("recording the \(event.type.rawValue) alert (\(event.title))", error)
            return nil
        }
    }

    /// Snapshot `name`, or the newest ready one.
    private func pickSnapshot(vm: VMRecord, name: String?) throws(EngineError) -> SnapshotRecord {
        if let name { return try restorer.readySnapshot(vm: vm, name: name) }
        let all = try db { () throws(CatalogError) in try catalog.read { try $0.snapshots(vmUUID: vm.uuid) } }
        guard let newest = all.filter({ $0.state == .ready }).max(by: { $0.createdAt < $1.createdAt }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no ready snapshot to drill")
        }
        return newest
    }

    /// `drill-<vm>-<UTC stamp>`, e.g. `drill-web-20260102T030405`.
    static func cloneName(vm: String, at date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return "drill-\(vm)-\(formatter.string(from: date))"
    }

    /// Unpins a snapshot that was pinned until verified and lets it expire after `grace`, as
    /// `kvmsnap verified` does; an unpinned snapshot keeps its retention. True when it changed.
    private func markVerified(_ snapshot: SnapshotRecord, grace: TimeInterval) -> Bool {
        guard snapshot.pinned else { return false }
        do {
            try db { () throws(CatalogError) in
                try catalog.write { db in
                    guard var record = try db.snapshot(id: snapshot.id) else { return }
                    record.pinned = false
                    record.expiresAt = configuration.clock.now().addingTimeInterval(grace)
                    try db.update(record)
                }
            }
            return true
        } catch {
            configuration.diagnostics.swallowed("marking snapshot '\(snapshot.name)' verified", error)
            return false
        }
    }
}

/// The checks' results and what the drill kept.
struct DrillOutcome {
    var checks: [DrillCheck] = []
    /// Seconds from the drill's start to the end of its last passing check.
    var recoverySeconds: Double?
    var screenshot: String?
    /// Why the clone could not be built or started.
    var error: EngineError?

    var failedCheck: DrillCheck? { checks.first { !$0.passed } }
    var passed: Bool { error == nil && !checks.isEmpty && failedCheck == nil }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
