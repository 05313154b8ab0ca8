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

/// What state the VM is left in after a revert.
public enum StartMode: String, Sendable, CaseIterable, Codable {
    /// Running (memory snapshots resume where they were; disk-only snapshots boot).
    case running
    /// Paused right after restore/boot.
    case paused
    /// Left shut off.
    case off
}

/// What recovery needs to finish a revert (or lab reset) whose process died.
struct RevertJournal: Codable {
    var snapshotID: String
    var start: StartMode
    /// The VM's disk sources and whether it ran, before the revert touched anything.
    var previousSources: [String: String]
    var wasActive: Bool
}

/// The restore service: revert (the mechanics libvirt 9.0 lacks), the restore pipeline
/// (validate → safety snapshot → stop → revert → start → verify, with its rollback), restore
/// into a new VM (`restore --as`), disk export, lab baselines and lab reset, and the recovery
/// of a restore or revert whose process died (``recoverRestore(job:vm:domain:)``,
/// ``recoverRevert(job:vm:domain:)``).
///
/// State: none of its own; a restore's progress travels in a ``RestoreRun`` value and its
/// journal is the job's (``JobJournal``). A value built per call by the engine
/// (``SnapshotEngine/restorer``) that reads the engine's configuration at each step, as
/// ``Capture`` does. Calls: ``Capture`` (the safety snapshot), ``JobJournal``, ``Hooks``,
/// ``LayerStore``, libvirt, ``ImageTool``. The caller resolves the VM and holds its lock.
struct Restorer: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let settings: @Sendable () -> EngineConfiguration
    let jobJournal: JobJournal
    let hookService: Hooks
    /// The URI `connection` was opened with, to open a new one after libvirtd restarted.
    let connectionURI: String?

    var configuration: EngineConfiguration { settings() }
    var store: StoreLayout { configuration.store }
    var clock: any EngineClock { configuration.clock }
    var diagnostics: Diagnostics { configuration.diagnostics }
    var progress: ProgressHandler? { configuration.progress }
    var layerStore: LayerStore { LayerStore(connection: connection, catalog: catalog, configuration: configuration) }
    var capture: Capture {
        Capture(connection: connection, catalog: catalog, settings: settings, jobJournal: jobJournal, hookService: hookService)
    }

    /// The same service over another connection (libvirtd restarted under a restore).
    func reconnected(_ fresh: Connection) -> Restorer {
        Restorer(
            connection: fresh, catalog: catalog, settings: settings, jobJournal: jobJournal, hookService: hookService,
            connectionURI: connectionURI)
    }

    /// Records `snapshotID` as the snapshot the VM's current state descends from.
    func markCurrent(_ snapshotID: String, vm: VMRecord) throws(EngineError) {
        try db { () throws(CatalogError) in
            try catalog.write { db in
                if var current = try db.vm(uuid: vm.uuid) { current.currentSnapshotID = snapshotID; try db.save(current) }
            }
        }
    }
}

extension EngineService {
    /// The VM's snapshot `name`, refused unless it is ready.
    func readySnapshot(vm: VMRecord, name: String) throws(EngineError) -> SnapshotRecord {
        guard let snapshot = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(vmUUID: vm.uuid, name: name) } }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
        }
        guard snapshot.state == .ready else {
            throw EngineError(.conflict, "snapshot '\(name)' of \(vm.name) is \(snapshot.state.rawValue), not ready")
        }
        return snapshot
    }

    /// `base`, or `base-2`, `base-3`, … when the VM already has a snapshot of that name.
    func uniqueName(_ base: String, vm: VMRecord) throws(EngineError) -> String {
        let taken = Set(try db { () throws(CatalogError) in try catalog.read { try $0.snapshots(vmUUID: vm.uuid) } }.map(\.name))
        if !taken.contains(base) { return base }
        var suffix = 2
        while taken.contains("\(base)-\(suffix)") { suffix += 1 }
        return "\(base)-\(suffix)"
    }

    /// False when the connection to libvirt is gone (libvirtd died or restarted under us).
    var libvirtAnswers: Bool { (try? connection.isAlive) == true }
}

extension SnapshotEngine {
    /// The restore service, reading the engine's configuration as it is at each step.
    var restorer: Restorer {
        Restorer(
            connection: connection, catalog: catalog, settings: { [self] in configuration }, jobJournal: jobJournal,
            hookService: hookService, connectionURI: connectionURI)
    }

