import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Synchronization

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

/// A test's hook into the engine: called with a ``FaultPoint``'s raw value; throwing there
/// aborts the operation.
public typealias FaultInjector = @Sendable (String) throws(EngineError) -> Void

/// What an engine is configured with; fixed for each operation (read once when it starts).
public struct EngineConfiguration: Sendable {
    public var store: StoreLayout
    public var clock: any EngineClock
    /// How long to wait for another operation on the same VM before failing with `busy`.
    public var lockWait: Duration = .seconds(3)
    /// How long a restore that lost libvirt (libvirtd died) waits for it to answer again, to
    /// decide the outcome itself, before it leaves that to the next command.
    public var libvirtWait: Duration = .seconds(30)
    public var progress: ProgressHandler?
    /// Fault injection for tests (see ``FaultPoint``).
    public var faultInjector: FaultInjector?
    /// How a snapshot's files are put on stable storage before it is marked ready (``Durability``).
    public var durability: Durability = .durable
    /// Where failures go that an operation does not throw.
    public var diagnostics: Diagnostics = .standardError
    /// kvmsnap's version, recorded in vault manifests.
    public var productVersion = "unknown"

    public init(store: StoreLayout, clock: any EngineClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }
}

/// kvmsnap's snapshot engine: capture, revert, delete with layer merging, crash recovery.
///
/// It owns the mechanics libvirt 9.0 lacks (external-snapshot revert and safe layer merging)
/// and keeps the catalog in step with what libvirt and the disk say. One operation per VM at
/// a time (``VMLock``); every operation is a job in the journal (``JobJournal``), so an
/// interrupted one is finished or rolled back by the next command on that VM.
///
/// Safe to call from several threads: its only mutable state is the configuration, behind a
/// `Mutex`; the job journal and the hooks are services with their own state, and capture,
/// restore (``Restorer``), guard, snapshots (delete, edit, forget), retention, schedules,
/// inspect, policies and the layer store are services built per call from it.
/// Store, clock and diagnostics are fixed at init; the other settings may be replaced (the
/// setters the commands and tests use), and an operation in flight keeps reading the values
/// current at each step.
///
/// ## Topics
/// - ``createSnapshot(vm:options:)``, ``revert(vm:to:start:)``, ``deleteSnapshot(vm:name:)``
/// - ``snapshots(vm:)``, ``usage(vm:)``, ``check(vm:)``
public final class SnapshotEngine: Sendable, EngineService {
    public let connection: Connection
    public let catalog: Catalog
    public let store: StoreLayout
    public let clock: any EngineClock
    let diagnostics: Diagnostics
    /// The URI `connection` was opened with, to open a new one after libvirtd restarted.
    let connectionURI: String?
    private let settings: Mutex<EngineConfiguration>
    let hookService: Hooks
    let jobJournal: JobJournal

    public init(connection: Connection, catalog: Catalog, configuration: EngineConfiguration) {
        self.connection = connection
        self.catalog = catalog
        store = configuration.store
        clock = configuration.clock
        diagnostics = configuration.diagnostics
        settings = Mutex(configuration)
        connectionURI = try? connection.uri
        hookService = Hooks(catalog: catalog, clock: configuration.clock, diagnostics: configuration.diagnostics)
        jobJournal = JobJournal(catalog: catalog, clock: configuration.clock, hooks: hookService, diagnostics: configuration.diagnostics)
    }

    public convenience init(connection: Connection, catalog: Catalog, store: StoreLayout, clock: any EngineClock = SystemClock()) {
        self.init(connection: connection, catalog: catalog, configuration: EngineConfiguration(store: store, clock: clock))
    }

    /// The configuration now (store, clock and diagnostics are those given at init).
    public var configuration: EngineConfiguration { settings.withLock { $0 } }

    private func update(_ change: (inout EngineConfiguration) -> Void) {
        settings.withLock { change(&$0) }
    }

