import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

public struct CreateOptions: Sendable {
    public var name: String
    public var description: String = ""
    /// Write a standalone copy of every disk (later incrementals chain from it).
    public var full = false
    /// Skip memory even when the VM runs (crash-consistent disks only).
    public var diskOnly = false
    /// Freeze guest filesystems through the QEMU guest agent around the disk capture.
    public var quiesce: QuiesceMode = .off
    /// Run the pre-/post-snapshot hooks (off for snapshots the engine takes for itself).
    public var runHooks = true
    public var pin = false
    public var expiresAt: Date?
    public var labels: [String] = []
    /// Take an automatic full after this many incrementals in a row (0 = never).
    public var fullEvery = 14
    /// Upper bound (ms) for the guest's pause at the end of a live memory capture: QEMU's
    /// migration downtime limit during the capture (its default is 300 ms; the previous value is
    /// put back afterwards). Lower means more copy passes before the final pause; a guest that
    /// rewrites more memory than it can copy in that time keeps the capture from converging, so
    /// raise it (or nil = leave the hypervisor's setting) for such guests.
    public var maxPauseMs: UInt64? = 50
    /// Capture memory with the guest paused from the start (one pass, no live pre-copy) instead
    /// of live. For the restore's safety snapshot: the guest is stopped right afterwards anyway,
    /// so its pause costs nothing, and QEMU writes each page once with both cores to itself.
    /// libvirt resumes the guest when the capture fails (or when libvirtd restarts under it).
    public var pauseGuest = false

    public init(name: String) { self.name = name }
}

/// Whether a capture freezes the guest's filesystems (QEMU guest agent, `fsfreeze`).
///
/// A quiesced capture is disk-only: a memory image taken while frozen would bring the guest
/// back frozen on restore, and memory + disks captured together are consistent anyway.
public enum QuiesceMode: String, Sendable, Codable {
    /// Never freeze.
    case off
    /// Freeze when the capture is disk-only on a running VM and its agent is connected;
    /// otherwise capture without freezing and say so in a notice when the agent is missing.
    case auto
    /// Freeze (capturing disks only) or fail before changing anything when there is no agent.
    case required
}

public struct CreateResult: Sendable {
    public var snapshot: SnapshotRecord
    /// Things the user should know: skipped disks, an automatic full, a missing agent.
    public var notices: [String]
}

/// What a create job writes into the journal before it touches anything, so that a crashed
/// run can be finished or rolled back.
struct CreateJournal: Codable {
    var snapshotID: String
    /// disk target → path of the new overlay libvirt creates (becomes the active layer).
    var newOverlays: [String: String]
    /// disk target → layer id that the snapshot freezes (the active layer before).
    var frozen: [String: String]
    var memoryPath: String?
    var full: Bool
    /// `--full`: disk target → the standalone copy and the overlay on it the VM moves onto,
    /// named before any of them exists, so recovery can finish or undo the copy from any step.
    var fullCopies: [String: FullCopyPaths]? = nil
    /// Set when the create failed and its rollback could not finish: recovery only rolls back.
    var rollBack: Bool? = nil
}

/// The files of one disk's `--full` copy: `copy` (written as `copy.partial` first) and `top`,
/// the new overlay on it that the VM is moved onto (block copy destination, then pivot).
struct FullCopyPaths: Codable, Equatable {
    var copy: String
    var top: String
}

extension SnapshotEngine {
    /// Captures memory (when running, unless `diskOnly`), every writable disk and the
    /// configuration at one point in time, with the guest kept running while memory is written.
    public func createSnapshot(vm nameOrUUID: String, options: CreateOptions) throws(EngineError) -> CreateResult {
        try Self.validateName(options.name)
        try Self.validateExpiry(options.expiresAt)
        let domain = try domain(nameOrUUID)
        // Recorded in the catalog by `create` once nothing refuses any more.
        let vm = try unsavedRecord(for: domain)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try create(domain: domain, vm: vm, options: options)
    }

    /// The capture service, reading the engine's configuration as it is at each step.
    var capture: Capture {
        Capture(connection: connection, catalog: catalog, settings: { [self] in configuration }, jobJournal: jobJournal, hookService: hookService)
    }

