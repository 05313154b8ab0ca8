import Foundation
import SnapshotEngine
import Testing

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct CLIInspectTests {
    @Test func vmsListsTheTestDriverDomainAndTheRunningGuestWithCounts() throws {
        let f = try EngineFixture(tag: "vms")
        defer { f.destroy() }
        let cli = CLI(f)
        let testDriver = try ExternalProcess.run(
            CLI.binary,
            [
                "vms", "--connect", "test:///default", "--json",
                "--catalog", cli.catalog, "--store", cli.store,
            ])
        #expect(testDriver.status == 0)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(testDriver.standardOutput.utf8)) as? [[String: Any]])
        #expect(rows.contains { $0["name"] as? String == "test" && $0["state"] as? String == "running" && ($0["uuid"] as? String)?.count == 36 })

        try f.guest.waitForCounter(atLeast: 1)
        #expect(try cli.run(["create", f.guest.name, "--name", "one"]).status == 0)
        let system = try cli.run(["vms", "--json"])
        let vms = try #require(system.json as? [[String: Any]])
        let mine = try #require(vms.first { $0["name"] as? String == f.guest.name })
        #expect(mine["state"] as? String == "running" && mine["snapshots"] as? Int == 1)
        #expect((mine["snapshotBytes"] as? Int ?? 0) > 0)
        let table = try cli.run(["vms"])
        #expect(table.stdout.contains(f.guest.name) && table.stdout.hasPrefix("NAME"))
    }

    @Test func renameEditAndShowChangeOnlyMetadata() throws {
        let f = try EngineFixture(tag: "edit")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        #expect(try cli.run(["create", vm, "--name", "a", "--description", "first"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        #expect(try cli.run(["rename", vm, "a", "b"]).status == 3)
        #expect(try cli.run(["rename", vm, "a", "x/y"]).status == 64)
        #expect(try cli.run(["rename", vm, "a", "alpha"]).status == 0)
        #expect(try cli.run(["edit", vm, "alpha", "--description", "renamed", "--pin", "--expires", "2099-01-02"]).status == 0)
        #expect(try cli.run(["edit", vm, "alpha", "--expires", "yesterday"]).status == 64)
        let shown = try #require(try cli.run(["show", vm, "alpha", "--json"]).json as? [String: Any])
        #expect(shown["description"] as? String == "renamed" && shown["pinned"] as? Bool == true)
        #expect((shown["expiresAt"] as? String)?.hasPrefix("2099-01-0") == true)
        #expect(shown["kind"] as? String == "full" && shown["parent"] is NSNull)
        let listed = try #require(try cli.run(["list", vm, "--json"]).json as? [[String: Any]])
        #expect(listed.map { $0["name"] as? String } == ["alpha", "b"])
        #expect(listed[1]["parent"] as? String == "alpha" && listed[1]["kind"] as? String == "incremental")
        for key in ["name", "description", "kind", "parent", "createdAt", "hasMemory", "diskBytes", "memoryBytes", "pinned", "expiresAt", "state"] {
            #expect(listed[1].keys.contains(key), "list --json lacks \(key)")
        }
        #expect(try cli.run(["edit", vm, "alpha", "--expires", "never", "--unpin"]).status == 0)
        let cleared = try #require(try cli.run(["show", vm, "alpha", "--json"]).json as? [String: Any])
        #expect(cleared["expiresAt"] is NSNull && cleared["pinned"] as? Bool == false)
    }

    @Test func checkReportsDriftAndNeverDeletes() throws {
        let f = try EngineFixture(tag: "check")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try cli.createWhileCounting(vm, ["a", "b"], guest: f.guest)
        #expect(try cli.run(["check", vm]).status == 0)

        // A memory file removed behind kvmsnap's back and a stray file in the store.
        let b = try f.engine.snapshot(vm: vm, name: "b")
        let memory = try #require(b.record.memoryPath)
        try FileManager.default.removeItem(atPath: memory)
        let stray = (memory as NSString).deletingLastPathComponent + "/stray.mem"
        FileManager.default.createFile(atPath: stray, contents: Data("x".utf8))
        let filesBefore = filesUnder(f.storePath)
        let report = try cli.run(["check", vm])
        #expect(report.status == 1)
        #expect(report.stdout.contains("memory file of 'b' missing") && report.stdout.contains("file not in the catalog: \(stray)"), "\(report.stdout)")
        #expect(filesUnder(f.storePath) == filesBefore, "check changed files")
        // The VM undefined outside kvmsnap is reported too; the catalog keeps its snapshots.
        try f.guest.domain.destroy()
        try f.guest.domain.undefine()
        let gone = try cli.run(["check", vm, "--json"])
        #expect(gone.status == 1 && gone.stdout.contains("is no longer defined in libvirt"), "\(gone.stdout)")
        #expect(try cli.snapshotStates(vm).count == 2)
    }
}
