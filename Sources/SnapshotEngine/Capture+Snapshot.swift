import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Synchronization

extension Capture {
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
    func capture(
        domain: Domain, journal: CreateJournal, allDisks: [DomainDisk], captured: [DomainDisk], running: Bool,
        withMemory: Bool, maxPauseMs: UInt64? = nil, pauseGuest: Bool = false
    ) throws(EngineError) -> Int64? {
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
            (try? domain.setMaxDowntime(maxPauseMs)) != nil
        {
            defer { try? domain.setMaxDowntime(previous) }
            return try captureSnapshot(domain: domain, journal: journal, xml: xml, flags: flags, withMemory: withMemory)
        }
        return try captureSnapshot(domain: domain, journal: journal, xml: xml, flags: flags, withMemory: withMemory)
    }

    private func captureSnapshot(
        domain: Domain, journal: CreateJournal, xml: String, flags: DomainSnapshotCreateFlags,
        withMemory: Bool
    ) throws(EngineError) -> Int64? {
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
            try inject(.createFrozen)
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
            newLayers.append(
                LayerRecord(
                    id: overlayID, vmUUID: vm.uuid, diskTarget: disk.target, path: overlay, format: "qcow2",
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
        let files =
            [snapshot.memoryPath, snapshot.nvramPath].compactMap { $0 }
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

    static func xmlEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&apos;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension SnapshotEngine {
    /// True when the live XML shows the guest agent's channel as connected.
    static func agentConnected(_ domain: Domain) -> Bool { agentChannel(domain) == .connected }

    /// The guest agent's channel in the domain's live XML (`.absent` when it cannot be read).
    /// A probe, polled while verify waits for the agent: an unreadable XML is "no agent" there,
    /// and the restore's own checked reads (state, disks) report libvirt failures.
    static func agentChannel(_ domain: Domain) -> GuestAgentChannel {
        guard let xml = try? domain.xml(flags: []), let definition = try? DomainDefinition(xml: xml) else { return .absent }
        return definition.agentChannel
    }
}

/// Polls libvirt's job info while a long call runs on this thread, feeding the progress handler.
final class JobProgressWatcher: Sendable {
    private let stopped: Mutex<Bool>

    init(domain: Domain, stage: String, handler: ProgressHandler?) {
        stopped = Mutex(handler == nil)
        guard let handler else { return }
        Thread.detachNewThread { [self] in
            while !isStopped {
                if let info = try? domain.jobInfo(), info.memTotal > 0 {
                    handler(stage, Double(info.memProcessed) / Double(info.memTotal))
                }
                usleep(100_000)
            }
        }
    }

    private var isStopped: Bool { stopped.withLock { $0 } }
    func stop() { stopped.withLock { $0 = true } }
}
