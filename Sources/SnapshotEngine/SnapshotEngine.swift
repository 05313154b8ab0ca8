import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

/// Where time comes from. Inject a fixed clock in tests.
public protocol EngineClock: Sendable {
    func now() -> Date
}

public struct SystemClock: EngineClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// Receives progress of long steps: a stage name and a fraction 0...1 (nil when unknown).
public typealias ProgressHandler = @Sendable (_ stage: String, _ fraction: Double?) -> Void

/// kvmsnap's snapshot engine: capture, revert, delete with layer merging, crash recovery.
///
/// It owns the mechanics libvirt 9.0 lacks (external-snapshot revert and safe layer merging)
/// and keeps the catalog in step with what libvirt and the disk say. One operation per VM at
/// a time (``VMLock``); every operation is a job in the journal, so an interrupted one is
/// finished or rolled back by the next command on that VM.
///
/// ## Topics
/// - ``createSnapshot(vm:options:)``, ``revert(vm:to:start:)``, ``deleteSnapshot(vm:name:)``
/// - ``snapshots(vm:)``, ``usage(vm:)``, ``check(vm:)``
public final class SnapshotEngine: @unchecked Sendable {
    public let connection: Connection
    public let catalog: Catalog
    public let store: StoreLayout
    public let clock: any EngineClock
    public var progress: ProgressHandler?
    /// How long to wait for another operation on the same VM before failing with `busy`.
    public var lockWait: Double = 3
    /// How long a restore that lost libvirt (libvirtd died) waits for it to answer again, to
    /// decide the outcome itself, before it leaves that to the next command.
    public var libvirtWait: Double = 30
    /// The URI `connection` was opened with, to open a new one after libvirtd restarted.
    let connectionURI: String?
    /// Fault injection for tests: called with a point name; throwing there aborts the operation.
    public var faultInjector: (@Sendable (String) throws(EngineError) -> Void)?
    /// How a snapshot's files are put on stable storage before it is marked ready (``Durability``).
    public var durability: Durability = .durable
    /// > 0 while an operation runs inside another one's job (guard's snapshot and restore, a
    /// restore's safety snapshot): their failures reach on-failure hooks through the outer job.
    var nestingDepth = 0
    /// Jobs whose on-failure hooks already ran (each job fires them at most once). Guarded by
    /// `stateLock`: lab resets finish jobs from several threads at once.
    private var failureHooksFired: Set<Int64> = []
    private let stateLock = NSLock()

    /// Marks job `id`'s on-failure hooks as fired; false when they already were.
    func claimFailureHooks(_ id: Int64) -> Bool {
        stateLock.lock(); defer { stateLock.unlock() }
        return failureHooksFired.insert(id).inserted
    }

    public init(connection: Connection, catalog: Catalog, store: StoreLayout, clock: any EngineClock = SystemClock()) {
        self.connection = connection
        self.catalog = catalog
        self.store = store
        self.clock = clock
        connectionURI = try? connection.uri
    }

    // MARK: Shared helpers

    /// Converts a libvirt failure into the engine's error, naming what was being done.
    func lv<T>(_ what: String, _ body: () throws(LibvirtError) -> T) throws(EngineError) -> T {
        do { return try body() } catch { throw EngineError(.libvirt, "\(what): \(error.message)") }
    }

    func db<T>(_ body: () throws(CatalogError) -> T) throws(EngineError) -> T {
        do { return try body() } catch {
            // An engine error thrown inside a transaction body (e.g. notFound) stays what it was.
            if let own = error.underlying as? EngineError { throw own }
            throw EngineError(.catalog, error.message)
        }
    }

    func inject(_ point: FaultPoint) throws(EngineError) {
        try faultInjector?(point.rawValue)
    }

    /// Looks a VM up by name, then by UUID.
    public func domain(_ nameOrUUID: String) throws(EngineError) -> Domain {
        do { return try connection.lookupDomain(name: nameOrUUID) } catch {
            if error.code != .noDomain { throw EngineError(.libvirt, "cannot look up VM '\(nameOrUUID)': \(error.message)") }
        }
        if UUID(uuidString: nameOrUUID) != nil, let domain = try? connection.lookupDomain(uuid: nameOrUUID) {
            return domain
        }
        throw EngineError(.notFound, "no VM named '\(nameOrUUID)' on \((try? connection.uri) ?? "this connection")")
    }

    /// The catalog's record for a VM, registering it on first sight and following renames.
    @discardableResult
    func vmRecord(for domain: Domain) throws(EngineError) -> VMRecord {
        let uuid = try lv("cannot read VM UUID") { () throws(LibvirtError) in try domain.uuidString }
        let name = domain.name
        let now = clock.now()
        return try db { () throws(CatalogError) in
            try catalog.write { db in
                if var existing = try db.vm(uuid: uuid) {
                    if existing.name != name { existing.name = name; try db.save(existing) }
                    return existing
                }
                let record = VMRecord(uuid: uuid, name: name, createdAt: now)
                try db.save(record)
                return record
            }
        }
    }

