import Foundation
import SnapshotEngine
import Testing

/// Bugs found reviewing the merged issue 10 work: the siblings the items' own tests missed.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct ReviewFixesTests {
    /// Item 19 sibling: `retention simulate` streams its table without `Output.table`, so the
    /// names from the timeline file reached the terminal raw (ESC sequences, forged rows).
    @Test func simulateEscapesTimelineNamesInItsTable() throws {
        let dir = try Hardening.tempDir("simulate-escape")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let timeline = dir + "/t.json"
        let timelineJSON =
            #"[{"name": "a\u001b[31mred\nforged   2020-01-01 00:00:00  keep", "createdAt": "2020-01-01T00:00:00Z"}, "#
            + #"{"name": "b", "createdAt": "2020-01-02T00:00:00Z"}]"#
        try timelineJSON.write(toFile: timeline, atomically: true, encoding: .utf8)
        let result = try CLI.runBare(
            ["retention", "simulate", "--timeline", timeline, "--keep-last", "1", "--now", "2024-06-15T12:00:00Z"],
            environment: ["TZ": "UTC"], timeout: 30)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("\u{1B}"), "ESC reached the terminal: \(result.stdout.debugDescription)")
        #expect(!result.stdout.split(separator: "\n").contains { $0.hasPrefix("forged") }, "a newline in a name forged a row")
        #expect(result.stdout.contains(#"a\e[31mred\nforged"#), "\(result.stdout)")
    }

    /// Item 23 sibling: `forget --delete-files` deleted every store file the catalog named for the
    /// vanished VM, also one a VM libvirt still has runs on (a VM re-defined from the old one's
    /// XML under a new UUID keeps its disk in the old VM's store directory).
    @Test func forgetDeleteFilesRefusesFilesAnotherVMUses() throws {
        let f = try EngineFixture(tag: "forget-inuse", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "a"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        let old = try f.guest.connection.lookupDomain(name: vm)
        let oldUUID = try old.uuidString
        let xml = try old.xml(flags: [.inactive])
        let storeDir = StoreLayout(root: f.storePath).vmDirectory(oldUUID)
        #expect(xml.contains(storeDir), "the VM should run on a layer in the store")
        try old.undefine()
        _ = try f.guest.connection.defineDomain(xml: xml.replacingOccurrences(of: "<uuid>\(oldUUID)</uuid>", with: ""))

        let files = filesUnder(storeDir)
        let dump = try Hardening.dump(f.catalogPath)
        let refused = try cli.run(["forget", oldUUID, "--delete-files"])
        #expect(refused.status == 3 && Hardening.oneLineError(refused, "uses"), "exit \(refused.status): \(refused.stderr)")
        #expect(filesUnder(storeDir) == files, "forget deleted files a defined VM uses")
        #expect(try Hardening.dump(f.catalogPath) == dump, "a refused forget changed the catalog")
        // Without --delete-files the rows go and every file stays.
        #expect(try cli.run(["forget", oldUUID]).status == 0)
        #expect(filesUnder(storeDir) == files)
    }

    /// Item 12 sibling: once `delete` has removed the snapshot's row, a refusal from reclaim
    /// (e.g. "the VM still uses it", a block job that is not its own) was reported as a refusal
    /// (conflict, exit 3: "nothing was changed") although the snapshot was gone.
    @Test func aDeleteThatAlreadyDeletedIsNeverReportedAsARefusal() throws {
        let f = try EngineFixture(tag: "delete-after", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "a"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        f.engine.faultInjector = { point throws(EngineError) in
            if point == "delete.afterCatalog" { throw EngineError(.conflict, "injected refusal at \(point)") }
        }
        var thrown: EngineError?
        do { try f.engine.deleteSnapshot(vm: vm, name: "a") } catch { thrown = error }
        f.engine.faultInjector = nil
        let error = try #require(thrown)
        #expect(error.code != .conflict, "reported as a refusal after deleting: \(error)")
        #expect(error.message.contains("'a' was deleted"), "\(error.message)")
        #expect(try cli.snapshotStates(vm) == ["b": "ready"])
    }
}
