import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

/// A snapshot with what the user sees alongside it.
public struct SnapshotInfo: Sendable {
    public var record: SnapshotRecord
    public var parentName: String?
    /// disk target → layer path holding that disk as it was.
    public var layers: [String: String]
}

public struct VMUsage: Sendable {   // printed through UsageJSON (KVMSnapCommands), its one JSON model
    public var vm: String
    public var uuid: String
    public var snapshots: Int
    public var memoryBytes: Int64
    /// All disk layers kvmsnap tracks for the VM (including the VM's original images).
    public var layerBytes: Int64
    /// Layers that two or more snapshots (or a snapshot and the running VM) read.
    public var sharedBytes: Int64
    /// Layers only one snapshot or only the running VM reads.
    public var exclusiveBytes: Int64
    public var totalBytes: Int64 { memoryBytes + layerBytes }
}

public struct DriftReport: Sendable, Encodable {
    public var vm: String
    public var uuid: String
    public var problems: [String]
}

extension SnapshotEngine {
    /// The catalog's VM for `nameOrUUID` (defined in libvirt or only remembered by the catalog).
    /// `register: false` for commands that only read (see ``vmForCatalogWork(_:register:)``).
    public func catalogVM(_ nameOrUUID: String, register: Bool = true) throws(EngineError) -> VMRecord {
        try vmForCatalogWork(nameOrUUID, register: register).0
    }

