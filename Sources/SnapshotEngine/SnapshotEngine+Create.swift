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

    /// The create itself; the caller holds the VM's lock. `willStart` runs once every check has
    /// passed, right before the create job is written (a refusal before it changed nothing).
    func create(domain: Domain, vm: VMRecord, options: CreateOptions,
                willStart: (() throws(EngineError) -> Void)? = nil) throws(EngineError) -> CreateResult {
        // Everything the capture decides on (the parent above all) is read here, under the lock:
        // a record read before it may predate a restore or delete that held the VM meanwhile.
        let vm = try currentVM(vm)
        var notices: [String] = []
        let existing = try db { () throws(CatalogError) in try catalog.read { try $0.snapshots(vmUUID: vm.uuid) } }
        if existing.contains(where: { $0.name == options.name }) {
            throw EngineError(.conflict, "VM \(vm.name) already has a snapshot named '\(options.name)'")
        }
        try refuseInternalSnapshots(domain, vmName: vm.name)

        let running = Self.isActive(domain)
        let liveXML = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: running ? [] : [.inactive]) }
        let configXML = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        let definition = try DomainDefinition(xml: liveXML)
        var withMemory = running && !options.diskOnly
        var freeze = false
        switch options.quiesce {
        case .off: break
        case .required:
            guard running else { notices.append("VM is shut off: its disks are consistent without quiesce"); break }
            guard definition.agentChannel == .connected else {
                throw EngineError(.conflict, "cannot quiesce \(vm.name): no QEMU guest agent is connected (channel org.qemu.guest_agent.0); start qemu-guest-agent in the guest or drop --quiesce; nothing was changed")
            }
            if withMemory {
                withMemory = false
                notices.append("quiesced: disks only (a memory image would restore the guest with frozen filesystems)")
            }
            freeze = true
        case .auto:
            guard running, !withMemory else { break }
            if definition.agentChannel == .connected { freeze = true } else {
                notices.append("no QEMU guest agent connected: disks captured crash-consistent (not quiesced)")
            }
        }

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
                throw Self.changedOutside(vm: vm, disk: disk.target, path: disk.path!)
            } else {
                if let taken = try db({ () throws(CatalogError) in try catalog.read { try $0.layer(path: disk.path!) } }) {
                    throw try imageOfAnotherVM(taken, disk: disk.target, vm: vm)
                }
                let layer = LayerRecord(id: Identifier.make("l-"), vmUUID: vm.uuid, diskTarget: disk.target, path: disk.path!,
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
        try validateChains(vm: vm, captured: captured, frozen: frozen, layers: layers + adopt)
        let journal = CreateJournal(snapshotID: snapshotID, newOverlays: newOverlays, frozen: frozen, memoryPath: memoryPath, full: full,
                                    fullCopies: full ? planFullCopies(vmUUID: vm.uuid, captured: captured) : nil)

        var snapshot = SnapshotRecord(
            id: snapshotID, vmUUID: vm.uuid, name: options.name, description: options.description,
            kind: (isRoot || full) ? .full : .incremental, parentID: isRoot ? nil : vm.currentSnapshotID,
            createdAt: clock.now(), state: .pending, hasMemory: withMemory, memoryPath: memoryPath,
            configXML: configXML, pinned: options.pin, expiresAt: options.expiresAt, labels: options.labels)
        try willStart?()
        try store.prepare(vmUUID: vm.uuid)
        try vmRecord(for: domain)
        let job = try startJob(kind: "create", vm: vm, snapshotID: snapshotID, snapshotName: options.name, journal: Self.encode(journal))
        snapshot.jobID = job.id
        if options.runHooks {
            do { try runPreHooks(.preSnapshot, job: job) } catch {
                let failure = EngineError(error.code, "\(error.message); no snapshot was taken")
                finishJob(job, error: failure)
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
            try inject("create.beforeCapture")
            if running { try createOverlays(journal: journal, captured: captured) }
            let pauseMs = try withFrozenFilesystems(freeze ? domain : nil, notices: &notices) { () throws(EngineError) in
                try capture(domain: domain, journal: journal, allDisks: definition.disks, captured: captured, running: running,
                            withMemory: withMemory, maxPauseMs: options.maxPauseMs, pauseGuest: options.pauseGuest)
            }
            snapshot.guestPauseMs = pauseMs
            try inject("create.afterCapture")
            if let nvram = definition.nvramPath {
                snapshot.nvramPath = try copyNVRAM(from: nvram, vmUUID: vm.uuid, snapshotID: snapshotID)
            }
            try finishCreate(domain: domain, vm: vm, snapshot: &snapshot, journal: journal, captured: captured)
        } catch {
            if let unfinished = rollBackCreate(domain: domain, vmUUID: vm.uuid, journal: journal, adopted: adopt) {
                throw leaveRollbackToRecovery(job, journal: journal, vm: vm, error: error, unfinished: unfinished)
            }
            finishJob(job, error: error)
            throw error
        }
        // The snapshot stands; a failed clean-up only leaves space to reclaim later.
        do { try reclaim(vmUUID: vm.uuid, domain: domain) } catch {
            notices.append("snapshot taken, but reclaiming unused layers failed: \(error.message)")
        }
        var note: String?
        if options.runHooks {
            let failures = runPostHooks(.postSnapshot, job: job)
            notices += failures
            if !failures.isEmpty { note = failures.joined(separator: "; ") }
        }
        finishJob(job, error: nil, note: note)
        return CreateResult(snapshot: snapshot, notices: notices)
    }

    func refuseInternalSnapshots(_ domain: Domain, vmName: String) throws(EngineError) {
        let snapshots = try lv("cannot list libvirt snapshots") { () throws(LibvirtError) in try domain.snapshots() }
        for snapshot in snapshots {
            let xml = (try? snapshot.xml()) ?? ""
            if xml.contains("snapshot='internal'") || xml.contains("snapshot=\"internal\"") {
                throw EngineError(.unsupported, "VM \(vmName) has internal snapshots (e.g. '\(snapshot.name)'); kvmsnap uses external snapshots and mixing the two kinds loses data: delete them with 'virsh snapshot-delete' first")
            }
        }
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

    /// Makes the new overlays of a running VM's capture before the capture (and before any
    /// freeze): libvirt would otherwise create and format each one (QMP blockdev-create jobs)
    /// while the guest is paused for the disk switch. They are named in the journal already,
    /// so a rollback or recovery removes them like overlays libvirt made.
    func createOverlays(journal: CreateJournal, captured: [DomainDisk]) throws(EngineError) {
        for disk in captured {
            guard let overlay = journal.newOverlays[disk.target], let path = disk.path, let format = disk.format else { continue }
            try ImageTool.createOverlay(path: overlay, backing: path, backingFormat: format)
        }
    }

    /// libvirt's external snapshot: memory written live, then a short pause for the disk switch.
    /// Returns the guest's pause in milliseconds when libvirt reports it.
    /// - Parameters:
    ///   - allDisks: every disk of the definition `create` read (skipped ones get `snapshot='no'`).
    ///   - running: whether the VM ran when `create` read that definition.
    func capture(domain: Domain, journal: CreateJournal, allDisks: [DomainDisk], captured: [DomainDisk], running: Bool,
                 withMemory: Bool, maxPauseMs: UInt64? = nil, pauseGuest: Bool = false) throws(EngineError) -> Int64? {
        var xml = "<domainsnapshot><name>kvmsnap-\(journal.snapshotID)</name>"
        if let memoryPath = journal.memoryPath {
            xml += "<memory snapshot='external' file='\(Self.xmlEscape(memoryPath))'/>"
        } else if running {
            xml += "<memory snapshot='no'/>"
        }
        xml += "<disks>"
        let capturedTargets = Set(captured.map(\.target))
        for disk in allDisks {
            if capturedTargets.contains(disk.target), let overlay = journal.newOverlays[disk.target] {
                xml += "<disk name='\(disk.target)' snapshot='external' type='file'><driver type='qcow2'/><source file='\(Self.xmlEscape(overlay))'/></disk>"
            } else {
                xml += "<disk name='\(disk.target)' snapshot='no'/>"
            }
        }
        xml += "</disks></domainsnapshot>"
        var flags: DomainSnapshotCreateFlags = [.atomic, .noMetadata]
        if !withMemory { flags.insert(.diskOnly) } else if !pauseGuest { flags.insert(.live) }
        // The overlays exist already (see ``createOverlays(journal:captured:)``).
        if running { flags.insert(.reuseExternal) }

        // A live capture ends with a pause sized by QEMU's downtime limit: lower it for the capture.
        if withMemory, !pauseGuest, let maxPauseMs, let previous = try? domain.maxDowntime(), previous > maxPauseMs,
           (try? domain.setMaxDowntime(maxPauseMs)) != nil {
            defer { try? domain.setMaxDowntime(previous) }
            return try captureSnapshot(domain: domain, journal: journal, xml: xml, flags: flags, withMemory: withMemory)
        }
        return try captureSnapshot(domain: domain, journal: journal, xml: xml, flags: flags, withMemory: withMemory)
    }

    private func captureSnapshot(domain: Domain, journal: CreateJournal, xml: String, flags: DomainSnapshotCreateFlags,
                                 withMemory: Bool) throws(EngineError) -> Int64? {
        let watcher = withMemory ? JobProgressWatcher(domain: domain, stage: "memory", handler: progress) : nil
        defer { watcher?.stop() }
        _ = try lv("snapshot failed") { () throws(LibvirtError) in
            try domain.createSnapshot(xml: xml, flags: flags)
        }
        if let memoryPath = journal.memoryPath { chmod(memoryPath, 0o600) }
        guard withMemory, let stats = try? domain.jobStats(flags: [.completed]), let downtime = stats.downtime else { return nil }
        return Int64(downtime)
    }

    /// Runs `body` with the guest's filesystems frozen through its agent (when `domain` is
    /// given), and thaws on every path: success, a thrown error, an injected fault.
    func withFrozenFilesystems<T>(_ domain: Domain?, notices: inout [String], _ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        guard let domain else { return try body() }
        _ = try lv("cannot freeze the guest's filesystems (QEMU guest agent)") { () throws(LibvirtError) in try domain.fsFreeze() }
        let result: T
        do {
            try inject("create.frozen")
            result = try body()
        } catch {
            if let thawError = thaw(domain) { throw EngineError(error.code, "\(error.message); \(thawError)") }
            throw error
        }
        if let thawError = thaw(domain) { notices.append("WARNING: \(thawError)") }
        return result
    }

    /// Thaws the guest's filesystems, retrying briefly; returns a message when it could not.
    func thaw(_ domain: Domain) -> String? {
        var last = ""
        for attempt in 0..<5 {
            if attempt > 0 { usleep(500_000) }
            do { _ = try domain.fsThaw(); return nil } catch { last = error.message }
        }
        return "could not thaw the guest's filesystems (\(last)); run 'virsh domfsthaw \(domain.name)'"
    }

    /// True when the live XML shows the guest agent's channel as connected.
    static func agentConnected(_ domain: Domain) -> Bool { agentChannel(domain) == .connected }

    /// The guest agent's channel in the domain's live XML (`.absent` when it cannot be read).
    static func agentChannel(_ domain: Domain) -> GuestAgentChannel {
        guard let xml = try? domain.xml(flags: []), let definition = try? DomainDefinition(xml: xml) else { return .absent }
        return definition.agentChannel
    }

    func copyNVRAM(from path: String, vmUUID: String, snapshotID: String) throws(EngineError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let destination = store.nvramPath(vmUUID: vmUUID, snapshotID: snapshotID)
        do {
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.copyItem(atPath: path, toPath: destination)
            chmod(destination, 0o600)
        } catch {
            throw EngineError(.io, "cannot copy NVRAM \(path): \(error.localizedDescription)")
        }
        return destination
    }

    /// Records the new layers, makes `--full` copies, marks the snapshot ready.
    func finishCreate(domain: Domain, vm: VMRecord, snapshot: inout SnapshotRecord, journal: CreateJournal, captured: [DomainDisk]) throws(EngineError) {
        let layers = try db { () throws(CatalogError) in try catalog.read { try $0.layers(vmUUID: vm.uuid) } }
        let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
        var newLayers: [LayerRecord] = []
        var diskRecords: [SnapshotDiskRecord] = []
        var diskBytes: Int64 = 0
        for disk in captured {
            guard let frozenID = journal.frozen[disk.target], let frozen = byID[frozenID], let overlay = journal.newOverlays[disk.target] else { continue }
            let overlayID = StoreLayout.layerID(fromPath: overlay)
            newLayers.append(LayerRecord(id: overlayID, vmUUID: vm.uuid, diskTarget: disk.target, path: overlay, format: "qcow2",
                                         parentLayerID: frozen.id, role: .overlay, createdAt: clock.now()))
            if journal.full {
                guard let paths = journal.fullCopies?[disk.target] else {
                    throw EngineError(.io, "no --full copy of \(disk.target) is named in the job's journal")
                }
                let (copy, top) = try makeFullCopy(domain: domain, vm: vm, disk: disk.target, frozen: frozen, paths: paths)
                newLayers.append(copy)
                newLayers.append(top)
                diskRecords.append(SnapshotDiskRecord(snapshotID: snapshot.id, diskTarget: disk.target, layerID: copy.id))
                diskBytes += ImageTool.allocatedBytes(copy.path)
            } else {
                diskRecords.append(SnapshotDiskRecord(snapshotID: snapshot.id, diskTarget: disk.target, layerID: frozen.id))
                diskBytes += ImageTool.allocatedBytes(frozen.path)
            }
        }
        snapshot.diskBytes = diskBytes
        snapshot.memoryBytes = snapshot.memoryPath.map { ImageTool.allocatedBytes($0) } ?? 0
        // Ready means on stable storage: the memory image, the NVRAM copy, the layers the
        // snapshot freezes and the new ones the VM runs on, and their directories. The commit
        // below is durable itself (the catalog's synchronous = FULL).
        let snapshotLayers = Set(diskRecords.map(\.layerID))
        let files = [snapshot.memoryPath, snapshot.nvramPath].compactMap { $0 }
            + layers.filter { snapshotLayers.contains($0.id) }.map(\.path) + newLayers.map(\.path)
        try durability.makeDurable(files, store: store)
        snapshot.state = .ready
        let finished = snapshot
        try db { () throws(CatalogError) in
            try catalog.write { db in
                for layer in newLayers { try db.insert(layer) }
                for record in diskRecords { try db.save(record) }
                try db.update(finished)
                if var current = try db.vm(uuid: vm.uuid) { current.currentSnapshotID = finished.id; try db.save(current) }
            }
        }
    }

    /// Names the `--full` copy and its overlay for each captured disk (nothing is created yet).
    func planFullCopies(vmUUID: String, captured: [DomainDisk]) -> [String: FullCopyPaths] {
        Dictionary(uniqueKeysWithValues: captured.map { disk in
            (disk.target, FullCopyPaths(copy: store.layerPath(vmUUID: vmUUID, layerID: Identifier.make("l-")),
                                        top: store.layerPath(vmUUID: vmUUID, layerID: Identifier.make("l-"))))
        })
    }

    /// `--full`: a standalone copy F of the frozen chain, a new overlay B on F, and the VM moved
    /// onto B (live: block copy of the tiny new overlay, then pivot). Returns (F, B).
    ///
    /// Resumable: when the VM already runs on B (the pivot happened before a crash), only the
    /// persistent definition is checked. Every file is named in the job's journal beforehand.
    func makeFullCopy(domain: Domain, vm: VMRecord, disk: String, frozen: LayerRecord, paths: FullCopyPaths) throws(EngineError) -> (LayerRecord, LayerRecord) {
        if try currentDiskSources(domain)[disk] != paths.top {
            progress?("full copy \(disk)", nil)
            try ImageTool.flatten(source: frozen.path, to: paths.copy) { () throws(EngineError) in try inject("create.full.partial") }
            try ImageTool.createOverlay(path: paths.top, backing: paths.copy, backingFormat: "qcow2")
            if try isActiveChecked(domain) {
                let destination = "<disk type='file'><source file='\(Self.xmlEscape(paths.top))'/><driver type='qcow2'/></disk>"
                try lv("cannot move \(disk) onto the full copy") { () throws(LibvirtError) in
                    try domain.blockCopy(disk: disk, destinationXML: destination, flags: [.shallow, .reuseExternal, .transientJob])
                }
                try inject("create.full.copying")
                try lv("cannot move \(disk) onto the full copy") { () throws(LibvirtError) in
                    try domain.waitForBlockJob(disk: disk, timeout: .seconds(600))
                    try domain.pivotBlockJob(disk: disk)
                }
                try inject("create.full.pivoted")
            }
        }
        // Keep the persistent definition on the same chain (libvirt updates it on pivot; offline we must).
        try repointDefinition(domain: domain, disk: disk, path: paths.top)
        let now = clock.now()
        let copyID = StoreLayout.layerID(fromPath: paths.copy)
        return (
            LayerRecord(id: copyID, vmUUID: vm.uuid, diskTarget: disk, path: paths.copy, format: "qcow2", parentLayerID: nil, role: .fullCopy, createdAt: now),
            LayerRecord(id: StoreLayout.layerID(fromPath: paths.top), vmUUID: vm.uuid, diskTarget: disk, path: paths.top, format: "qcow2",
                        parentLayerID: copyID, role: .overlay, createdAt: now)
        )
    }

    /// Points disk `disk` of the persistent definition at `path` (a qcow2 image).
    func repointDefinition(domain: Domain, disk: String, path: String) throws(EngineError) {
        let xml = try lv("cannot read VM configuration") { () throws(LibvirtError) in try domain.xml(flags: [.inactive, .secure]) }
        var definition = try DomainDefinition(xml: xml)
        guard definition.disks.first(where: { $0.target == disk })?.path != path else { return }
        try definition.setDiskSource(target: disk, path: path, format: "qcow2")
        _ = try lv("cannot update VM definition") { () throws(LibvirtError) in try connection.defineDomain(xml: definition.xml) }
    }

    /// Undoes a create that failed or whose process died, disk by disk. A new file the VM may use
    /// (the capture's overlay, or after the pivot a `--full` copy and the overlay on it) holds
    /// the guest's live data: it stays, as a catalogued layer. Every other new file goes: the
    /// memory image, unused overlays, and a `--full` copy (also `.partial`) whose block copy
    /// (recognised by its destination) is cancelled first. The snapshot row is dropped.
    ///
    /// Nothing is deleted unless libvirt said which images the VM uses: when it could not, the
    /// error is returned with the catalog and the files as they were (the job stays open).
    func rollBackCreate(domain: Domain, vmUUID: String, journal: CreateJournal, adopted: [LayerRecord]) -> EngineError? {
        let inUse: Set<String>
        do throws(EngineError) {
            for (target, paths) in journal.fullCopies ?? [:] {
                if let job = try blockJob(on: domain, disk: target), job.type == .copy, job.destination == paths.top {
                    try lv("cannot cancel the --full copy of \(target)") { () throws(LibvirtError) in try domain.blockJobAbort(disk: target) }
                }
            }
            try inject("create.rollback.readDisks")
            inUse = try imagesInUse(domain)
        } catch {
            return error
        }
        var keep: [LayerRecord] = []
        var remove = journal.memoryPath.map { [$0] } ?? []
        for (target, overlay) in journal.newOverlays.sorted(by: { $0.key < $1.key }) {
            if inUse.contains(overlay) {
                keep.append(LayerRecord(id: StoreLayout.layerID(fromPath: overlay), vmUUID: vmUUID, diskTarget: target, path: overlay,
                                        format: "qcow2", parentLayerID: journal.frozen[target], role: .overlay, createdAt: clock.now()))
            } else {
                remove.append(overlay)
            }
            guard let paths = journal.fullCopies?[target] else { continue }
            if inUse.contains(paths.top) {
                let copyID = StoreLayout.layerID(fromPath: paths.copy)
                keep.append(LayerRecord(id: copyID, vmUUID: vmUUID, diskTarget: target, path: paths.copy, format: "qcow2",
                                        parentLayerID: nil, role: .fullCopy, createdAt: clock.now()))
                keep.append(LayerRecord(id: StoreLayout.layerID(fromPath: paths.top), vmUUID: vmUUID, diskTarget: target, path: paths.top,
                                        format: "qcow2", parentLayerID: copyID, role: .overlay, createdAt: clock.now()))
            } else {
                remove += [paths.top, paths.copy, ImageTool.partialPath(paths.copy)]
            }
        }
        let switched = !keep.isEmpty
        let unused = remove
        do throws(EngineError) {
            remove = try db { () throws(CatalogError) in
                try catalog.write { db in
                    for layer in keep where try db.layer(path: layer.path) == nil { try db.insert(layer) }
                    try db.deleteSnapshot(id: journal.snapshotID)
                    if !switched { for layer in adopted { try db.deleteLayer(id: layer.id) } }
                    // A file the catalog holds as a layer is reclaim's to delete, never a rollback's.
                    return try unused.filter { try db.layer(path: $0) == nil }
                }
            }
        } catch {
            return error
        }
        for path in remove { unlink(path) }
        return nil
    }

    /// A create whose rollback could not finish: the job stays `running` in the journal, marked
    /// for rollback (with what happened in its note), so the next kvmsnap command on the VM
    /// finishes the rollback as for a create whose process died. Returns the error to report.
    func leaveRollbackToRecovery(_ job: JobRecord, journal: CreateJournal, vm: VMRecord, error: EngineError, unfinished: EngineError) -> EngineError {
        let failure = EngineError(error.code, "\(error.message); the rollback could not finish (\(unfinished.message)) and stays in the journal: the next kvmsnap command on \(vm.name) completes it")
        var open = job, marked = journal
        marked.rollBack = true
        open.journal = Self.encode(marked)
        open.note = failure.message
        _ = try? catalog.write { try $0.update(open) }
        return failure
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self)
    }

    static func xmlEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&apos;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Polls libvirt's job info while a long call runs on this thread, feeding the progress handler.
final class JobProgressWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    init(domain: Domain, stage: String, handler: ProgressHandler?) {
        guard let handler else { stopped = true; return }
        Thread.detachNewThread { [self] in
            while !isStopped {
                if let info = try? domain.jobInfo(), info.memTotal > 0 {
                    handler(stage, Double(info.memProcessed) / Double(info.memTotal))
                }
                usleep(100_000)
            }
        }
    }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    func stop() { lock.lock(); stopped = true; lock.unlock() }
}
