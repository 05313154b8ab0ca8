import Foundation
import Testing

@testable import SnapshotCatalog

@Suite struct CatalogTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "kvmsnap-catalog-\(UUID().uuidString)"
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }

    func snapshot(_ id: String, vm: String, name: String, parent: String? = nil) -> SnapshotRecord {
        SnapshotRecord(
            id: id, vmUUID: vm, name: name, kind: .incremental, parentID: parent,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000), hasMemory: true, configXML: "<domain/>")
    }

    @Test func catalogIsCreatedWithModeSixHundredInWALMode() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/catalog.sqlite")
        try catalog.write { try $0.save(VMRecord(uuid: "u1", name: "vm1", createdAt: Date())) }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: catalog.path + suffix) {
            let mode = try FileManager.default.attributesOfItem(atPath: catalog.path + suffix)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(suffix) has mode \(String(mode ?? 0, radix: 8))")
        }
        #expect(try catalog.journalMode() == "wal")
        // Commits are durable when they return (FULL = 2), not at the next checkpoint (GRDB's NORMAL).
        #expect(try catalog.writerSynchronous() == 2)
        let migrations = try catalog.appliedMigrations()
        let expected = [
            "v1-initial", "v2-schedule-state", "v3-hooks", "v4-snapshot-list-index", "v5-vault", "v6-vault-s3", "v7-notify", "v8-drill",
        ]
        #expect(migrations == expected, "\(migrations)")
    }

    @Test func scheduleStateAndFailedJobCounts() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/catalog.sqlite")
        let slot = Date(timeIntervalSince1970: 1_900_000_000)
        try catalog.write { db in
            try db.save(VMRecord(uuid: "u1", name: "vm1", createdAt: Date()))
            try db.save(ScheduleStateRecord(vmUUID: "u1", lastSlot: slot, updatedAt: slot))
            for (kind, state) in [("create", JobState.failed), ("create", .failed), ("run-due", .failed), ("delete", .succeeded)] {
                var job = JobRecord(kind: kind, vmUUID: "u1", vmName: "vm1", state: state, startedAt: slot, pid: 1)
                try db.insert(&job)
            }
        }
        #expect(try catalog.read { try $0.scheduleState(vmUUID: "u1")?.lastSlot } == slot)
        #expect(try catalog.read { try $0.scheduleState(vmUUID: "u2") } == nil)
        #expect(try catalog.read { try $0.failedJobCounts() } == ["create": 2, "run-due": 1])
    }

    @Test func hooksRoundTripWithTheirCommandAsJSON() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/hooks.sqlite")
        var hook = HookRecord(
            phase: "pre-snapshot", vm: "vm1", command: ["/bin/sh", "-c", "echo a, b"], timeoutSeconds: 600,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000))
        try catalog.write { try $0.insert(&hook) }
        let id = try #require(hook.id)
        #expect(try catalog.read { try $0.hooks() } == [hook])
        #expect(try catalog.write { try $0.deleteHook(id: id) })
        #expect(try catalog.write { try $0.deleteHook(id: id) } == false)
        #expect(try catalog.read { try $0.hooks() }.isEmpty)
    }

    @Test func reopeningKeepsDataAndDoesNotRerunMigrations() throws {
        defer { cleanup() }
        do {
            let catalog = try Catalog(path: dir + "/c.sqlite")
            try catalog.write { try $0.save(VMRecord(uuid: "u1", name: "vm1", createdAt: Date())) }
        }
        let again = try Catalog(path: dir + "/c.sqlite")
        #expect(try again.read { try $0.vm(uuid: "u1")?.name } == "vm1")
    }

    @Test func snapshotNamesAreUniquePerVMOnly() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/c.sqlite")
        try catalog.write { db in
            try db.save(VMRecord(uuid: "u1", name: "vm1", createdAt: Date()))
            try db.save(VMRecord(uuid: "u2", name: "vm2", createdAt: Date()))
            try db.insert(snapshot("s1", vm: "u1", name: "a"))
            try db.insert(snapshot("s2", vm: "u2", name: "a"))
        }
        #expect(throws: CatalogError.self) {
            try catalog.write { try $0.insert(snapshot("s3", vm: "u1", name: "a")) }
        }
        // The failed transaction left nothing behind.
        #expect(try catalog.read { try $0.snapshots(vmUUID: "u1").map(\.id) } == ["s1"])
    }

    @Test func jobJournalRoundTripsAndFiltersByState() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/c.sqlite")
        let id = try catalog.write { db -> Int64? in
            var job = JobRecord(kind: "create", vmUUID: "u1", vmName: "vm1", startedAt: Date(), pid: 42)
            try db.insert(&job)
            var done = JobRecord(kind: "delete", vmUUID: "u1", vmName: "vm1", state: .succeeded, startedAt: Date(), pid: 42)
            try db.insert(&done)
            return job.id
        }
        let running = try catalog.read { try $0.jobs(vmUUID: "u1", states: [.running]) }
        #expect(running.map(\.id) == [id])
        #expect(running.first?.kind == "create")
    }

    @Test func labelsRoundTripAsJSON() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/c.sqlite")
        var snap = snapshot("s1", vm: "u1", name: "a")
        snap.labels = ["before-change", "x"]
        try catalog.write { db in
            try db.save(VMRecord(uuid: "u1", name: "vm1", createdAt: Date()))
            try db.insert(snap)
        }
        #expect(try catalog.read { try $0.snapshot(id: "s1")?.labels } == ["before-change", "x"])
    }
}
