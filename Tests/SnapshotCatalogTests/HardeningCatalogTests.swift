import Foundation
import Testing

@testable import SnapshotCatalog

/// The catalog queries recovery and `check` rely on (issue 10, items 3 and 8).
@Suite struct HardeningCatalogTests {
    let path = NSTemporaryDirectory() + "kvmsnap-catalog-\(UUID().uuidString)/catalog.sqlite"

    @Test func pendingSnapshotIDsAndJobsByKindAreScopedToTheirVM() throws {
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let catalog = try Catalog(path: path)
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        try catalog.write { db in
            for vm in ["u1", "u2"] { try db.save(VMRecord(uuid: vm, name: vm, createdAt: at)) }
            for (id, vm, state) in [("a", "u1", SnapshotState.pending), ("b", "u1", .ready), ("c", "u1", .failed), ("d", "u2", .pending)] {
                try db.insert(
                    SnapshotRecord(
                        id: id, vmUUID: vm, name: id, kind: .full, parentID: nil, createdAt: at, state: state,
                        hasMemory: false, configXML: "<domain/>"))
            }
            for (kind, vm) in [("restore", "u1"), ("create", "u1"), ("revert", "u2"), ("create", "u1")] {
                var job = JobRecord(kind: kind, vmUUID: vm, vmName: vm, state: .succeeded, startedAt: at, pid: 1)
                try db.insert(&job)
            }
        }
        #expect(try catalog.read { try $0.snapshotIDs(vmUUID: "u1", state: .pending) } == ["a"])
        #expect(try catalog.read { try $0.snapshotIDs(vmUUID: "u1", state: .failed) } == ["c"])
        let lastStateChange = try catalog.read { try $0.jobs(vmUUID: "u1", kinds: ["restore", "revert"], limit: 1) }
        #expect(lastStateChange.map(\.kind) == ["restore"] && lastStateChange.first?.id == 1)
        #expect(try catalog.read { try $0.jobs(kinds: ["create"]) }.map(\.id) == [4, 2])
    }

    /// `deleting` was never written by any code path: it is not a state any more, and a row
    /// claiming it is an error naming the row, not a crash.
    @Test func snapshotStatesAreTheOnesTheProductReaches() throws {
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(SnapshotState.allCases.map(\.rawValue) == ["pending", "ready", "failed"])
        let catalog = try Catalog(path: path)
        try catalog.write { db in
            try db.save(VMRecord(uuid: "u1", name: "u1", createdAt: Date()))
            try db.insert(
                SnapshotRecord(
                    id: "s-x", vmUUID: "u1", name: "x", kind: .full, parentID: nil, createdAt: Date(),
                    hasMemory: false, configXML: "<domain/>"))
            try db.db.execute(sql: "UPDATE snapshot SET state = 'deleting' WHERE id = 's-x'")
        }
        do {
            _ = try catalog.read { try $0.snapshot(id: "s-x") }
            Issue.record("a row in state 'deleting' decoded")
        } catch {
            #expect(error.message.contains("snapshot s-x: unknown state 'deleting'"), "\(error.message)")
        }
    }
}
