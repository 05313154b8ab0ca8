import Foundation
import SnapshotCatalog
import Testing

/// Commands that only read the catalog (`jobs`, `policy show`, `hook list`, `lab list`, and
/// `retention simulate`, which reads neither) work while libvirtd is down: kvmsnap connects to
/// libvirt only when a command needs it. The "down" libvirt is a URI whose socket does not
/// exist, so the real libvirtd is left alone. Needs no QEMU: the catalog is filled over
/// test:///default and directly.
@Suite struct CatalogOnlyCommandsTests {
    static let unreachable = "qemu:///system?socket=/nonexistent/kvmsnap-test/libvirt-sock"
    static let connectFailure =
        "kvmsnap: error: cannot connect to \(unreachable): Failed to connect socket to '/nonexistent/kvmsnap-test/libvirt-sock': No such file or directory\n"

    @Test func catalogOnlyCommandsPrintTheSameWithLibvirtDownAndOthersFailClearly() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-offline-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalogPath = dir + "/catalog.sqlite", store = dir + "/store"
        func kvmsnap(_ args: [String], uri: String, environment: [String: String] = [:]) throws -> CLI.Result {
            try CLI.runBare(args + ["--connect", uri, "--catalog", catalogPath, "--store", store], environment: environment)
        }

        // A catalog with policies, a hook, a lab VM and jobs; `test` is test:///default's VM.
        for args in [["policy", "set", "--default", "--keep-daily", "7"], ["policy", "set", "test", "--keep-last", "3", "--quiesce", "auto"]] {
            let made = try kvmsnap(args, uri: "test:///default")
            #expect(made.status == 0, "\(made.stderr)")
        }
        let hook = try CLI.runBare([
            "hook", "add", "--phase", "pre-snapshot", "--connect", "test:///default", "--catalog", catalogPath,
            "--store", store, "--", "/bin/true",
        ])
        #expect(hook.status == 0, "\(hook.stderr)")
        let catalog = try Catalog(path: catalogPath)
        let labUUID = UUID().uuidString.lowercased()
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        try catalog.write { db in
            try db.save(VMRecord(uuid: labUUID, name: "lab-vm", createdAt: t0))
            try db.insert(
                SnapshotRecord(
                    id: "s-base", vmUUID: labUUID, name: "base", kind: .full, parentID: nil, createdAt: t0,
                    state: .ready, hasMemory: false, memoryBytes: 0, diskBytes: 1, configXML: "<domain/>",
                    pinned: false, expiresAt: nil, labels: [], guestPauseMs: nil))
            try db.save(VMRecord(uuid: labUUID, name: "lab-vm", createdAt: t0, labBaselineID: "s-base"))
            var done = JobRecord(
                kind: "create", vmUUID: labUUID, vmName: "lab-vm", snapshotID: "s-base", snapshotName: "base",
                state: .succeeded, startedAt: t0, pid: 1)
            done.endedAt = t0.addingTimeInterval(2.5)
            try db.insert(&done)
            var failed = JobRecord(
                kind: "delete", vmUUID: labUUID, vmName: "lab-vm", snapshotName: "base", state: .failed,
                startedAt: t0.addingTimeInterval(60), pid: 2)
            failed.endedAt = t0.addingTimeInterval(61)
            failed.error = "injected: the disk went away"
            try db.insert(&failed)
        }