    /// Takes the VM's lock, then finishes or rolls back any job a crashed kvmsnap left behind.
    /// Only the lock directory is made here: a command refused under the lock leaves the store
    /// as it was (create and revert make the VM's directories before they write into them).
    func lockVM(_ vm: VMRecord, domain: Domain?) throws(EngineError) -> VMLock {
        try store.prepareLocks()
        let lock = try VMLock(path: store.lockPath(vm.uuid), wait: lockWait) {
            let running = (try? catalog.read { try $0.jobs(vmUUID: vm.uuid, states: [.running], limit: 1) })?.first
            if let job = running, let id = job.id {
                let since = ISO8601DateFormatter().string(from: job.startedAt)
                return "VM \(vm.name) is busy: job \(id) (\(job.kind)) since \(since)"
            }
            return "VM \(vm.name) is busy: another kvmsnap operation holds it"
        }
        try recoverInterruptedJobs(vm: vm, domain: domain)
        return lock
    }

    /// Starts a job of `vm`. Only with the VM's lock held (``lockVM(_:domain:)``), kept until the
    /// job ends: recovery, which takes that lock, relies on it to tell a dead owner from a live one.
    func startJob(kind: JobKind, vm: VMRecord, snapshotID: String? = nil, snapshotName: String? = nil, journal: String? = nil) throws(EngineError) -> JobRecord {
        var job = JobRecord(kind: kind, vmUUID: vm.uuid, vmName: vm.name, snapshotID: snapshotID, snapshotName: snapshotName,
                            state: JobState.running, startedAt: clock.now(), pid: getpid())
        job.journal = journal
        return try db { () throws(CatalogError) in
            try catalog.write { db in try db.insert(&job); return job }
        }
    }

    /// Journals a failure that happened without the VM's lock (e.g. it could not be taken): the
    /// job is written failed at once, never running, so no recovery can take it for a dead one.
    func recordFailedJob(kind: JobKind, vm: VMRecord, error: EngineError) {
        var job = JobRecord(kind: kind, vmUUID: vm.uuid, vmName: vm.name, state: JobState.failed, startedAt: clock.now(), pid: getpid())
        job.error = error.message
        guard (try? catalog.write({ db in try db.insert(&job) })) != nil else { return }
        finishJob(job, error: error)
    }

    /// Marks a job finished. A failed top-level job runs the on-failure hooks, once per job.
    func finishJob(_ job: JobRecord, error: EngineError?, note: String? = nil) {
        var job = job
        job.state = error == nil ? .succeeded : .failed
        job.error = error?.message
        job.endedAt = clock.now()
        job.progress = error == nil ? 1 : job.progress
        if let note { job.note = [job.note, note].compactMap { $0 }.joined(separator: "; ") }
        _ = try? catalog.write { try $0.update(job) }
        guard let error, nestingDepth == 0, let id = job.id, claimFailureHooks(id) else { return }
        let failures = runHooks(.onFailure, job: job, error: error.message).compactMap(\.failure)
        if !failures.isEmpty {
            job.note = [job.note, failures.joined(separator: "; ")].compactMap { $0 }.joined(separator: "; ")
            _ = try? catalog.write { try $0.update(job) }
        }
    }

    /// Runs `body` as part of an enclosing job (see ``nestingDepth``).
    func nested<T>(_ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        nestingDepth += 1
        defer { nestingDepth -= 1 }
        return try body()
    }

    /// The layer paths the domain currently runs on (live XML when active, else inactive), per disk.
    func currentDiskSources(_ domain: Domain) throws(EngineError) -> [String: String] {
        let flags: DomainXMLFlags = try isActiveChecked(domain) ? [] : [.inactive]
        let xml = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: flags) }
        let definition = try DomainDefinition(xml: xml)
        var result: [String: String] = [:]
        for disk in definition.disks where disk.skipReason == nil { if let path = disk.path { result[disk.target] = path } }
        return result
    }

    /// The catalog's layer tree for a VM plus what references it right now.
    /// `disks` are the snapshot-disk rows the references came from (one per snapshot and disk).
    func layerState(vmUUID: String, domain: Domain?) throws(EngineError)
        -> (tree: LayerTree, refs: LayerTree.References, layers: [String: LayerRecord], disks: [SnapshotDiskRecord]) {
        let (layers, disks) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.layers(vmUUID: vmUUID), try db.disks(vmUUID: vmUUID)) }
        }
        let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
        var active = Set<String>()
        if let domain {
            let sources = Set(try currentDiskSources(domain).values)
            for layer in layers where sources.contains(layer.path) { active.insert(layer.id) }
        }
        let tree = LayerTree(layers.map { LayerTree.Layer(id: $0.id, parentID: $0.parentLayerID) })
        return (tree, LayerTree.References(snapshotTops: Set(disks.map(\.layerID)), active: active), byID, disks)
    }
}

extension SnapshotEngine {
    /// Checks a snapshot name: non-empty, at most 64 characters, no `/`, no control characters.
    public static func validateName(_ name: String) throws(EngineError) {
        if let problem = NameRules.problem(with: name, what: "snapshot name") { throw EngineError(.invalidInput, problem) }
    }

    /// Refuses a name for a new VM (`restore --as`) that libvirt, a path or a terminal would misread.
    public static func validateVMName(_ name: String) throws(EngineError) {
        if let problem = NameRules.problem(with: name, what: "VM name") { throw EngineError(.invalidInput, problem) }
    }
}

extension SnapshotEngine {
    /// True when the domain runs or is paused; a lookup failure counts as not running.
    static func isActive(_ domain: Domain) -> Bool { (try? domain.isActive) ?? false }
}
