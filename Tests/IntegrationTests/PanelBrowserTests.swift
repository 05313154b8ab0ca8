import Foundation
import SnapshotEngine
import Testing

/// The panel in a real browser (headless Chromium driven by Selenium, Tests/browser/panel_browser.py):
/// log in, create a snapshot on the VM page, a wrong VM name keeps the restore button disabled,
/// the right one restores with the stages shown live; the guest's counter proves the restore. Then
/// the snapshot is sent to a vault and drilled from the VM page, a retention policy is saved from
/// its page and pruned with; the CLI reads each outcome.
/// Screenshots are kept in .build/test-artifacts/panel (KVMSNAP_ARTIFACTS overrides).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct PanelBrowserTests {
    static var artifacts: String {
        (ProcessInfo.processInfo.environment["KVMSNAP_ARTIFACTS"] ?? IntegrationEnvironment.packageRoot + "/.build/test-artifacts") + "/panel"
    }

    @Test func loginCreateTypedConfirmationAndLiveRestoreInChromium() throws {
        let f = try EngineFixture(tag: "browser")
        defer {
            PanelAPITests.removeDrillClones(of: f.guest.name)
            f.destroy()
        }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 2)
        #expect(try cli.run(["vault", "add", "nas", f.guest.directory + "/vault"]).status == 0)
        // Older snapshots for the page's policy (keep-last 1, keep-daily 7) to prune.
        for name in ["old-1", "old-2", "old-3"] { #expect(try cli.run(["create", vm, "--name", name]).status == 0) }
        let panel = try PanelProcess(cli)
        defer { panel.stop() }

        let script = IntegrationEnvironment.packageRoot + "/Tests/browser/panel_browser.py"
        let run = try ExternalProcess.run(
            "/usr/bin/python3", [script],
            environment: [
                "PANEL_URL": panel.base, "PANEL_TOKEN": panel.token, "PANEL_VM": vm, "PANEL_CONSOLE": f.guest.consoleLog,
                "PANEL_SHOTS": Self.artifacts, "PANEL_SNAPSHOT": "from-browser", "PANEL_VAULT": "nas",
            ], timeout: .seconds(600))
        #expect(run.status == 0, "browser test: \(run.standardOutput)\(run.standardError)")

        // The snapshot taken in the browser, and the safety snapshot taken by its restore: the
        // guest had counted past the snapshot, and after the restore it counts on from it.
        let taken = try f.engine.snapshot(vm: vm, name: "from-browser")
        let takenCounter = try #require(try TestGuest.diskCounter(try f.frozenLayerPath(taken.record.id, disk: "vda")))
        let safety = try #require(try f.engine.snapshots(vm: vm).1.first { $0.record.name.hasPrefix("pre-restore-") })
        let beforeRestore = try #require(try TestGuest.diskCounter(try f.frozenLayerPath(safety.record.id, disk: "vda")))
        #expect(beforeRestore >= takenCounter + 4, "the guest had not counted on before the restore")
        let first = try f.guest.waitForFirstCounter()
        #expect(first >= takenCounter && first <= takenCounter + 2, "first counter \(first) after restoring a snapshot at \(takenCounter)")
        // What the page did, where the CLI reads it: the saved policy, the vault's copy, the drill report.
        let policy = try #require(try cli.run(["policy", "show", vm, "--json"]).json as? [String: Any])
        let rules = try #require(policy["policy"] as? [String: Any], "\(policy)")
        #expect(policy["source"] as? String == "vm" && rules["keepLast"] as? Int == 1 && rules["keepDaily"] as? Int == 7, "\(policy)")
        let held = try #require(try cli.run(["vault", "snapshots", "nas", vm, "--json"]).json as? [[String: Any]])
        #expect(held.map { $0["snapshot"] as? String } == ["from-browser"], "\(held)")
        let drills = try #require(try cli.run(["drill", "report", vm, "--json"]).json as? [[String: Any]])
        #expect(drills.count == 1 && drills.first?["passed"] as? Bool == true && drills.first?["snapshot"] as? String == "from-browser", "\(drills)")
        let prune = try #require(try f.lastJob("prune"))
        #expect(prune.state == .succeeded, "\(prune)")
        let record = try JSONDecoder().decode(PruneJournal.self, from: Data((prune.journal ?? "").utf8))
        let left = try cli.snapshotStates(vm)
        #expect(!record.deleted.isEmpty && record.deleted == record.planned && left["from-browser"] == "ready", "\(record)")
        #expect(record.deleted.allSatisfy { left[$0] == nil } && left.keys.contains { $0.hasPrefix("old-") }, "\(record) \(left)")
        for shot in [
            "overview", "vm-page", "restore-dialog-wrong-name", "restore-dialog-done", "send-dialog-done", "drill-dialog-done", "retention-preview",
            "prune-dialog-done", "overview-after",
        ] {
            #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/\(shot).png"), "no screenshot \(shot)")
        }
    }
}
