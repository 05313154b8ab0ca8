import Foundation
import KVMSnapCore
import SnapshotEngine
import Testing

/// `kvmsnap doctor` against the real libvirtd, qemu-img and a real catalog.
@Suite(.serialized) struct DoctorTests {
    struct Report: Decodable {
        var status: String
        var checks: [DoctorCheck]
        func line(_ name: String) -> DoctorCheck? { checks.first { $0.name == name } }
    }

    static func doctor(catalog: String, store: String, json: Bool = true) throws -> (CLI.Result, Report?) {
        let result = try CLI(catalog: catalog, store: store).run(["doctor"] + (json ? ["--json"] : []), timeout: 60)
        return (result, try? JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)))
    }

    @Test func realHostDaemonAndQemuImgAreOkAndACorruptedCatalogFails() throws {
        guard IntegrationEnvironment.available else { return }
        // The daemon must stay up while doctor asks it (a test may restart libvirtd exclusively).
        let gate = try LibvirtdGate.shared()
        defer { withExtendedLifetime(gate) {} }
        try FileManager.default.createDirectory(atPath: IntegrationEnvironment.scratchRoot, withIntermediateDirectories: true)
        let dir = IntegrationEnvironment.scratchRoot + "/doctor-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = dir + "/catalog.sqlite", store = dir + "/store"

        // No catalog yet: ok, and doctor creates none (nor the store).
        let (fresh, freshReport) = try Self.doctor(catalog: catalog, store: store)
        let report = try #require(freshReport, "\(fresh.stdout) \(fresh.stderr)")
        #expect(report.line("daemon")?.status == .ok)
        #expect(report.line("libvirt")?.status == .ok)
        #expect(report.line("qemu")?.status == .ok)
        #expect(report.line("qemu-img")?.status == .ok)
        #expect(report.line("qemu-img")?.detail.contains("qemu-img") == true)
        #expect(report.line("catalog")?.status == .ok)
        #expect(report.line("catalog")?.detail.contains("no catalog") == true)
        #expect(filesUnder(dir).isEmpty, "doctor created \(filesUnder(dir))")
        #expect((fresh.status == 0) == (report.status != "fail"))

        // A real catalog, made by kvmsnap: checked intact, and left as it was (no -wal/-shm).
        let cli = CLI(catalog: catalog, store: store)
        #expect(try cli.run(["policy", "set", "--default", "--keep-daily", "7", "--keep-last", "3"]).status == 0)
        #expect(try cli.run(["hook", "add", "--phase", "post-snapshot"], command: ["/bin/true"]).status == 0)
        let files = filesUnder(dir)
        let (_, intactReport) = try Self.doctor(catalog: catalog, store: store)
        #expect(intactReport?.line("catalog")?.status == .ok)
        #expect(intactReport?.line("catalog")?.detail.hasSuffix("integrity check ok") == true)
        #expect(filesUnder(dir) == files)

        // A copy with a page in the middle overwritten: the policy table's root page, so the
        // damage is where SQLite must look, not in free space.
        // (`.backup` copies it with everything in the WAL folded in, so the page on disk is the
        // page SQLite reads.)
        let copy = dir + "/damaged.sqlite"
        let backup = try ExternalProcess.run("/usr/bin/sqlite3", [catalog, ".backup '\(copy)'"])
        try #require(backup.succeeded, "\(backup.standardError)")
        let query = try ExternalProcess.run(
            "/usr/bin/sqlite3", ["-readonly", copy, "PRAGMA page_size; SELECT rootpage FROM sqlite_master WHERE name = 'policy';"])
        let numbers = query.standardOutput.split(separator: "\n").compactMap { Int($0) }
        try #require(numbers.count == 2, "\(query.standardOutput) \(query.standardError)")
        let (pageSize, rootPage) = (numbers[0], numbers[1])
        let handle = try #require(FileHandle(forUpdatingAtPath: copy))
        try handle.seek(toOffset: UInt64((rootPage - 1) * pageSize))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: pageSize))
        try handle.close()
        for file in [copy + "-wal", copy + "-shm"] { try? FileManager.default.removeItem(atPath: file) }

        let (damaged, damagedReport) = try Self.doctor(catalog: copy, store: store)
        let line = try #require(damagedReport?.line("catalog"), "\(damaged.stdout) \(damaged.stderr)")
        #expect(line.status == .fail)
        #expect(line.detail.contains("integrity check failed"))
        #expect(line.hint?.isEmpty == false)
        #expect(damagedReport?.status == "fail")
        #expect(damaged.status == 1)
        #expect(damaged.stderr.hasPrefix("kvmsnap: error: doctor: ") && damaged.stderr.hasSuffix("catalog\n"), "\(damaged.stderr)")
        #expect(damaged.stderr.split(separator: "\n").count == 1)

        // The same for people: one line per check, the failing one with its hint.
        let (text, _) = try Self.doctor(catalog: copy, store: store, json: false)
        #expect(text.status == 1)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("fail  catalog ") })
        #expect(lines.contains { $0.hasPrefix("ok    daemon ") })
        #expect(lines.contains { $0.hasPrefix("ok    qemu-img ") })
        #expect(lines.contains { $0.contains("hint: ") })
    }

    @Test func unreachableDaemonFailsWithAHintAndTheLocalChecksStillRun() throws {
        guard IntegrationEnvironment.available else { return }
        let dir = IntegrationEnvironment.scratchRoot + "/doctor-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A socket nobody listens on: libvirtd "down" without stopping the real one.
        let outcome = try ExternalProcess.run(
            CLI.binary,
            [
                "doctor", "--json", "--connect", "qemu:///system?socket=\(dir)/no-libvirtd.sock",
                "--catalog", dir + "/catalog.sqlite", "--store", dir + "/store",
            ], timeout: .seconds(60))
        let report = try #require(try? JSONDecoder().decode(Report.self, from: Data(outcome.standardOutput.utf8)), "\(outcome.standardError)")
        #expect(report.line("daemon")?.status == .fail)
        #expect(report.line("daemon")?.detail.contains("no-libvirtd.sock") == true)
        #expect(report.line("daemon")?.hint?.contains("libvirtd") == true)
        #expect(report.line("libvirt")?.status == .warn)
        #expect(report.line("qemu-img")?.status == .ok)
        #expect(outcome.status == 1)
        #expect(filesUnder(dir).isEmpty)
    }

    @Test func somethingThatIsNotACatalogFails() throws {
        guard IntegrationEnvironment.available else { return }
        let dir = IntegrationEnvironment.scratchRoot + "/doctor-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let empty = dir + "/empty.sqlite"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let (result, report) = try Self.doctor(catalog: empty, store: dir)
        #expect(report?.line("catalog")?.status == .fail)
        #expect(report?.line("catalog")?.detail.contains("not a kvmsnap catalog") == true)
        #expect(result.status == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: empty)).isEmpty)
    }
}
