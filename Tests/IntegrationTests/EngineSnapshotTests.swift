import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct EngineSnapshotTests {
    /// Reverts and checks the guest resumes from the snapshot's counter, not from where it was.
    func revertAndExpectCounter(_ fixture: EngineFixture, to name: String, snapshotCounter: Int, before: Int) throws {
        _ = try fixture.engine.revert(vm: fixture.guest.name, to: name)
        let first = try fixture.guest.waitForFirstCounter()
        #expect(
            first >= snapshotCounter && first <= snapshotCounter + 2,
            "after revert to \(name) the guest printed \(first); snapshot disk held \(snapshotCounter), before revert \(before)")
        #expect(first < before, "counter did not go back")
    }

    @Test func fullAndIncrementalSnapshotsRestoreMemoryAndDisksEvenAfterDeletions() throws {
        let f = try EngineFixture(tag: "chain")
        defer { f.destroy() }
        let g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (s1, c1) = try f.snapshot("s1")
        #expect(s1.kind == .full && s1.hasMemory && s1.parentID == nil)
        try g.waitForCounter(atLeast: (c1 ?? 0) + 3)
        let (s2, c2) = try f.snapshot("s2", full: true)
        #expect(s2.kind == .full && s2.parentID == s1.id)
        try g.waitForCounter(atLeast: (c2 ?? 0) + 3)
        let (s3, c3) = try f.snapshot("s3")
        #expect(s3.kind == .incremental && s3.parentID == s2.id)
        let counters = [c1, c2, c3].map { $0 ?? -1 }
        #expect(counters[0] < counters[1] && counters[1] < counters[2], "\(counters)")

        // Memory file is private.
        let mode = try FileManager.default.attributesOfItem(atPath: s3.memoryPath!)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        for (name, counter) in [("s1", counters[0]), ("s3", counters[2]), ("s2", counters[1])] {
            let before = try g.waitForCounter(atLeast: counters[2] + 3)
            try revertAndExpectCounter(f, to: name, snapshotCounter: counter, before: before)
            // Disks came back too: vda's current image reads the snapshot's value until the guest writes.
            #expect(try g.isRunning)
        }

        try f.engine.deleteSnapshot(vm: g.name, name: "s2")
        for (name, counter) in [("s1", counters[0]), ("s3", counters[2])] {
            let before = try g.waitForCounter(atLeast: counters[2] + 3)
            try revertAndExpectCounter(f, to: name, snapshotCounter: counter, before: before)
        }
        try f.engine.deleteSnapshot(vm: g.name, name: "s1")
        let before = try g.waitForCounter(atLeast: counters[2] + 3)
        try revertAndExpectCounter(f, to: "s3", snapshotCounter: counters[2], before: before)

        // Only s3 is left, and its own disk layer still reads its counter.
        let left = try f.engine.catalog.read { try $0.snapshots(vmUUID: s3.vmUUID) }
        #expect(left.map(\.name) == ["s3"])
        #expect(try TestGuest.diskCounter(f.frozenLayerPath(s3.id, disk: "vda")) == counters[2])
    }
}
