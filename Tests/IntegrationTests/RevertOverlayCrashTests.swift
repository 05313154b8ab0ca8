import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Found by RandomCrashTests (seed 8): a restore killed while its revert had made the new
/// overlay files but not yet catalogued them left those files stray for good.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct RevertOverlayCrashTests {
    /// Killed right after the revert's overlay files exist (a restore has stopped the VM by
    /// then, a plain revert has not touched it): the next command recovers without leaving a
    /// file the catalog does not know, the VM runs, and the snapshot still restores its counter.
    @Test(arguments: ["restore", "revert"])
    func killedAfterTheOverlaysAreMadeLeavesNoStrayFile(command: String) throws {
        let f = try EngineFixture(tag: "ovlcrash")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        try g.waitForCounter(atLeast: 2)
        let (_, counter) = try f.snapshot("target")
        let target = try #require(counter)
        try g.waitForCounter(atLeast: target + 3)
        let source = try g.currentSource()
        try cli.killAt("revert.overlaysMade", [command, vm, "target", "--confirm", vm], marker: g.directory + "/stalled")

        // restore: rolled back to its safety snapshot; revert: nothing had changed yet.
        let states = try cli.snapshotStates(vm)
        #expect(states["target"] == "ready" && states.count == (command == "restore" ? 2 : 1) && states.values.allSatisfy { $0 == "ready" }, "\(states)")
        try cli.expectCheckPasses(vm, "after the kill and the next command: ")
        #expect(g.isRunning)
        if command == "revert" { #expect(try g.currentSource() == source, "the revert had not touched the VM") }
        let restored = try cli.run(["restore", vm, "target", "--confirm", vm, "--no-safety-snapshot"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let first = try g.waitForFirstCounter()
        #expect(first >= target && first <= target + 2, "target holds \(target), the guest printed \(first)")
        #expect(try cli.run(["check", vm]).status == 0)
    }
}
