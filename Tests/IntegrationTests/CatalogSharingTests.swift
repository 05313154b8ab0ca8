import Foundation
import SnapshotCatalog
import Testing

/// One catalog kept open for a long time in one process (`kvmsnap serve`, `daemon`; here this
/// test process) while short `kvmsnap` processes write it, as cron and the CLI do. Between the
/// CLI runs this process opens the same catalog a second time, as a test helper, `doctor` or the
/// panel reconnecting after libvirtd restarted does. SQLite's POSIX locks belong to the process:
/// a second open that closes its own descriptor of the file drops the locks of the first, and an
/// exiting CLI then takes the catalog for unused, checkpoints it and deletes its WAL under the
/// long-lived one. Needs no QEMU: the CLI writes over test:///default.
@Suite struct CatalogSharingTests {
    @Test func aCatalogKeptOpenStaysIntactAndCurrentWhileCLIProcessesWriteIt() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-sharing-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/catalog.sqlite"
        func kvmsnap(_ args: [String], command: [String] = []) throws -> CLI.Result {
            let global = ["--connect", "test:///default", "--catalog", path, "--store", dir + "/store"]
            return try CLI.runBare(args + global + (command.isEmpty ? [] : ["--"] + command))
        }

        let resident = try Catalog(path: path)
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        func residentVM(_ index: Int) -> VMRecord {
            VMRecord(uuid: "00000000-0000-4000-8000-\(String(format: "%012d", index))", name: "vm-\(index)", createdAt: t0)
        }
        try resident.write { db in try db.save(residentVM(0)) }
        let rounds = 4
        for round in 1...rounds {
            // A second open in this process: a whole Catalog, or the read-only integrity check.
            if round.isMultiple(of: 2) {
                #expect(try Catalog.integrityCheck(path: path) == .intact, "round \(round)")
            } else {
                #expect(try Catalog(path: path).read { try $0.allVMs().count } == round, "round \(round)")
            }
            let policy = try kvmsnap(["policy", "set", "--default", "--keep-daily", "\(round)"])
            #expect(policy.status == 0, "round \(round): \(policy.stderr)")
            try resident.write { db in try db.save(residentVM(round)) }
            let hook = try kvmsnap(["hook", "add", "--phase", "pre-snapshot"], command: ["/bin/echo", "\(round)"])
            #expect(hook.status == 0, "round \(round): \(hook.stderr)")

            // The long-lived catalog reads what the CLI wrote, and what it wrote itself.
            let seen = try resident.read { db in
                (try db.hooks().map(\.command), try db.policy(scope: "default")?.json ?? "", try db.allVMs().count)
            }
            #expect(seen.0 == (1...round).map { ["/bin/echo", "\($0)"] }, "round \(round): hooks \(seen.0)")
            #expect(seen.1.contains("\"keepDaily\":\(round)"), "round \(round): policy \(seen.1)")
            #expect(seen.2 == round + 1, "round \(round): \(seen.2) VMs")
            #expect(try resident.integrity() == .intact, "round \(round)")
        }
        // What the CLI and a fresh process see: every VM the long-lived catalog wrote, an intact file.
        let listed = try kvmsnap(["hook", "list", "--json"])
        #expect(listed.status == 0 && listed.stdout.contains("\"\(rounds)\""), "\(listed.stdout)\(listed.stderr)")
        #expect(try Catalog.integrityCheck(path: path) == .intact)
        let fresh = try TestGuest.run("/usr/bin/sqlite3", ["-readonly", path, "SELECT count(*) FROM vm; PRAGMA integrity_check;"])
        #expect(fresh == "\(rounds + 1)\nok\n", "\(fresh)")
    }
}
