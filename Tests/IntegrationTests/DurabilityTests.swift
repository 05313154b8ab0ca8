import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// A snapshot is reported ready only once its files are on stable storage (issue 11).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct DurabilityTests {
    /// Syncs for real and records each path with the snapshots the catalog held as ready at
    /// that moment; can be told to fail.
    final class RecordingSync: FileSyncing, @unchecked Sendable {
        struct Call { var path: String; var isDirectory: Bool; var readyAtThatMoment: Set<String> }
        private let lock = NSLock()
        private var recorded: [Call] = []
        var catalog: Catalog?
        var vmUUID = ""
        var failOn: String?
        /// Record without syncing (paths that do not exist).
        var recordOnly = false

        var calls: [Call] { lock.lock(); defer { lock.unlock() }; return recorded }
        func reset() { lock.lock(); recorded = []; lock.unlock() }

        func sync(_ path: String, isDirectory: Bool) throws(EngineError) {
            let ready = (try? catalog?.read { try $0.snapshots(vmUUID: vmUUID) }.filter { $0.state == .ready }.map(\.id)) ?? []
            lock.lock(); recorded.append(Call(path: path, isDirectory: isDirectory, readyAtThatMoment: Set(ready))); lock.unlock()
            if path == failOn { throw EngineError(.io, "injected sync failure on \(path)") }
            if !recordOnly { try Fsync().sync(path, isDirectory: isDirectory) }
        }
    }

    /// The files a snapshot consists of: its memory image and NVRAM copy and the layers its disk
    /// rows name (from the catalog), plus every image its create job made for the VM to run on
    /// (from the job's journal: the new overlays, and with `--full` the copy and the overlay on it;
    /// a layer reclaimed right after the create is still one that had to be durable meanwhile).
    func expectedFiles(_ f: EngineFixture, _ snapshot: SnapshotRecord) throws -> Set<String> {
        var files = Set([snapshot.memoryPath, snapshot.nvramPath].compactMap { $0 })
        try f.engine.catalog.read { db in
            for disk in try db.disks(ofSnapshot: snapshot.id) { if let layer = try db.layer(id: disk.layerID) { files.insert(layer.path) } }
        }
        let job = try #require(try f.lastJob("create"))
        #expect(job.snapshotID == snapshot.id)
        let journal = try #require(try JSONSerialization.jsonObject(with: Data((job.journal ?? "").utf8)) as? [String: Any])
        files.formUnion((journal["newOverlays"] as? [String: String] ?? [:]).values)
        for paths in (journal["fullCopies"] as? [String: [String: String]] ?? [:]).values { files.formUnion(paths.values) }
        return files
    }

    /// Every directory from each file up to the store's root (the VM's own image directory for adopted originals).
    func expectedDirectories(_ files: Set<String>, storeRoot: String) -> Set<String> {
        var directories = Set<String>()
        for file in files {
            var directory = (file as NSString).deletingLastPathComponent
            while true {
                directories.insert(directory)
                guard directory != storeRoot, directory.hasPrefix(storeRoot + "/") else { break }
                directory = (directory as NSString).deletingLastPathComponent
            }
        }
        return directories
    }

    @Test func createSyncsExactlyTheSnapshotsFilesAndDirectoriesBeforeItIsReady() throws {
        let f = try EngineFixture(tag: "durable", diskMiB: [64, 32], uefi: true)
        defer { f.destroy() }
        let g = f.guest
        try g.waitForCounter(atLeast: 2)
        let sink = RecordingSync()
        sink.catalog = f.engine.catalog
        sink.vmUUID = try g.domain.uuidString
        f.engine.durability = Durability(syncer: sink)

        // First (adopts the VM's own images), incremental, --full: each kind of create.
        for (name, full) in [("s1", false), ("s2", false), ("s3", true)] {
            sink.reset()
            let snapshot = try f.snapshot(name, full: full).record
            #expect(snapshot.memoryPath != nil && snapshot.nvramPath != nil, "\(name) should have memory and NVRAM")
            let files = try expectedFiles(f, snapshot)
            let calls = sink.calls
            #expect(Set(calls.filter { !$0.isDirectory }.map(\.path)) == files, "\(name): synced files differ from the snapshot's files")
            #expect(
                Set(calls.filter(\.isDirectory).map(\.path)) == expectedDirectories(files, storeRoot: f.storePath),
                "\(name): synced directories \(calls.filter(\.isDirectory).map(\.path))")
            #expect(calls.count == Set(calls.map(\.path)).count, "\(name): a path was synced twice")
            #expect(calls.allSatisfy { !$0.readyAtThatMoment.contains(snapshot.id) }, "\(name) was ready before all its files were synced")
            // Files first, then directories (a name is durable only once the directory is synced after it).
            let firstDirectory = try #require(calls.firstIndex { $0.isDirectory })
            #expect(calls[firstDirectory...].allSatisfy { $0.isDirectory }, "\(name): a file was synced after a directory")
            #expect(try f.engine.catalog.read { try $0.snapshot(id: snapshot.id) }?.state == .ready)
        }

        // A sync that fails fails the create: nothing is reported ready, the snapshot is rolled back.
        sink.reset()
        sink.failOn = f.storePath + "/vms/\(sink.vmUUID)/memory"
        #expect(throws: EngineError.self) { try f.snapshot("s4") }
        let names = try f.engine.catalog.read { try $0.snapshots(vmUUID: sink.vmUUID) }.map(\.name)
        #expect(names == ["s1", "s2", "s3"], "\(names)")
        let memoryFiles = try FileManager.default.contentsOfDirectory(atPath: sink.failOn!)
        #expect(memoryFiles.count == 3, "the failed create left its memory image: \(memoryFiles)")
    }
}
