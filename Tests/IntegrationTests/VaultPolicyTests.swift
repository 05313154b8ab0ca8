import Foundation
import SnapshotEngine
import Testing

/// `policy set --vault`: run-due snapshots, prunes locally, sends, and prunes the vault; a
/// failed send fails the run and keeps the local snapshot.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct VaultPolicyTests {
    @Test func runDueSendsEachScheduledSnapshotAndPrunesTheVault() throws {
        let fixture = try EngineFixture(tag: "vpolicy", diskMiB: [64, 64])
        defer { fixture.destroy() }
        let cli = CLI(fixture), vm = fixture.guest.name, vaultDir = fixture.guest.directory + "/vault"
        try expectOK(cli.run(["vault", "add", "p", vaultDir]))
        try fixture.guest.waitForCounter(atLeast: 1)
        try expectOK(
            cli.run(["policy", "set", vm, "--keep-last", "5", "--schedule", "* * * * *", "--vault", "p", "--vault-keep-last", "1"]))
        let shown = try #require(try cli.run(["policy", "show", vm, "--json"]).json as? [String: Any])
        #expect((shown["policy"] as? [String: Any])?["vault"] as? String == "p")

        var names: [String] = []
        for minute in ["2031-03-04T10:00:00Z", "2031-03-04T10:01:00Z"] {
            let run = try cli.run(["run-due", "--now", minute, "--json"])
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            let runs = try #require((run.json as? [String: Any])?["runs"] as? [[String: Any]] ?? (run.json as? [[String: Any]]), "\(run.stdout)")
            let mine = try #require(runs.first { $0["vm"] as? String == vm })
            let name = try #require(mine["snapshot"] as? String)
            let sent = try #require(mine["sent"] as? [String: Any], "run-due sent nothing: \(run.stdout)")
            #expect(sent["snapshot"] as? String == name)
            if let previous = names.last {
                #expect(sent["baseSnapshot"] as? String == previous, "the second send is incremental")
                #expect(mine["vaultPruned"] as? [String] == [previous], "vault keep-last 1 prunes the first")
            }
            names.append(name)
            try fixture.guest.waitUntilStillCounting()
        }
        let held = try #require(try cli.run(["vault", "snapshots", "p", "--json"]).json as? [[String: Any]])
        #expect(held.map { $0["snapshot"] as? String } == [names.last])
        let verify = try cli.run(["vault", "verify", "p", "--read-data"])
        #expect(verify.status == 0, "\(verify.stdout)")

        // The vault disappears: the run fails (exit 1), the local snapshot stays.
        try FileManager.default.removeItem(atPath: vaultDir)
        let failing = try cli.run(["run-due", "--now", "2031-03-04T10:02:00Z", "--json"])
        #expect(failing.status == 1, "\(failing.stdout)\(failing.stderr)")
        let states = try cli.snapshotStates(vm)
        #expect(states.count == 3 && states.values.allSatisfy { $0 == "ready" }, "\(states)")
    }
}
