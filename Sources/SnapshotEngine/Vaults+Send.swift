import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault

/// What `kvmsnap send` did (the `send --json` object).
public struct SendReport: Sendable, Encodable, Equatable {
    public var vm: String
    public var vmUUID: String
    public var snapshot: String
    public var vault: String
    /// The vault snapshot this send was incremental to; nil: everything was read.
    public var baseSnapshot: String?
    /// Why the disks were read in full (nil for an incremental send).
    public var fullReadReason: String?
    /// True when a killed send of the same snapshot left a checkpoint that this one continued.
    public var resumed: Bool
    /// Bytes read from the source images, the memory image and NVRAM.
    public var bytesRead: Int64
    /// Bytes the vault grew by (new chunk objects as stored).
    public var bytesStored: Int64
    public var chunksNew: Int
    public var chunksReused: Int
    /// What the vault snapshot represents: disk virtual sizes, memory and NVRAM sizes.
    public var logicalBytes: Int64
    public var seconds: Double
}

/// The base of an incremental send: a local snapshot this host sent to the vault before, whose
/// manifest the vault still holds, and whose layers are ancestors of the sent snapshot's.
struct SendBase {
    var record: VaultSendRecord
    var manifest: VaultManifest
}

extension SnapshotEngine {
    /// Copies a ready snapshot (every disk, the memory image, NVRAM, the domain XML) into a vault.
    ///
    /// Incremental when an earlier send of this VM to the vault is still on both sides (local
    /// snapshot ready, vault manifest present) and its layers are ancestors of this snapshot's:
    /// only the disk slots (1 MiB by default) the layers in between touch are read; otherwise everything is read
    /// and ``SendReport/fullReadReason`` says why. The VM's lock is held while reading, so no
    /// delete, prune or reclaim changes the layers being read. A killed send leaves the vault
    /// consistent (the manifest is written last) and a checkpoint in it: the next send of the
    /// same snapshot reads only what is missing. The send is a `send` job in the journal.
    /// - Throws: `.notFound` (VM, snapshot, vault), `.conflict` (already in the vault, not ready),
    ///   `.busy`, `.invalidInput` (wrong or missing key), `.io` (reading, the vault).
    public func send(vm nameOrUUID: String, snapshot name: String, to vaultName: String) throws(EngineError) -> SendReport {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID)
        _ = try vaults.record(named: vaultName)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        guard let report = try sendHoldingLock(vm: vm, snapshotName: name, vaultName: vaultName, ifAbsent: false) else {
            throw EngineError(.conflict, "vault '\(vaultName)' holds \(vm.name)/\(name) already")
        }
        return report
    }

    /// A send killed after its manifest was written but before the catalog recorded it: the vault
    /// holds this very snapshot (same local id), so record it now; it becomes the anchor of the
    /// next incremental send instead of forcing a full read.
    private func recordCompletedSend(repository: VaultRepository, vm: VMRecord, snapshot: SnapshotRecord, vaultName: String) throws(EngineError) {
        let recorded = try db { () throws(CatalogError) in
            try catalog.read { try $0.localSends(vaultName: vaultName, vmUUID: vm.uuid).contains { $0.snapshotID == snapshot.id } }
        }
        guard !recorded else { return }
        let manifest = try vault { () throws(VaultError) in try repository.manifest(vmUUID: vm.uuid, snapshot: snapshot.name) }
        guard manifest.localSnapshotID == snapshot.id else { return }
        let sent = VaultSendRecord(vaultName: vaultName, vmUUID: vm.uuid, snapshotID: snapshot.id, snapshotName: snapshot.name, sentAt: clock.now())
        try db { () throws(CatalogError) in try catalog.write { try $0.save(sent) } }
    }

    /// ``send(vm:snapshot:to:)`` for a caller holding the VM's lock (run-due). With `ifAbsent`,
    /// a snapshot the vault holds already is not sent again: nil.
    func sendHoldingLock(vm: VMRecord, snapshotName name: String, vaultName: String, ifAbsent: Bool) throws(EngineError) -> SendReport? {
        let started = ContinuousClock.now
        let (record, repository) = try vaults.open(vaultName)
        let snapshot = try sendableSnapshot(vm: vm, name: name)
        if try vault({ () throws(VaultError) in try repository.backend.exists(VaultLayout.manifest(vmUUID: vm.uuid, snapshot: name)) }) {
            try recordCompletedSend(repository: repository, vm: vm, snapshot: snapshot, vaultName: vaultName)
            if ifAbsent { return nil }
            throw EngineError(.conflict, "vault '\(vaultName)' holds \(vm.name)/\(name) already")
        }
        let job = try startJob(kind: .send, vm: vm, snapshotID: snapshot.id, snapshotName: name)
        do {
            var report = try sendLocked(
                vm: vm, snapshot: snapshot, vaultName: vaultName, repository: repository, job: job, jobs: record.options?.jobs)
            try inject(.sendAfterManifest)
            report.seconds = (ContinuousClock.now - started).seconds
            let sent = VaultSendRecord(vaultName: vaultName, vmUUID: vm.uuid, snapshotID: snapshot.id, snapshotName: name, sentAt: clock.now())
            try db { () throws(CatalogError) in try catalog.write { try $0.save(sent) } }
            let base = report.baseSnapshot.map { "incremental to \($0)" } ?? "full read (\(report.fullReadReason ?? "no base"))"
            finishJob(job, error: nil, note: "\(base); read \(report.bytesRead) B, stored \(report.bytesStored) B")
            return report
        } catch {
            finishJob(job, error: error)
            throw error
        }
    }

    /// The local snapshot to send: ready, of this VM.
    private func sendableSnapshot(vm: VMRecord, name: String) throws(EngineError) -> SnapshotRecord {
        let all = try db { () throws(CatalogError) in try catalog.read { try $0.snapshots(vmUUID: vm.uuid) } }
        guard let snapshot = all.first(where: { $0.name == name }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
        }
        guard snapshot.state == .ready else { throw EngineError(.conflict, "snapshot \(vm.name)/\(name) is \(snapshot.state.rawValue), not ready") }
        return snapshot
    }

    private func sendLocked(
        vm: VMRecord, snapshot: SnapshotRecord, vaultName: String, repository: VaultRepository, job: JobRecord, jobs: Int?
    ) throws(EngineError) -> SendReport {
        let (base, noBaseReason) = try chooseSendBase(vm: vm, snapshot: snapshot, vaultName: vaultName, repository: repository)
        let sources = try vaultDiskSources(vmUUID: vm.uuid, baseSnapshotID: base?.record.snapshotID, snapshotID: snapshot.id)
        let log = self.diagnostics.logger
        let session = try vault { () throws(VaultError) in try repository.beginSend(onWait: { log.warning("\($0)") }) }
        session.storeWorkers = jobs
        var committed = false
        defer {
            if !committed {
                do { try session.abandon() } catch { diagnostics.swallowed("ending the send of \(snapshot.name) (its mark expires by itself)", error) }
            }
        }
        let resumed = try vault { () throws(VaultError) in
            try session.enableCheckpoints(vmUUID: vm.uuid, snapshot: snapshot.name, localSnapshotID: snapshot.id)
        }
        // Tests stop at a fault point after each checkpoint: save one after every batch then.
        if configuration.faultInjector != nil { session.checkpointInterval = .zero }
        let meter = SendMeter(progress: progress, total: Self.sendTotal(sources, snapshot: snapshot))
        var disks: [VaultDiskRef] = []
        let diskBytes = Self.sendTotal(sources, snapshot: snapshot) - snapshot.memoryBytes
        session.afterCheckpoint = { () throws(VaultError) in
            try self.faultAsVaultError(.sendDiskChunk)
            if meter.passedHalf(of: diskBytes, read: session.stats.bytesRead) { try self.faultAsVaultError(.sendDiskHalf) }
        }
        for source in sources {
            disks.append(try sendDisk(source, base: base, session: session, meter: meter))
        }
        jobJournal.note(job, "disks stored")
        session.afterCheckpoint = { () throws(VaultError) in try self.faultAsVaultError(.sendMemoryChunk) }
        let memory = try snapshot.memoryPath.map { (path) throws(EngineError) in try sendFile(path, name: "memory", session: session, meter: meter) }
        let nvram = try snapshot.nvramPath.map { (path) throws(EngineError) in try sendFile(path, name: "nvram", session: session, meter: meter) }
        var manifest = VaultManifest(
            vm: vm.name, vmUUID: vm.uuid, snapshot: snapshot.name, localSnapshotID: snapshot.id, kind: snapshot.kind.rawValue,
            createdAt: snapshot.createdAt, host: ProcessInfo.processInfo.hostName, kvmsnapVersion: configuration.productVersion,
            hasMemory: memory != nil, domainXML: snapshot.configXML, nvram: nvram, disks: disks, memory: memory,
            baseSnapshot: base?.manifest.snapshot)
        manifest.hostID = try HostIdentity.id(store)
        try inject(.sendBeforeManifest)
        _ = try vault { () throws(VaultError) in try session.commit(manifest) }
        committed = true
        for failure in session.cleanupFailures {
            diagnostics.swallowed("cleaning up after the send of \(vm.name)/\(snapshot.name) (the send stands; an append-only key may not delete)", failure)
        }
        let stats = session.stats
        let fullReason = base == nil ? noBaseReason : sources.compactMap(\.fullReadReason).first.map { "a disk: \($0)" }
        return SendReport(
            vm: vm.name, vmUUID: vm.uuid, snapshot: snapshot.name, vault: vaultName, baseSnapshot: base?.manifest.snapshot,
            fullReadReason: fullReason, resumed: resumed != nil, bytesRead: stats.bytesRead, bytesStored: stats.bytesStored,
            chunksNew: stats.chunksNew, chunksReused: stats.chunksReused, logicalBytes: stats.logicalBytes, seconds: 0)
    }

    /// The newest earlier send usable as the base, or nil with the reason.
    func chooseSendBase(
        vm: VMRecord, snapshot: SnapshotRecord, vaultName: String, repository: VaultRepository
    ) throws(EngineError) -> (SendBase?, String) {
        let sends = try db { () throws(CatalogError) in try catalog.read { try $0.localSends(vaultName: vaultName, vmUUID: vm.uuid) } }
        let (layers, disks) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.layers(vmUUID: vm.uuid), try db.disks(vmUUID: vm.uuid)) }
        }
        var reason = "no earlier send of \(vm.name) to this vault is kept locally"
        for send in sends where send.snapshotID != snapshot.id {
            let key = VaultLayout.manifest(vmUUID: vm.uuid, snapshot: send.snapshotName)
            guard try vault({ () throws(VaultError) in try repository.backend.exists(key) }) else {
                reason = "the vault no longer holds \(send.snapshotName)"
                continue
            }
            let selection = try VaultDiskSources.select(layers: layers, disks: disks, baseSnapshotID: send.snapshotID, snapshotID: snapshot.id)
            if let off = selection.first(where: { $0.layersAboveBase == nil }) {
                reason = "\(send.snapshotName) is no base for \(off.diskTarget): \(off.reason ?? "not an ancestor")"
                continue
            }
            let manifest = try vault { () throws(VaultError) in try repository.manifest(key: key) }
            return (SendBase(record: send, manifest: manifest), "")
        }
        return (nil, reason)
    }

    /// Reads one disk through a read-only qemu-nbd export (O_DIRECT, or cached when the file
    /// system refuses it) and stores it by its chunk plan.
    private func sendDisk(_ source: VaultDiskSource, base: SendBase?, session: SendSession, meter: SendMeter) throws(EngineError) -> VaultDiskRef {
        var previous: DiskIndex?
        if source.changed != nil, let ref = base?.manifest.disks.first(where: { $0.target == source.diskTarget }) {
            previous = try vault { () throws(VaultError) in try session.repository.diskIndex(ref.index) }
        }
        let chunkSize = session.repository.config.chunkSize
        let plan = DiskChunkPlan(
            virtualSize: source.virtualSize, chunkSize: chunkSize,
            changed: ByteRangeSet((source.changed ?? []).map { ByteRange(offset: $0.start, length: $0.length) }),
            allocated: ByteRangeSet(source.allocated.map { ByteRange(offset: $0.start, length: $0.length) }),
            previousVirtualSize: previous?.virtualSize)
        let export: NBDExport
        do {
            export = try NBDExport(image: source.topPath, format: source.format, access: .readOnly(forceShare: false, direct: true))
        } catch {
            export = try NBDExport(image: source.topPath, format: source.format, access: .readOnly(forceShare: false, direct: false))
        }
        let startRead = session.stats.bytesRead
        let ref = try vault { () throws(VaultError) in
            try session.storeDisk(
                target: source.diskTarget, format: source.format, from: NBDBlockSource(client: export.client), plan: plan,
                previous: previous, progress: { meter.update(source.diskTarget, read: $0 - startRead) })
        }
        meter.finish(read: session.stats.bytesRead - startRead)
        try export.finish()
        return ref
    }

    /// Stores a memory image or NVRAM file as a content-defined stream.
    private func sendFile(_ path: String, name: String, session: SendSession, meter: SendMeter) throws(EngineError) -> VaultStreamRef {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EngineError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let startRead = session.stats.bytesRead
        let ref = try vault { () throws(VaultError) in
            try session.storeStream(fileDescriptor: fd, name: name, progress: { meter.update(name, read: $0 - startRead) })
        }
        meter.finish(read: session.stats.bytesRead - startRead)
        return ref
    }

    /// A fault point inside the Vault module's callbacks (which throw ``VaultError``).
    func faultAsVaultError(_ point: FaultPoint) throws(VaultError) {
        do { try inject(point) } catch { throw VaultError.source(error.message) }
    }

    static func sendTotal(_ sources: [VaultDiskSource], snapshot: SnapshotRecord) -> Int64 {
        sources.reduce(snapshot.memoryBytes) { $0 + ($1.changed ?? $1.allocated).reduce(0) { $0 + $1.length } }
    }
}

