import Foundation
import Testing

/// Prune never takes a lab VM's baseline (found by the fault campaign: `--keep-last 2` pruned it,
/// and every later `reset` failed with "not a lab VM").
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct LabBaselinePruneTests {
    @Test func pruneKeepsTheLabBaselineAndResetStillWorks() throws {
        let f = try EngineFixture(tag: "labprune")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        for name in ["base", "s1", "s2"] {
            let created = try cli.run(["create", vm, "--name", name, "--disk-only"])
            #expect(created.status == 0, "\(created.stderr)")
        }
        #expect(try cli.run(["lab", "mark", vm, "--baseline", "base"]).status == 0)
        let plan = try cli.run(["prune", vm, "--keep-last", "1", "--dry-run", "--json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("lab baseline"), "\(plan.stdout)")
        let pruned = try cli.run(["prune", vm, "--keep-last", "1"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(try cli.snapshotStates(vm) == ["base": "ready", "s2": "ready"])
        let reset = try cli.run(["reset", vm])
        #expect(reset.status == 0, "\(reset.stderr)")
    }
}
