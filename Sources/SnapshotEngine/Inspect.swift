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

    public init(record: SnapshotRecord, parentName: String?, layers: [String: String]) {
        self.record = record
        self.parentName = parentName
        self.layers = layers
    }
}

public struct VMUsage: Sendable {  // printed through UsageJSON (KVMSnapCommands), its one JSON model
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

/// The inspect service: what the catalog, the files and libvirt say about VMs: snapshot
/// listings, usage (bytes, shared and exclusive) and check (drift). Never changes anything.
///
/// State: none of its own. A value built per call from the engine's configuration
/// (``SnapshotEngine/inspect``). Calls: the catalog, libvirt, ``LayerStore`` (layer state, disk
/// sources) and ``ImageTool``. The caller resolves the VMs (and finishes their dead jobs).
struct Inspect: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let configuration: EngineConfiguration

    var store: StoreLayout { configuration.store }
    var layerStore: LayerStore { LayerStore(connection: connection, catalog: catalog, configuration: configuration) }

    /// All snapshots of `vm`, oldest first.
    func snapshots(of vm: VMRecord) throws(EngineError) -> [SnapshotInfo] {
        try db { () throws(CatalogError) in
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
    }

    /// The VM's snapshots, oldest first, handed over one at a time inside one read transaction,
    /// without configuration XML or layers (for listings; `list --json` streams 100,000 of them).
    func forEachSnapshotSummary(of vm: VMRecord, _ body: (SnapshotInfo) -> Void) throws(EngineError) {
        try db { () throws(CatalogError) in
            try catalog.read { db in
                // A snapshot's parent is usually the one listed just before it; other parents
                // (branch points after a restore) are looked up once each and remembered.
                var previous: (id: String, name: String)?
                var otherParents: [String: String?] = [:]
                try db.forEachSnapshotSummary(vmUUID: vm.uuid) { record in
                    var parentName: String?
                    if let parentID = record.parentID {
                        if let previous, previous.id == parentID {
                            parentName = previous.name
                        } else if let known = otherParents[parentID] {
                            parentName = known
                        } else {
                            parentName = try db.snapshotName(id: parentID, vmUUID: vm.uuid); otherParents[parentID] = parentName
                        }
                    }
                    previous = (record.id, record.name)
                    body(SnapshotInfo(record: record, parentName: parentName, layers: [:]))
                }
            }
        }
    }

    /// Bytes per VM: memory files and disk layers, split into shared and exclusive.
    func usage(of vms: [VMRecord]) throws(EngineError) -> [VMUsage] {
        var result: [VMUsage] = []
        for vm in vms {
            let domain = try? connection.lookupDomain(uuid: vm.uuid)
            let (tree, refs, layers, diskRefs) = try layerStore.layerState(vmUUID: vm.uuid, domain: domain)
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

    /// Disks whose source is a frozen layer (a layer of a snapshot's chain): starting the VM
    /// would write into it and change what that snapshot restores.
    static func frozenLayerProblems(
        sources: [String: String], layers: [LayerRecord], snapshots: [SnapshotRecord], disks: [SnapshotDiskRecord]
    ) -> [String] {
        let tree = LayerTree(layers.map { .init(id: $0.id, parentID: $0.parentLayerID) })
        // Ready snapshots only: a capture in progress records its layers before the VM moves off them.
        let names = Dictionary(snapshots.filter { $0.state == .ready }.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        var frozenBy: [String: Set<String>] = [:]
        for disk in disks {
            guard let name = names[disk.snapshotID] else { continue }
            for id in tree.chain(from: disk.layerID) { frozenBy[id, default: []].insert(name) }
        }
        let byPath = Dictionary(layers.map { ($0.path, $0.id) }, uniquingKeysWith: { first, _ in first })
        var problems: [String] = []
        for (target, path) in sources.sorted(by: { $0.key < $1.key }) {
            guard let id = byPath[path], let owners = frozenBy[id] else { continue }
            let what = "a frozen layer of snapshot " + owners.sorted().map { "'\($0)'" }.joined(separator: ", ")
            problems.append(
                "disk \(target) uses \(path), \(what): running the VM writes into it and changes what that restore point holds; "
                    + "revert or restore the VM to a snapshot with kvmsnap to put it on a new overlay")
        }
        return problems
    }

    /// Reports drift between the catalog and reality. Never changes anything.
    func check(_ vms: [VMRecord]) throws(EngineError) -> [DriftReport] {
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
                        (
                            try db.layers(vmUUID: vm.uuid), try db.snapshots(vmUUID: vm.uuid), try db.disks(vmUUID: vm.uuid),
                            try db.jobs(vmUUID: vm.uuid, states: [.running, .pending]),
                            try db.jobs(vmUUID: vm.uuid, states: [.succeeded, .failed], kinds: [JobKind.restore.rawValue, JobKind.revert.rawValue], limit: 1)
                                .first
                        )
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
                problems += Self.frozenLayerProblems(sources: sources, layers: layers, snapshots: snapshots, disks: disks)
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
                    problems.append(
                        "job \(job.id ?? 0) (\(job.kind)) was left running by a kvmsnap process that died (since \(job.startedAt)); the next kvmsnap command "
                            + "on \(vm.name) finishes it"
                    )
                }
            }
            if let domain, let job = lastStateChange, let problem = Self.runStateDrift(domain, after: job) { problems.append(problem) }
            reports.append(DriftReport(vm: vm.name, uuid: vm.uuid, problems: problems))
        }
        return reports
    }

    /// Whether the VM is not in the run state its last restore or revert left it in (or that
    /// job's rollback failed); nil when it is, or when that cannot be told.
    static func runStateDrift(_ domain: Domain, after job: JobRecord) -> String? {
        let what = "the last \(job.kind) (job \(job.id ?? 0))"
        let expected: StartMode?
        if job.jobKind == .restore, let journal = job.decodedJournal(RestoreJournal.self) {
            if job.state == .succeeded || job.restoreStage == .finishing {
                expected =
                    switch journal.target {
                    case .running: .running;
                    case .paused: .paused;
                    case .off: .off
                    }
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
        let matches =
            switch expected {
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
        do { return try layerStore.currentDiskSources(domain) } catch {
            configuration.diagnostics.swallowed("reading the live definition of \(vm.name) to compare its disks", error)
            return nil
        }
    }

    /// What `check` reports about the VM's persistent definition: disk images it names that do
    /// not exist (a running VM keeps going, but `virsh start` after a shutdown would fail).
    func definitionProblems(_ domain: Domain) -> [String] {
        let definition: DomainDefinition
        do {
            let xml = try lv("cannot read the VM's persistent definition") { () throws(LibvirtError) in try domain.xml(flags: [.inactive]) }
            definition = try DomainDefinition(xml: xml)
        } catch {
            return [error.message]
        }
        return definition.disks.compactMap { disk in
            guard disk.skipReason == nil, let path = disk.path, !FileManager.default.fileExists(atPath: path) else { return nil }
            return "the VM's definition names \(path) for disk \(disk.target), which does not exist: starting the VM would fail"
        }
    }
}

extension SnapshotEngine {
    /// The inspect service, with the configuration as it is now.
    var inspect: Inspect { Inspect(connection: connection, catalog: catalog, configuration: configuration) }

    /// All snapshots of a VM, oldest first.
    public func snapshots(vm nameOrUUID: String) throws(EngineError) -> (VMRecord, [SnapshotInfo]) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        recoverIfIdle(vm: vm, domain: domain)
        return (vm, try inspect.snapshots(of: vm))
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
        try inspect.forEachSnapshotSummary(of: vm, body)
        return vm
    }

    /// Bytes per VM: memory files and disk layers, split into shared and exclusive.
    public func usage(vm nameOrUUID: String?) throws(EngineError) -> [VMUsage] {
        try inspect.usage(of: try inspectedVMs(nameOrUUID))
    }

    /// Reports drift between the catalog and reality. Never changes anything.
    public func check(vm nameOrUUID: String?) throws(EngineError) -> [DriftReport] {
        try inspect.check(try inspectedVMs(nameOrUUID))
    }

    /// The one VM named, or every catalog VM for nil; nothing is registered.
    private func inspectedVMs(_ nameOrUUID: String?) throws(EngineError) -> [VMRecord] {
        if let nameOrUUID { return [try catalogVM(nameOrUUID, register: false)] }
        return try catalogVMRows.all()
    }
}
