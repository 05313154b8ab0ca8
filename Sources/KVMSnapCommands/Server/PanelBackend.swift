import Foundation
import KVMSnapCore
import NIOPosix
import SnapshotCatalog
import SnapshotEngine
import Synchronization

/// The engine behind the panel: one `SnapshotEngine` (Sendable, one operation per VM through its
/// locks), opened on first use and opened again after libvirt went away. Every call runs on
/// NIO's blocking thread pool: the engine is synchronous and must never run on an event loop.
/// `options` is never changed after init (hence `@unchecked`: ArgumentParser's types are not `Sendable`).
final class PanelBackend: @unchecked Sendable {
    let options: GlobalOptions
    private let cached = Mutex<SnapshotEngine?>(nil)
    /// Encoded snapshot listings by the VM as asked, reused while ``changes`` and the VM's UUID
    /// say nothing changed (see ``snapshotList(vm:)``). At most ``listCacheLimit`` entries.
    private let listings = Mutex<[String: Listing]>([:])
    private let changes = Mutex<CatalogChangeCounter?>(nil)
    static let listCacheLimit = 16

    struct Listing {
        let uuid: String
        let version: Int64
        let data: Data
    }
    /// Engine calls wait here, not on an event loop (8 threads: a create or delete that takes
    /// seconds leaves room for the listings).
    let pool: NIOThreadPool

    init(options: GlobalOptions) {
        self.options = options
        pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
    }

    /// Runs `body` with the engine on the blocking pool.
    func run<T: Sendable>(_ body: @escaping @Sendable (SnapshotEngine) throws -> T) async throws -> T {
        try await pool.runIfActive { [self] in
            let engine = try engine()
            do { return try body(engine) } catch let error as EngineError where error.code == .libvirt {
                cached.withLock { $0 = nil }  // libvirtd may have restarted: connect anew next time
                throw error
            }
        }
    }

    /// Runs `body` on the blocking pool without the engine (catalog-only reads).
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    func engine() throws -> SnapshotEngine {
        if let engine = cached.withLock({ $0 }) { return engine }
        let engine = try Context(options).engine(.write)
        cached.withLock { $0 = engine }
        return engine
    }

    /// The VM list as `vms --json` prints it.
    func vms() async throws -> [VMJSON] {
        try await run { engine in try VMJSON.all(connection: engine.connection, engine: engine) }
    }

    /// Jobs as `jobs --json` prints them (catalog only).
    func jobs(vm: String? = nil, limit: Int = 200) async throws -> [JobJSON] {
        try await run { engine in try engine.jobs(vm: vm, limit: limit).map(JobJSON.init) }
    }

    /// One job by its id, or nil.
    func job(id: Int64) async throws -> JobJSON? {
        try await run { engine in
            try engine.catalog.read { db in try db.job(id: id) }.map(JobJSON.init)
        }
    }

    /// A VM's snapshots as `list --json` prints them (the streaming writer, same bytes).
    ///
    /// The encoded bytes are kept and answered again while the catalog's `data_version` (read
    /// before the listing, so a commit while it is built is seen next time) and the UUID the name
    /// resolves to are unchanged: nothing the listing reads has changed then. A listing made while
    /// the VM had an unfinished job is not kept (the next one may have to finish that job first,
    /// as `list` does). 10,000 snapshots are 4 MB of JSON: encoding them for every request is
    /// what limited the panel under load.
    func snapshotList(vm: String) async throws -> Data {
        try await run { [self] engine in
            let version = try changeCounter(engine).value()
            let uuid = try engine.catalogVM(vm, register: false).uuid
            if let hit = listings.withLock({ $0[vm] }), hit.uuid == uuid, hit.version == version { return hit.data }
            var w = JSONText()
            try SnapshotJSON.writeList(to: &w) { (emit) throws(EngineError) in _ = try engine.forEachSnapshotSummary(vm: vm, emit) }
            let data = Data(w.bytes)
            let idle = try engine.catalog.read { db in try db.jobs(vmUUID: uuid, states: [.pending, .running], limit: 1) }.isEmpty
            if idle {
                listings.withLock { all in
                    if all.count >= Self.listCacheLimit && all[vm] == nil { all.removeAll() }
                    all[vm] = Listing(uuid: uuid, version: version, data: data)
                }
            }
            return data
        }
    }

    private func changeCounter(_ engine: SnapshotEngine) throws -> CatalogChangeCounter {
        try changes.withLock { counter in
            if let counter { return counter }
            let made = try CatalogChangeCounter(path: engine.catalog.path)
            counter = made
            return made
        }
    }
}