    /// All snapshots of a VM, oldest first.
    public func snapshots(vm nameOrUUID: String) throws(EngineError) -> (VMRecord, [SnapshotInfo]) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        recoverIfIdle(vm: vm, domain: domain)
        let infos = try db { () throws(CatalogError) in
            try catalog.read { db -> [SnapshotInfo] in
                let records = try db.snapshots(vmUUID: vm.uuid)
                let names = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.name) })
                let layers = Dictionary(uniqueKeysWithValues: try db.layers(vmUUID: vm.uuid).map { ($0.id, $0.path) })
                var disksBySnapshot: [String: [String: String]] = [:]
                for disk in try db.disks(vmUUID: vm.uuid) {
                    disksBySnapshot[disk.snapshotID, default: [:]][disk.diskTarget] = layers[disk.layerID]
                }
                return records.map { SnapshotInfo(record: $0, parentName: $0.parentID.flatMap { names[$0] }, layers: disksBySnapshot[$0.id] ?? [:]) }
            }
        }
        return (vm, infos)
    }

    /// For listings of many snapshots: records WITHOUT `configXML` (empty) and without `layers`
    /// (empty), read in one query. Use `snapshots(vm:)` when either is needed.
    public func snapshotSummaries(vm nameOrUUID: String) throws(EngineError) -> (VMRecord, [SnapshotInfo]) {
        var infos: [SnapshotInfo] = []
        let vm = try forEachSnapshotSummary(vm: nameOrUUID) { infos.append($0) }
        return (vm, infos)
    }

    /// The VM's snapshots, oldest first, handed over one at a time inside one read transaction,
    /// without configuration XML or layers (for listings; `list --json` streams 100,000 of them).
    @discardableResult
    public func forEachSnapshotSummary(vm nameOrUUID: String, _ body: (SnapshotInfo) -> Void) throws(EngineError) -> VMRecord {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        recoverIfIdle(vm: vm, domain: domain)
        try db { () throws(CatalogError) in
            try catalog.read { db in
                // A snapshot's parent is usually the one listed just before it; other parents
                // (branch points after a restore) are looked up once each and remembered.
                var previous: (id: String, name: String)?
                var otherParents: [String: String?] = [:]
                try db.forEachSnapshotSummary(vmUUID: vm.uuid) { record in
                    var parentName: String?
                    if let parentID = record.parentID {
                        if let previous, previous.id == parentID { parentName = previous.name }
                        else if let known = otherParents[parentID] { parentName = known }
                        else { parentName = try db.snapshotName(id: parentID, vmUUID: vm.uuid); otherParents[parentID] = parentName }
                    }
                    previous = (record.id, record.name)
                    body(SnapshotInfo(record: record, parentName: parentName, layers: [:]))
                }
            }
        }
        return vm
    }

    public func snapshot(vm nameOrUUID: String, name: String) throws(EngineError) -> SnapshotInfo {
        let (vm, all) = try snapshots(vm: nameOrUUID)
        guard let info = all.first(where: { $0.record.name == name }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
        }
        return info
    }

    public func rename(vm nameOrUUID: String, snapshot name: String, to newName: String) throws(EngineError) {
        try Self.validateName(newName)
        try updateSnapshot(vm: nameOrUUID, name: name) { db, vm, record in
            if newName != name, try db.snapshot(vmUUID: vm.uuid, name: newName) != nil {
                throw EngineError(.conflict, "VM \(vm.name) already has a snapshot named '\(newName)'")
            }
            record.name = newName
        }
    }

    /// Changes a snapshot's description, expiry (`.some(nil)` clears it) or pin.
    /// A new expiry replaces the stored one before the row is read, so this also repairs a row
    /// whose stored expiry cannot be read (`edit VM S --expires never`).
    public func edit(vm nameOrUUID: String, snapshot name: String, description: String?, expiresAt: Date??, pinned: Bool?) throws(EngineError) {
        if let expiresAt { try Self.validateExpiry(expiresAt) }
        try updateSnapshot(vm: nameOrUUID, name: name, expiresAt: expiresAt) { _, _, record in
            if let description { record.description = description }
            if let pinned { record.pinned = pinned }
        }
    }

    /// Refuses an expiry kvmsnap could not read back: outside years 1970...9999 (`Bounds`).
    static func validateExpiry(_ date: Date?) throws(EngineError) {
        if let date, !Bounds.isStorableDate(date) {
            throw EngineError(.invalidInput, "expiry \(Timestamp.format(date)) is outside the supported years 1970-9999")
        }
    }

    /// Changes one snapshot's catalog row under the VM's lock, in one transaction.
    /// With `expiresAt`, the stored expiry is set first (same transaction).
    func updateSnapshot(vm nameOrUUID: String, name: String, expiresAt: Date?? = nil,
                        _ change: (CatalogAccess, VMRecord, inout SnapshotRecord) throws -> Void) throws(EngineError) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        try db { () throws(CatalogError) in
            try catalog.write { db in
                if let expiresAt { try db.setExpiry(vmUUID: vm.uuid, name: name, expiresAt: expiresAt) }
                guard var record = try db.snapshot(vmUUID: vm.uuid, name: name) else {
                    throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
                }
                try change(db, vm, &record)
                try db.update(record)
            }
        }
    }

    /// Whether the VM is not in the run state its last restore or revert left it in (or that
    /// job's rollback failed); nil when it is, or when that cannot be told.
    static func runStateDrift(_ domain: Domain, after job: JobRecord) -> String? {
        let what = "the last \(job.kind) (job \(job.id ?? 0))"
        let expected: StartMode?
        if job.jobKind == .restore, let journal = job.decodedJournal(RestoreJournal.self) {
            if job.state == .succeeded || job.restoreStage == .finishing {
                expected = switch journal.target { case .running: .running; case .paused: .paused; case .off: .off }
            } else if job.error?.contains("ROLLBACK FAILED") == true {
                return "\(what) failed and so did its rollback: the VM may be in neither state; see 'kvmsnap jobs'"
            } else {
                expected = journal.wasRunning ? .running : .off
            }
        } else if job.jobKind == .revert, job.state == .succeeded, let journal = job.decodedJournal(RevertJournal.self) {
            expected = journal.start
        } else {
            expected = nil
        }
        guard let expected, let state = try? domain.state().state else { return nil }
        let matches = switch expected {
        case .running: state == .running || (job.state == .failed && state == .paused)
        case .paused: state == .paused
        case .off: state == .shutoff
        }
        if matches { return nil }
        // After a restore or revert that succeeded, an ordinary shutdown (the guest's own, or a
        // destroy someone asked for) is the user's business, not drift; a crash or failure is.
        if job.state == .succeeded, state == .shutoff, (try? domain.shutoffReason)?.wasRequested == true { return nil }
        return "VM is \(state), but \(what) left it \(expected.rawValue) (changed outside kvmsnap, or a job that did not finish?)"
    }

    /// The VM's disk sources now, or nil (reported to the diagnostics) when they cannot be read.
    private func liveDiskSources(_ domain: Domain, vm: VMRecord) -> [String: String]? {
        do { return try currentDiskSources(domain) } catch {
            diagnostics.swallowed("reading the live definition of \(vm.name) to compare its disks", error)
            return nil
        }
    }

    /// Finishes jobs a crashed kvmsnap left behind when nobody holds the VM right now; a busy VM
    /// is left alone (its owner is alive and will finish its own job).
    func recoverIfIdle(vm: VMRecord, domain: Domain?) {
        guard !catalog.isReadOnly else { return }
        let unfinished: [JobRecord]
        do { unfinished = try jobJournal.unfinished(vmUUID: vm.uuid, limit: 1) } catch {
            diagnostics.swallowed("reading the unfinished jobs of \(vm.name)", error)
            return
        }
        guard !unfinished.isEmpty else { return }
        if let lock = try? lockVM(vm, domain: domain, wait: .zero) { withExtendedLifetime(lock) {} }
    }

    /// Bytes per VM: memory files and disk layers, split into shared and exclusive.
    public func usage(vm nameOrUUID: String?) throws(EngineError) -> [VMUsage] {
        let vms: [VMRecord]
        if let nameOrUUID { vms = [try catalogVM(nameOrUUID, register: false)] } else {
            vms = try db { () throws(CatalogError) in try catalog.read { try $0.allVMs() } }
        }
        var result: [VMUsage] = []
        for vm in vms {
            let domain = try? connection.lookupDomain(uuid: vm.uuid)
            let (tree, refs, layers, diskRefs) = try layerState(vmUUID: vm.uuid, domain: domain)
            let snapshots = try db { () throws(CatalogError) in try catalog.read { try $0.snapshots(vmUUID: vm.uuid) } }
            // How many referents (snapshot tops and the VM's active layers) read each layer.
            var readers: [String: Int] = [:]
            for top in diskRefs.map(\.layerID) + Array(refs.active) {
                for id in tree.chain(from: top) { readers[id, default: 0] += 1 }
            }
            var usage = VMUsage(vm: vm.name, uuid: vm.uuid, snapshots: snapshots.count, memoryBytes: 0, layerBytes: 0, sharedBytes: 0, exclusiveBytes: 0)
            for snap in snapshots {
                usage.memoryBytes += snap.memoryPath.map { ImageTool.allocatedBytes($0) } ?? 0
                usage.memoryBytes += snap.nvramPath.map { ImageTool.allocatedBytes($0) } ?? 0
            }
            for layer in layers.values {
                let bytes = ImageTool.allocatedBytes(layer.path)
                usage.layerBytes += bytes
                if readers[layer.id, default: 0] >= 2 { usage.sharedBytes += bytes } else { usage.exclusiveBytes += bytes }
            }
            result.append(usage)
        }
        return result
    }

    /// What `check` finds wrong with a VM's layer files and snapshots, from the catalog's rows.
    static func fileProblems(layers: [LayerRecord], snapshots: [SnapshotRecord], disks: [SnapshotDiskRecord]) -> [String] {
        var problems: [String] = []
        let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
        for layer in layers {
            guard FileManager.default.fileExists(atPath: layer.path) else {
                problems.append("layer file missing: \(layer.path) (\(layer.diskTarget))")
                continue
            }
            if layer.format == "qcow2", let info = try? ImageTool.info(layer.path) {
                let expected = layer.parentLayerID.flatMap { byID[$0]?.path }
                if layer.role != .original, info.backingFile != expected {
                    problems.append("\(layer.path) is backed by \(info.backingFile ?? "nothing"), catalog expects \(expected ?? "nothing")")
                }
            }
        }
        for snap in snapshots {
            if snap.state != .ready { problems.append("snapshot '\(snap.name)' is \(snap.state.rawValue)") }
            if snap.hasMemory, let path = snap.memoryPath, !FileManager.default.fileExists(atPath: path) {
                problems.append("memory file of '\(snap.name)' missing: \(path)")
            }
            if snap.state == .ready, !disks.contains(where: { $0.snapshotID == snap.id }) {
                problems.append("snapshot '\(snap.name)' records no disk layers")
            }
        }
        return problems
    }

    /// Reports drift between the catalog and reality. Never changes anything.
    public func check(vm nameOrUUID: String?) throws(EngineError) -> [DriftReport] {
        let vms: [VMRecord]
        if let nameOrUUID { vms = [try catalogVM(nameOrUUID, register: false)] } else {
            vms = try db { () throws(CatalogError) in try catalog.read { try $0.allVMs() } }
        }
        var reports: [DriftReport] = []
        for vm in vms {
            var problems: [String] = []
            let domain = try? connection.lookupDomain(uuid: vm.uuid)
            if let domain {
                if domain.name != vm.name { problems.append("VM was renamed in libvirt: catalog says '\(vm.name)', libvirt says '\(domain.name)'") }
            } else {
                problems.append("VM \(vm.name) (\(vm.uuid)) is no longer defined in libvirt; 'kvmsnap forget \(forgetArgument(vm))' drops it from the catalog")
            }
            let rows: ([LayerRecord], [SnapshotRecord], [SnapshotDiskRecord], [JobRecord], JobRecord?)
            do {
                rows = try db { () throws(CatalogError) in
                    try catalog.read { db in
                        (try db.layers(vmUUID: vm.uuid), try db.snapshots(vmUUID: vm.uuid), try db.disks(vmUUID: vm.uuid),
                         try db.jobs(vmUUID: vm.uuid, states: [.running, .pending]),
                         try db.jobs(vmUUID: vm.uuid, states: [.succeeded, .failed], kinds: [JobKind.restore.rawValue, JobKind.revert.rawValue], limit: 1).first)
                    }
                }
            } catch {
                // One unreadable row is this VM's problem, reported like any other; the others are still checked.
                reports.append(DriftReport(vm: vm.name, uuid: vm.uuid, problems: problems + [error.message]))
                continue
            }
            let (layers, snapshots, disks, unfinished, lastStateChange) = rows
            problems += Self.fileProblems(layers: layers, snapshots: snapshots, disks: disks)
            if let domain, let sources = liveDiskSources(domain, vm: vm) {
                let known = Set(layers.map(\.path))
                let tracked = Set(layers.map(\.diskTarget))
                for (target, path) in sources.sorted(by: { $0.key < $1.key }) where tracked.contains(target) && !known.contains(path) {
                    problems.append("disk \(target) uses \(path), which is not in kvmsnap's chain (changed outside kvmsnap)")
                }
            }
            if let domain { problems += definitionProblems(domain) }
            // Files in the store that the catalog does not know.
            let known = Set(layers.map(\.path) + snapshots.compactMap(\.memoryPath) + snapshots.compactMap(\.nvramPath))
            for dir in [store.layersDirectory(vm.uuid), store.memoryDirectory(vm.uuid), store.nvramDirectory(vm.uuid)] {
                for file in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !known.contains("\(dir)/\(file)") {
                    problems.append("file not in the catalog: \(dir)/\(file)")
                }
            }
            for job in unfinished {
                if job.state == .pending {
                    problems.append("job \(job.id ?? 0) (\(job.kind)) is not finished: \(job.error ?? "pending")")
                } else if VMLock.isHeld(path: store.lockPath(vm.uuid)) {
                    problems.append("job \(job.id ?? 0) (\(job.kind)) is running now (since \(job.startedAt)); check again when it is done")
                } else {
                    // Nobody holds the VM's lock: the job's kvmsnap process is gone.
                    problems.append("job \(job.id ?? 0) (\(job.kind)) was left running by a kvmsnap process that died (since \(job.startedAt)); the next kvmsnap command on \(vm.name) finishes it")
                }
            }
            if let domain, let job = lastStateChange, let problem = Self.runStateDrift(domain, after: job) { problems.append(problem) }
            reports.append(DriftReport(vm: vm.name, uuid: vm.uuid, problems: problems))
        }
        return reports
    }
}