        // Each prints exactly what it prints with libvirt up, and what it should.
        let expectations: [([String], (String) -> Bool)] = [
            (["jobs"], { $0.contains("create  lab-vm  base") && $0.contains("injected: the disk went away") }),
            (["jobs", "lab-vm", "--failed", "--json"], { ($0.contains("\"kind\" : \"delete\"")) && !$0.contains("\"kind\" : \"create\"") }),
            (["policy", "show"], { $0.hasPrefix("the default policy, updated ") && $0.contains("keep-daily    7") }),
            (["policy", "show", "test"], { $0.hasPrefix("VM test's own policy") && $0.contains("keep-last     3") && $0.contains("quiesce       auto") }),
            (["policy", "show", "lab-vm", "--json"], { $0.contains("\"source\" : \"default\"") && $0.contains("\"keepDaily\" : 7") }),
            (["hook", "list"], { $0.contains("1   pre-snapshot  (all)  600 s    /bin/true") }),
            (["hook", "list", "--json"], { $0.contains("\"phase\" : \"pre-snapshot\"") }),
            (["lab", "list"], { $0.contains("lab-vm  \(labUUID)") }),
            (["lab", "list", "--json"], { $0.contains("\"uuid\" : \"\(labUUID)\"") }),
        ]
        for (args, expected) in expectations {
            let up = try kvmsnap(args, uri: "test:///default")
            let down = try kvmsnap(args, uri: Self.unreachable)
            #expect(down.status == 0 && down.stderr.isEmpty, "\(args): exit \(down.status): \(down.stderr)")
            #expect(down.stdout == up.stdout, "\(args): with libvirt down:\n\(down.stdout)\nwith libvirt up:\n\(up.stdout)")
            #expect(expected(down.stdout), "\(args): \(down.stdout)")
        }
        // The same through $LIBVIRT_DEFAULT_URI instead of --connect.
        let viaEnvironment = try CLI.runBare(["jobs", "--catalog", catalogPath, "--store", store], environment: ["LIBVIRT_DEFAULT_URI": Self.unreachable])
        #expect(viaEnvironment.status == 0 && viaEnvironment.stdout.contains("injected: the disk went away"), "\(viaEnvironment.stderr)")

        // A VM only libvirt could name: not found (exit 2), saying libvirt was not reachable.
        let unknown = try kvmsnap(["policy", "show", "nowhere"], uri: Self.unreachable)
        #expect(unknown.status == 2)
        #expect(unknown.stderr == "kvmsnap: error: no VM named 'nowhere' in the catalog (libvirt at \(Self.unreachable) is not reachable)\n")

        // retention simulate needs neither libvirt nor the catalog.
        let timeline = dir + "/timeline.json"
        try #"[{"name": "a", "createdAt": "2030-01-01T00:00:00Z"}, {"name": "b", "createdAt": "2030-01-02T00:00:00Z"}]"#
            .write(toFile: timeline, atomically: true, encoding: .utf8)
        let simulated = try CLI.runBare(
            ["retention", "simulate", "--timeline", timeline, "--keep-last", "1", "--now", "2030-01-03T00:00:00Z", "--json"],
            environment: ["LIBVIRT_DEFAULT_URI": Self.unreachable, "TZ": "UTC"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let decisions = (simulated.json as? [[String: Any]])?.map { "\($0["name"] ?? "?"):\($0["keep"] ?? "?")" }
        #expect(decisions == ["a:0", "b:1"], "\(simulated.stdout)")

        // Commands that need libvirt fail with libvirt's reason (exit 1) and change nothing.
        let before = try TestGuest.run("/usr/bin/sqlite3", ["-readonly", catalogPath, ".dump"])
        for args in [["create", "test", "--name", "x"], ["list", "test"], ["vms"], ["policy", "set", "test", "--keep-last", "9"]] {
            let result = try kvmsnap(args, uri: Self.unreachable)
            #expect(result.status == 1 && result.stdout.isEmpty, "\(args): exit \(result.status)")
            #expect(result.stderr == Self.connectFailure, "\(args): \(result.stderr)")
        }
        #expect(try TestGuest.run("/usr/bin/sqlite3", ["-readonly", catalogPath, ".dump"]) == before)
        // ... and create no catalog where there is none.
        let fresh = dir + "/fresh.sqlite"
        let create = try CLI.runBare(["create", "test", "--name", "x", "--connect", Self.unreachable, "--catalog", fresh, "--store", store])
        #expect(create.status == 1 && create.stderr == Self.connectFailure)
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }
}