    /// ``Capture/create(domain:vm:options:willStart:)``; the caller holds the VM's lock.
    func create(
        domain: Domain, vm: VMRecord, options: CreateOptions,
        willStart: (() throws(EngineError) -> Void)? = nil
    ) throws(EngineError) -> CreateResult {
        try capture.create(domain: domain, vm: vm, options: options, willStart: willStart)
    }
}

/// The capture service: create (plan, capture, `--full` copy, record), its rollback, and the
/// recovery of a create whose process died (``recoverCreate(journal:vm:domain:)``).
///
/// State: none of its own; the create's journal is the job's (``JobJournal``). A value built per
/// call by the engine (``SnapshotEngine/capture``) that reads the engine's configuration at each
/// step, as the engine does (a fault injector or progress handler set meanwhile applies).
/// Calls: ``JobJournal``, ``Hooks``, ``LayerStore``, libvirt, ``ImageTool``, ``Durability``.
/// The caller resolves the VM and holds its lock.
struct Capture: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let settings: @Sendable () -> EngineConfiguration
    let jobJournal: JobJournal
    let hookService: Hooks

    var configuration: EngineConfiguration { settings() }
    var store: StoreLayout { configuration.store }
    var clock: any EngineClock { configuration.clock }
    var diagnostics: Diagnostics { configuration.diagnostics }
    var progress: ProgressHandler? { configuration.progress }
    var durability: Durability { configuration.durability }
    var layerStore: LayerStore { LayerStore(connection: connection, catalog: catalog, configuration: configuration) }

    /// The create itself; the caller holds the VM's lock. `willStart` runs once every check has
    /// passed, right before the create job is written (a refusal before it changed nothing).
    func create(
        domain: Domain, vm: VMRecord, options: CreateOptions,
        willStart: (() throws(EngineError) -> Void)? = nil
    ) throws(EngineError) -> CreateResult {
        var plan = try planCreate(domain: domain, vm: vm, options: options)
        try willStart?()
        return try runCreate(&plan, domain: domain, options: options)
    }

    /// What a create decided under the lock, before it changes anything.
    struct CreatePlan {
        var vm: VMRecord
        var notices: [String]
        var definition: DomainDefinition
        var running: Bool
        var withMemory: Bool
        var freeze: Bool
        var captured: [DomainDisk]
        /// The images a first snapshot adopts as original layers.
        var adopt: [LayerRecord]
        var journal: CreateJournal
        var snapshot: SnapshotRecord
    }

    /// Every check and decision of a create; refuses before anything is changed.
    func planCreate(domain: Domain, vm: VMRecord, options: CreateOptions) throws(EngineError) -> CreatePlan {
        // Everything the capture decides on (the parent above all) is read here, under the lock:
        // a record read before it may predate a restore or delete that held the VM meanwhile.
        let vm = try currentVM(vm)
        var notices: [String] = []
        let existing = try db { () throws(CatalogError) in try catalog.read { try $0.snapshots(vmUUID: vm.uuid) } }
        if existing.contains(where: { $0.name == options.name }) {
            throw EngineError(.conflict, "VM \(vm.name) already has a snapshot named '\(options.name)'")
        }
        try refuseInternalSnapshots(domain, vmName: vm.name)

        let running = SnapshotEngine.isActive(domain)
        let liveXML = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: running ? [] : [.inactive]) }
        let configXML = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        let definition = try DomainDefinition(xml: liveXML)
        let (withMemory, freeze) = try Self.quiesce(options, running: running, definition: definition, vm: vm, notices: &notices)

        // Decide which disks to capture; refuse before changing anything.
        var captured: [DomainDisk] = []
        for disk in definition.disks {
            if let reason = disk.skipReason { notices.append("skipping \(reason)"); continue }
            guard disk.sourceType == "file" || disk.sourceType == "block", let path = disk.path else {
                throw EngineError(.unsupported, "cannot snapshot disk \(disk.target): source type '\(disk.sourceType)' is not supported")
            }
            guard let format = disk.format, format == "qcow2" || format == "raw" else {
                throw EngineError(.unsupported, "cannot snapshot disk \(disk.target) (\(path)): format '\(disk.format ?? "unknown")' is not qcow2 or raw")
            }
            captured.append(disk)
        }
        if captured.isEmpty { throw EngineError(.unsupported, "VM \(vm.name) has no disk kvmsnap can snapshot") }

        // Map each disk's current image to its layer; a first snapshot adopts the images as-is.
        let layers = try db { () throws(CatalogError) in try catalog.read { try $0.layers(vmUUID: vm.uuid) } }
        let byPath = Dictionary(layers.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var adopt: [LayerRecord] = []
        var frozen: [String: String] = [:]
        for disk in captured {
            if let layer = byPath[disk.path!] {
                frozen[disk.target] = layer.id
            } else if layers.contains(where: { $0.diskTarget == disk.target }) {
                throw LayerStore.changedOutside(vm: vm, disk: disk.target, path: disk.path!)
            } else {
                if let taken = try db({ () throws(CatalogError) in try catalog.read { try $0.layer(path: disk.path!) } }) {
                    throw try imageOfAnotherVM(taken, disk: disk.target, vm: vm)
                }
                let layer = LayerRecord(
                    id: Identifier.make("l-"), vmUUID: vm.uuid, diskTarget: disk.target, path: disk.path!,
                    format: disk.format!, parentLayerID: nil, role: .original, createdAt: clock.now())
                adopt.append(layer)
                frozen[disk.target] = layer.id
            }
        }

        let readySnapshots = existing.filter { $0.state == .ready }
        let isRoot = readySnapshots.isEmpty
        var full = options.full && !isRoot
        if !full, !isRoot, options.fullEvery > 0, incrementalsSinceFull(from: vm.currentSnapshotID, in: existing) >= options.fullEvery {
            full = true
            notices.append("taking a full snapshot: \(options.fullEvery) incrementals in a row since the last full")
        }

        let snapshotID = Identifier.make("s-")
        var newOverlays: [String: String] = [:]
        for disk in captured { newOverlays[disk.target] = store.layerPath(vmUUID: vm.uuid, layerID: Identifier.make("l-")) }
        let memoryPath = withMemory ? store.memoryPath(vmUUID: vm.uuid, snapshotID: snapshotID) : nil
        try layerStore.validateChains(vm: vm, captured: captured, frozen: frozen, layers: layers + adopt)
        let journal = CreateJournal(
            snapshotID: snapshotID, newOverlays: newOverlays, frozen: frozen, memoryPath: memoryPath, full: full,
            fullCopies: full ? planFullCopies(vmUUID: vm.uuid, captured: captured) : nil)

        let snapshot = SnapshotRecord(
            id: snapshotID, vmUUID: vm.uuid, name: options.name, description: options.description,
            kind: (isRoot || full) ? .full : .incremental, parentID: isRoot ? nil : vm.currentSnapshotID,
            createdAt: clock.now(), state: .pending, hasMemory: withMemory, memoryPath: memoryPath,
            configXML: configXML, pinned: options.pin, expiresAt: options.expiresAt, labels: options.labels)
        return CreatePlan(
            vm: vm, notices: notices, definition: definition, running: running, withMemory: withMemory, freeze: freeze,
            captured: captured, adopt: adopt, journal: journal, snapshot: snapshot)
    }

    /// Runs a planned create as a job: capture, record, hooks; rolls back what it did on failure.
    func runCreate(_ plan: inout CreatePlan, domain: Domain, options: CreateOptions) throws(EngineError) -> CreateResult {
        let (vm, journal, definition, captured, adopt) = (plan.vm, plan.journal, plan.definition, plan.captured, plan.adopt)
        let (snapshotID, running, withMemory) = (plan.snapshot.id, plan.running, plan.withMemory)
        var snapshot = plan.snapshot
        var notices = plan.notices
        try store.prepare(vmUUID: vm.uuid)
        try vmRecord(for: domain)
        let job = try jobJournal.start(kind: .create, vm: vm, snapshotID: snapshotID, snapshotName: options.name, journal: SnapshotEngine.encode(journal))
        snapshot.jobID = job.id
        if options.runHooks {
            do { try hookService.runPre(.preSnapshot, job: job) } catch {
                let failure = EngineError(error.code, "\(error.message); no snapshot was taken")
                jobJournal.finish(job, error: failure)
                throw failure
            }
        }
        do {
            try db { () throws(CatalogError) in
                try catalog.write { db in
                    for layer in adopt { try db.insert(layer) }
                    try db.insert(snapshot)
                }
            }
            try inject(.createBeforeCapture)
            if running { try createOverlays(journal: journal, captured: captured) }
            let pauseMs = try withFrozenFilesystems(plan.freeze ? domain : nil, notices: &notices) { () throws(EngineError) in
                try capture(
                    domain: domain, journal: journal, allDisks: definition.disks, captured: captured, running: running,
                    withMemory: withMemory, maxPauseMs: options.maxPauseMs, pauseGuest: options.pauseGuest)
            }
            snapshot.guestPauseMs = pauseMs
            try inject(.createAfterCapture)
            if let nvram = definition.nvramPath {
                snapshot.nvramPath = try copyNVRAM(from: nvram, vmUUID: vm.uuid, snapshotID: snapshotID)
            }
            try finishCreate(domain: domain, vm: vm, snapshot: &snapshot, journal: journal, captured: captured)
        } catch {
            if let unfinished = rollBackCreate(domain: domain, vmUUID: vm.uuid, journal: journal, adopted: adopt) {
                throw leaveRollbackToRecovery(job, journal: journal, vm: vm, error: error, unfinished: unfinished)
            }
            jobJournal.finish(job, error: error)
            throw error
        }
        // The snapshot stands; a failed clean-up only leaves space to reclaim later.
        do { try layerStore.reclaim(vmUUID: vm.uuid, domain: domain) } catch {
            notices.append("snapshot taken, but reclaiming unused layers failed: \(error.message)")
        }
        var note: String?
        if options.runHooks {
            let failures = hookService.runPost(.postSnapshot, job: job)
            notices += failures
            if !failures.isEmpty { note = failures.joined(separator: "; ") }
        }
        jobJournal.finish(job, error: nil, note: note)
        return CreateResult(snapshot: snapshot, notices: notices)
    }

    /// Whether the capture keeps memory and freezes the guest's filesystems, by `--quiesce`.
    static func quiesce(
        _ options: CreateOptions, running: Bool, definition: DomainDefinition, vm: VMRecord,
        notices: inout [String]
    ) throws(EngineError) -> (withMemory: Bool, freeze: Bool) {
        var withMemory = running && !options.diskOnly
        var freeze = false
        switch options.quiesce {
        case .off: break
        case .required:
            guard running else { notices.append("VM is shut off: its disks are consistent without quiesce"); break }
            guard definition.agentChannel == .connected else {
                throw EngineError(
                    .conflict,
                    "cannot quiesce \(vm.name): no QEMU guest agent is connected (channel org.qemu.guest_agent.0); start qemu-guest-agent in the guest or drop "
                        + "--quiesce; nothing was changed"
                )
            }
            if withMemory {
                withMemory = false
                notices.append("quiesced: disks only (a memory image would restore the guest with frozen filesystems)")
            }
            freeze = true
        case .auto:
            guard running, !withMemory else { break }
            if definition.agentChannel == .connected {
                freeze = true
            } else {
                notices.append("no QEMU guest agent connected: disks captured crash-consistent (not quiesced)")
            }
        }
        return (withMemory, freeze)
    }

    func incrementalsSinceFull(from id: String?, in snapshots: [SnapshotRecord]) -> Int {
        let byID = Dictionary(uniqueKeysWithValues: snapshots.map { ($0.id, $0) })
        var count = 0
        var cursor = id
        while let current = cursor, let snap = byID[current], snap.kind == .incremental {
            count += 1
            cursor = snap.parentID
        }
        return count
    }
}

extension EngineService {
    /// Refuses a VM with libvirt internal snapshots (kvmsnap's external ones must not mix with them).
    func refuseInternalSnapshots(_ domain: Domain, vmName: String) throws(EngineError) {
        let snapshots = try lv("cannot list libvirt snapshots") { () throws(LibvirtError) in try domain.snapshots() }
        for snapshot in snapshots {
            // Read checked: an unreadable one might be internal, and mixing the kinds loses data.
            let xml = try lv("cannot read libvirt snapshot '\(snapshot.name)'") { () throws(LibvirtError) in try snapshot.xml() }
            if xml.contains("snapshot='internal'") || xml.contains("snapshot=\"internal\"") {
                throw EngineError(
                    .unsupported,
                    "VM \(vmName) has internal snapshots (e.g. '\(snapshot.name)'); kvmsnap uses external snapshots and mixing the two kinds loses data: "
                        + "delete them with 'virsh snapshot-delete' first"
                )
            }
        }
    }
}
