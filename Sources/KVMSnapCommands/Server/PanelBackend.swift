import Foundation
import KVMSnapCore
import NIOPosix
import SnapshotEngine
import Synchronization

/// The engine behind the panel: one `SnapshotEngine` (Sendable, one operation per VM through its
/// locks), opened on first use and opened again after libvirt went away. Every call runs on
/// NIO's blocking thread pool: the engine is synchronous and must never run on an event loop.
/// `options` is never changed after init (hence `@unchecked`: ArgumentParser's types are not `Sendable`).
final class PanelBackend: @unchecked Sendable {
    let options: GlobalOptions
    private let cached = Mutex<SnapshotEngine?>(nil)
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
    func snapshotList(vm: String) async throws -> Data {
        try await run { engine in
            var w = JSONText()
            try SnapshotJSON.writeList(to: &w) { (emit) throws(EngineError) in _ = try engine.forEachSnapshotSummary(vm: vm, emit) }
            return Data(w.bytes)
        }
    }
}
