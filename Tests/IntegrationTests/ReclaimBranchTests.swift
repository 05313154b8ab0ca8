import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Found by RandomCrashTests (seed 8, without any kill): a live merge re-points only the image
/// on the running VM's chain; another snapshot's layer branching off the merged layer must be
/// re-pointed too, or it is left backed by a deleted file.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct ReclaimBranchTests {
    /// c1 freezes vda.qcow2 (P), c2 the overlay O1 above it, c3 the overlay O2 above O1. Reverting
    /// to c2 puts the VM on O4 above O1, so O1 has two children: O2 (c3, off the VM's chain) and
    /// O4 (the VM's). Deleting c1 merges O1 into P live: QEMU re-points O4, and O2 must follow.
    @Test func liveMergeRepointsTheOtherSnapshotsLayerBranchingOffTheMergedLayer() throws {
        let f = try EngineFixture(tag: "branch")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        var counters: [String: Int] = [:]
        for name in ["c1", "c2", "c3"] {
            let created = try cli.run(["create", vm, "--name", name])
            #expect(created.status == 0, "\(created.stderr)")
            let id = try f.engine.snapshot(vm: vm, name: name).record.id
            counters[name] = try #require(try TestGuest.diskCounter(f.frozenLayerPath(id, disk: "vda")))
            try g.waitForCounter(atLeast: counters[name]! + 2)
        }
        #expect(try cli.run(["revert", vm, "c2", "--confirm", vm]).status == 0)
        let c3 = try f.engine.snapshot(vm: vm, name: "c3").record.id
        let branch = try f.frozenLayerPath(c3, disk: "vda")
        let deleted = try cli.run(["delete", vm, "c1", "--yes"])
        #expect(deleted.status == 0, "\(deleted.stderr)")

        // c3's layer still reads through an existing chain, and the catalog agrees with its header.
        try cli.expectCheckPasses(vm)
        let backing = try #require(try HostTools.backingFile(branch))
        #expect(FileManager.default.fileExists(atPath: backing), "c3's layer is backed by \(backing), which was deleted")
        #expect(try TestGuest.diskCounter(branch) == counters["c3"])

        // And c3 still restores its counter.
        let restored = try cli.run(["restore", vm, "c3", "--confirm", vm, "--no-safety-snapshot"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let first = try g.waitForFirstCounter()
        #expect(first >= counters["c3"]! && first <= counters["c3"]! + 2, "c3 holds \(counters["c3"]!), the guest printed \(first)")
    }
}
