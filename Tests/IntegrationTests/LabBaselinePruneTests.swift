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

/// Commands that only change what the catalog already holds create no catalog when there is none:
/// they refuse (not found) and leave nothing behind (found by the CLI fuzz test: `lab mark` made
/// `missing-dir/c.sqlite`, then said the snapshot did not exist).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct MissingCatalogTests {
    @Test func commandsOnExistingStateCreateNoCatalog() throws {
        let f = try EngineFixture(tag: "nocat")
        defer { f.destroy() }
        let vm = f.guest.name
        let directory = f.guest.directory + "/missing-dir"
        let cli = CLI(catalog: directory + "/c.sqlite", store: f.storePath)
        let commands: [[String]] = [
            ["lab", "mark", vm, "--baseline", "s1"], ["reset", vm],
            ["edit", vm, "s1", "--description", "x"], ["rename", vm, "s1", "s2"], ["delete", vm, "s1", "--yes"],
            ["restore", vm, "s1", "--confirm", vm], ["revert", vm, "s1", "--confirm", vm],
            ["export-disk", vm, "s1", "--disk", "vda", "--to", f.guest.directory + "/x.qcow2"],
            ["verified", vm, "s1"], ["unpin", vm, "s1"], ["forget", vm], ["hook", "remove", "1"],
        ]
        for args in commands {
            let result = try cli.run(args)
            #expect(result.status != 0, "\(args) succeeded without a catalog")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(args): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory), "\(args) created \(directory)")
        }
        // Nothing to undo: these succeed, and still create nothing.
        for args in [["lab", "unmark", vm], ["policy", "clear", vm]] {
            #expect(try cli.run(args).status == 0, "\(args)")
            #expect(!FileManager.default.fileExists(atPath: directory), "\(args) created \(directory)")
        }
    }
}