    /// Restores `vm` to snapshot `name`: validate → safety snapshot → stop → revert → start → verify.
    ///
    /// Any failure after the VM was touched rolls back: to the safety snapshot when there is one
    /// (memory included), else to the previous definition and disks, started again if it ran.
    /// The thrown error names the stage that failed. `onStage` is called as each stage begins.
    public func restore(
        vm nameOrUUID: String, snapshot name: String, options: RestoreOptions,
        onStage: ((RestoreStage) -> Void)? = nil
    ) throws(EngineError) -> RestoreReport {
        let domain = try domain(nameOrUUID)
        let vm = try unsavedRecord(for: domain)  // a VM the catalog does not know has nothing to restore
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try restorer.restore(domain: domain, vm: vm, snapshotName: name, options: options, onStage: onStage)
    }

    /// Puts the VM back to snapshot `name`: disks (new overlays on the snapshot's frozen layers),
    /// configuration (domain XML, NVRAM) and memory (when the snapshot has it and `start` is not `.off`).
    ///
    /// The VM's current state is discarded: callers that want a safety net take a snapshot first
    /// (the restore pipeline does). On failure the VM is redefined with its previous disks.
    public func revert(vm nameOrUUID: String, to name: String, start: StartMode = .running) throws(EngineError) -> SnapshotRecord {
        let domain = try domain(nameOrUUID)
        let vm = try unsavedRecord(for: domain)  // a VM the catalog does not know has nothing to restore
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try restorer.revert(domain: domain, vm: vm, snapshotName: name, start: start)
    }

    /// Checks that everything a revert to `snapshot` reads exists and is readable.
    public func validateRestorable(vm: VMRecord, snapshot: SnapshotRecord) throws(EngineError) {
        try restorer.validateRestorable(vm: vm, snapshot: snapshot)
    }

    /// Restores snapshot `name` of `vm` into a new VM `newName` (``Restorer/restoreAsNewVM(vm:snapshot:newName:start:)``).
    public func restoreAsNewVM(vm nameOrUUID: String, snapshot name: String, newName: String, start: StartMode) throws(EngineError) -> (
        uuid: String, notices: [String]
    ) {
        try Self.validateVMName(newName)
        if (try? connection.lookupDomain(name: newName)) != nil {
            throw EngineError(.conflict, "a VM named '\(newName)' already exists")
        }
        let (vm, domain) = try vmForCatalogWork(nameOrUUID)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try restorer.restoreAsNewVM(vm: vm, snapshot: name, newName: newName, start: start)
    }

    /// Writes disk `disk` as it was at snapshot `name` to `destination` as a standalone image.
    public func exportDisk(vm nameOrUUID: String, snapshot name: String, disk: String, to destination: String, format: String) throws(EngineError) {
        guard format == "qcow2" || format == "raw" else { throw EngineError(.invalidInput, "--format must be qcow2 or raw") }
        if FileManager.default.fileExists(atPath: destination) {
            throw EngineError(.conflict, "\(destination) already exists; kvmsnap does not overwrite files")
        }
        // Under the VM's lock: a delete or prune meanwhile could merge the layers being read.
        let (vm, domain) = try vmForCatalogWork(nameOrUUID)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        try restorer.exportDisk(vm: vm, snapshot: name, disk: disk, to: destination, format: format)
    }

    /// Declares `vm` a disposable lab VM whose baseline is snapshot `name`.
    public func markLab(vm nameOrUUID: String, baseline name: String) throws(EngineError) {
        // Under the VM's lock: a delete of the snapshot meanwhile would leave a dangling baseline.
        let (vm, domain) = try vmForCatalogWork(nameOrUUID)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        try restorer.markLab(vm: vm, baseline: name)
    }

    public func unmarkLab(vm nameOrUUID: String) throws(EngineError) {
        try restorer.unmarkLab(vm: try catalogVM(nameOrUUID))
    }

    public typealias ResetResult = LabResetResult

    /// Puts lab VMs back to their baselines, in parallel, without confirmation or safety snapshot.
    /// A VM that is not a lab VM is refused before anything runs. Each VM is reverted under its
    /// own lock (``revert(vm:to:start:)``).
    public func resetLabs(_ names: [String]) throws(EngineError) -> [ResetResult] {
        var targets: [(VMRecord, SnapshotRecord)] = []
        for name in names {
            let vm = try catalogVM(name)
            targets.append((vm, try restorer.labBaseline(of: vm)))
        }
        return restorer.resetLabs(targets) { [self] vm, baseline throws(EngineError) in
            _ = try revert(vm: vm.uuid, to: baseline.name, start: .running)
        }
    }

    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = .current
        return formatter.string(from: date)
    }
}
