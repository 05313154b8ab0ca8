import Foundation
import Testing

@testable import SnapshotCatalog

/// Issue 10 items 6, 17, 22 and 23 at the catalog layer: what is at the path decides whether
/// it is opened, created or refused; forgetting a VM drops exactly its rows.
@Suite struct CatalogIdentityTests {
    let dir = NSTemporaryDirectory() + "kvmsnap-catalog-identity-\(UUID().uuidString)"

    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs one statement with the sqlite3 tool (not through kvmsnap's catalog code).
    func sqlite3(_ path: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path, sql]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    func code(_ body: () throws -> Void) -> CatalogError.Code? {
        do { try body(); return nil } catch { return (error as? CatalogError)?.code }
    }

    @Test func aNewCatalogIsStampedAndOnlyCreatedWhereNothingIs() throws {
        defer { cleanup() }
        #expect(try Catalog.openForReading(path: dir + "/none/c.sqlite") == nil)
        #expect(!FileManager.default.fileExists(atPath: dir + "/none"))
        _ = try Catalog(path: dir + "/c.sqlite")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".new-") }.isEmpty)
        #expect(try Catalog.identify(dir + "/c.sqlite") == true)  // true: stamped

        FileManager.default.createFile(atPath: dir + "/empty.sqlite", contents: Data())
        #expect(code { _ = try Catalog(path: dir + "/empty.sqlite") } == .notACatalog)
        #expect(code { _ = try Catalog.openForReading(path: dir + "/empty.sqlite") } == .notACatalog)
        FileManager.default.createFile(atPath: dir + "/text.sqlite", contents: Data(String(repeating: "not sqlite\n", count: 20).utf8))
        #expect(code { _ = try Catalog(path: dir + "/text.sqlite") } == .notACatalog)
        #expect(code { _ = try Catalog(path: dir) } == .notACatalog)
        #expect(code { _ = try Catalog(path: "/dev/null") } == .notACatalog)
        #expect(!FileManager.default.fileExists(atPath: "/dev/null-journal") && !FileManager.default.fileExists(atPath: "/dev/null-wal"))
    }

    @Test func earlierCatalogsAreRecognisedByTheirMigrationsAndForeignOnesAreNot() throws {
        defer { cleanup() }
        let path = dir + "/old.sqlite"
        do {
            let catalog = try Catalog(path: path)
            try catalog.write { try $0.save(VMRecord(uuid: "u1", name: "vm1", createdAt: Date())) }
        }
        try sqlite3(path, "PRAGMA application_id = 0")
        #expect(try Catalog.identify(path) == false)  // false: recognised, not stamped
        do {
            let again = try Catalog(path: path)
            #expect(try again.read { try $0.vm(uuid: "u1")?.name } == "vm1")
        }
        #expect(try Catalog.identify(path) == true)  // stamped (the header, once the WAL is checkpointed at close)

        // Another GRDB application whose first migration has kvmsnap's first migration's name.
        let foreign = dir + "/foreign.sqlite"
        try sqlite3(
            foreign, "CREATE TABLE grdb_migrations(identifier TEXT NOT NULL PRIMARY KEY); INSERT INTO grdb_migrations VALUES ('v1-initial'), ('v2-other')")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: foreign))
        #expect(code { _ = try Catalog(path: foreign) } == .notACatalog)
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == bytes)
    }

    @Test func forgettingAVMDropsItsRowsAndKeepsItsJobsAndOtherVMs() throws {
        defer { cleanup() }
        let catalog = try Catalog(path: dir + "/c.sqlite")
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        try catalog.write { db in
            for (uuid, name) in [("u1", "gone"), ("u2", "kept")] {
                try db.save(VMRecord(uuid: uuid, name: name, createdAt: at))
                // A chain of three layers (parents first) and two snapshots on it.
                try db.insert(
                    LayerRecord(
                        id: "\(uuid)-l0", vmUUID: uuid, diskTarget: "vda", path: "/img/\(uuid).qcow2", format: "qcow2", parentLayerID: nil, role: .original,
                        createdAt: at))
                try db.insert(
                    LayerRecord(
                        id: "\(uuid)-l1", vmUUID: uuid, diskTarget: "vda", path: "/store/\(uuid)-1.qcow2", format: "qcow2", parentLayerID: "\(uuid)-l0",
                        role: .overlay, createdAt: at))
                try db.insert(
                    LayerRecord(
                        id: "\(uuid)-l2", vmUUID: uuid, diskTarget: "vda", path: "/store/\(uuid)-2.qcow2", format: "qcow2", parentLayerID: "\(uuid)-l1",
                        role: .overlay, createdAt: at))
                for (i, layer) in ["l0", "l1"].enumerated() {
                    try db.insert(
                        SnapshotRecord(
                            id: "\(uuid)-s\(i)", vmUUID: uuid, name: "s\(i)", kind: .incremental, parentID: i == 0 ? nil : "\(uuid)-s0",
                            createdAt: at, hasMemory: false, configXML: "<domain/>"))
                    try db.save(SnapshotDiskRecord(snapshotID: "\(uuid)-s\(i)", diskTarget: "vda", layerID: "\(uuid)-\(layer)"))
                }
                try db.save(ScheduleStateRecord(vmUUID: uuid, lastSlot: at, updatedAt: at))
                try db.save(PolicyRecord(scope: "vm:\(uuid)", json: "{}", updatedAt: at))
                var job = JobRecord(kind: "create", vmUUID: uuid, vmName: name, state: .succeeded, startedAt: at, pid: 1)
                try db.insert(&job)
            }
        }
        let counts = try catalog.write { try $0.forgetVM(uuid: "u1", policyScope: "vm:u1") }
        #expect(counts.snapshots == 2 && counts.layers == 3)
        try catalog.read { db throws in
            #expect(try db.vm(uuid: "u1") == nil)
            #expect(try db.snapshots(vmUUID: "u1").isEmpty)
            #expect(try db.layers(vmUUID: "u1").isEmpty)
            #expect(try db.disks(vmUUID: "u1").isEmpty)
            #expect(try db.scheduleState(vmUUID: "u1") == nil)
            #expect(try db.policy(scope: "vm:u1") == nil)
            #expect(try db.jobs(vmUUID: "u1").count == 1)
            #expect(try db.snapshots(vmUUID: "u2").count == 2)
            #expect(try db.layers(vmUUID: "u2").count == 3)
            #expect(try db.disks(vmUUID: "u2").count == 2)
            #expect(try db.policy(scope: "vm:u2") != nil)
            #expect(try db.scheduleState(vmUUID: "u2") != nil)
        }
    }
}