    public var progress: ProgressHandler? {
        get { configuration.progress }
        set { update { $0.progress = newValue } }
    }
    /// ``EngineConfiguration/lockWait`` in seconds.
    public var lockWait: Double {
        get { configuration.lockWait.seconds }
        set { update { $0.lockWait = .seconds(newValue) } }
    }
    /// ``EngineConfiguration/libvirtWait`` in seconds.
    public var libvirtWait: Double {
        get { configuration.libvirtWait.seconds }
        set { update { $0.libvirtWait = .seconds(newValue) } }
    }
    public var faultInjector: FaultInjector? {
        get { configuration.faultInjector }
        set { update { $0.faultInjector = newValue } }
    }
    public var durability: Durability {
        get { configuration.durability }
        set { update { $0.durability = newValue } }
    }
    public var productVersion: String {
        get { configuration.productVersion }
        set { update { $0.productVersion = newValue } }
    }

    // MARK: Shared helpers

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

    /// Takes the VM's lock, then finishes or rolls back any job a crashed kvmsnap left behind.
    /// Only the lock directory is made here: a command refused under the lock leaves the store
    /// as it was (create and revert make the VM's directories before they write into them).
    /// `wait` overrides ``EngineConfiguration/lockWait`` for this call.
    func lockVM(_ vm: VMRecord, domain: Domain?, wait: Duration? = nil) throws(EngineError) -> VMLock {
        try store.prepareLocks()
        let lock = try VMLock(path: store.lockPath(vm.uuid), wait: wait ?? configuration.lockWait) {
            let running: JobRecord?
            do {
                running = try withCatalog { () throws(CatalogError) in
                    try catalog.read { try $0.jobs(vmUUID: vm.uuid, states: [.running], limit: 1) }
                }.first
            } catch {
                diagnostics.swallowed("reading which job holds \(vm.name)", error)
                running = nil
            }
            if let job = running, let id = job.id {
                let since = ISO8601DateFormatter().string(from: job.startedAt)
                return "VM \(vm.name) is busy: job \(id) (\(job.kind)) since \(since)"
            }
            return "VM \(vm.name) is busy: another kvmsnap operation holds it"
        }
        try recoverInterruptedJobs(vm: vm, domain: domain)
        return lock
    }

    // The journal and the hooks are services (``JobJournal``, ``Hooks``); these forward to them.

    func startJob(kind: JobKind, vm: VMRecord, snapshotID: String? = nil, snapshotName: String? = nil, journal: String? = nil) throws(EngineError) -> JobRecord
    {
        try jobJournal.start(kind: kind, vm: vm, snapshotID: snapshotID, snapshotName: snapshotName, journal: journal)
    }

    func recordFailedJob(kind: JobKind, vm: VMRecord, error: EngineError) {
        jobJournal.recordFailed(kind: kind, vm: vm, error: error)
    }

    func finishJob(_ job: JobRecord, error: EngineError?, note: String? = nil) {
        jobJournal.finish(job, error: error, note: note)
    }

    /// Jobs, newest first, optionally of one VM (name or UUID, also VMs that no longer exist).
    public func jobs(vm: String? = nil, failedOnly: Bool = false, limit: Int = 200) throws(EngineError) -> [JobRecord] {
        try jobJournal.list(vm: vm, failedOnly: failedOnly, limit: limit)
    }

    /// Runs `body` as part of an enclosing job (see ``OperationContext/nesting``).
    func nested<T>(_ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        try OperationContext.nested(body)
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

extension EngineService {
    /// The catalog's record for a VM, registering it on first sight and following renames.
    @discardableResult
    func vmRecord(for domain: Domain) throws(EngineError) -> VMRecord {
        let uuid = try lv("cannot read VM UUID") { () throws(LibvirtError) in try domain.uuidString }
        let name = domain.name
        let now = configuration.clock.now()
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
}

extension SnapshotEngine {
    /// True when the domain runs or is paused; a lookup failure counts as not running.
    static func isActive(_ domain: Domain) -> Bool { (try? domain.isActive) ?? false }

    /// A journal or report as the JSON text a job records.
    static func encode<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self)
    }
}

extension Duration {
    /// The duration in seconds, for messages and the `Double` settings kept for compatibility.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