/// Reads a disk through an NBD export.
struct NBDBlockSource: BlockSource {
    let client: NBDClient
    func read(offset: Int64, length: Int) throws(VaultError) -> [UInt8] {
        // Not zero-filled first: the client fills every byte or throws (then nothing is kept).
        var failure: EngineError?
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            do throws(EngineError) {
                try client.read(at: offset, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = length
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw .source(failure.message) }
        return out
    }
}

/// Bytes and rate for the progress handler ("send vda 1.2 GiB at 310 MiB/s").
final class SendMeter: @unchecked Sendable {
    let progress: ProgressHandler?
    let total: Int64
    private var done: Int64 = 0
    private let started = ContinuousClock.now

    init(progress: ProgressHandler?, total: Int64) {
        self.progress = progress
        self.total = max(total, 1)
    }

    func update(_ what: String, read: Int64) {
        guard let progress else { return }
        let now = done + read
        let seconds = max((ContinuousClock.now - started).seconds, 0.001)
        let rate = Int64(Double(now) / seconds)
        progress("send \(what) \(Self.bytes(now)) at \(Self.bytes(rate))/s", min(1, Double(now) / Double(total)))
    }

    func finish(read: Int64) { done += read }

    private var halfPassed = false
    /// True once, at the first call where `read` is at least half of `total` (a test's fault point).
    func passedHalf(of total: Int64, read: Int64) -> Bool {
        guard !halfPassed, read * 2 >= total else { return false }
        halfPassed = true
        return true
    }

    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(value)
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(value) B" : String(format: "%.1f %@", v, units[i])
    }
}
