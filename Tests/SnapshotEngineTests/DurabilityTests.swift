import Foundation
import SnapshotEngine
import Testing

/// The order in which a snapshot's files and directories reach stable storage (issue 11).
@Suite struct DurabilityTests {
    /// Records each path it is asked to sync, without syncing.
    final class RecordingSync: FileSyncing, @unchecked Sendable {
        struct Call { var path: String; var isDirectory: Bool }
        private let lock = NSLock()
        private var recorded: [Call] = []
        /// This copy never syncs (IntegrationTests' RecordingSync can); set as there.
        var recordOnly = true

        var calls: [Call] { lock.lock(); defer { lock.unlock() }; return recorded }

        func sync(_ path: String, isDirectory: Bool) throws(EngineError) {
            lock.lock(); recorded.append(Call(path: path, isDirectory: isDirectory)); lock.unlock()
        }
    }

    /// Files in the order given (each once), then their directories up to the store's root,
    /// deepest first; the benchmark's comparison mode syncs nothing.
    @Test func makeDurableOrderAndTheUnsafeMode() throws {
        let sync = RecordingSync()
        sync.recordOnly = true
        let root = "/srv/store"
        let store = StoreLayout(root: root)
        try Durability.unsafeNone.makeDurable(["/nonexistent/file"], store: store)
        try Durability(syncer: sync).makeDurable(
            [
                root + "/vms/u/memory/a.mem", root + "/vms/u/layers/b.qcow2", "/images/c.qcow2",
                root + "/vms/u/memory/a.mem",
            ], store: store)
        #expect(
            sync.calls.map(\.path) == [
                root + "/vms/u/memory/a.mem", root + "/vms/u/layers/b.qcow2", "/images/c.qcow2",
                root + "/vms/u/layers", root + "/vms/u/memory", root + "/vms/u", root + "/vms", root, "/images",
            ])
        #expect(sync.calls.map(\.isDirectory) == [false, false, false] + Array(repeating: true, count: 6))
    }
}
