import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Parses a Prometheus textfile with Prometheus' own Python parser
/// (`prometheus_client.parser.text_string_to_metric_families`, installed by host-setup.sh for
/// /usr/bin/python3) and returns family name → samples.
func parsePrometheusTextfile(_ path: String) throws -> [String: [(labels: [String: String], value: Double)]] {
    let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):
            out[family.name] = [{"labels": s.labels, "value": s.value} for s in family.samples]
        print(json.dumps(out))
        """
    let outcome = try ExternalProcess.run("/usr/bin/python3", ["-c", script, path], timeout: .seconds(60))
    guard outcome.status == 0 else {
        throw TestGuestError("prometheus_client could not parse \(path) (exit \(outcome.status)); scripts/host-setup.sh installs it: \(outcome.standardError)")
    }
    let json = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: [[String: Any]]] ?? [:]
    return json.mapValues { samples in
        samples.map { (labels: $0["labels"] as? [String: String] ?? [:], value: ($0["value"] as? NSNumber)?.doubleValue ?? .nan) }
    }
}

/// Scheduler commands that need no guest: unit files, the daemon's signal handling, bad input.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: CLI.binary)))
struct SchedulerCLITests {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "kvmsnap-sched-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func installSystemdWritesAOneshotServiceAndAMinutelyPersistentTimer() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try CLI.runBare([
            "schedule", "install-systemd", "--dest", dir, "--catalog", "/srv/k cat.sqlite", "--metrics-textfile", "/var/lib/ne/k.prom",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let service = try String(contentsOfFile: dir + "/kvmsnap-run-due.service", encoding: .utf8)
        let timer = try String(contentsOfFile: dir + "/kvmsnap-run-due.timer", encoding: .utf8)
        let binary = URL(fileURLWithPath: CLI.binary).resolvingSymlinksInPath().path
        #expect(service.contains("Type=oneshot"))
        #expect(service.contains("ExecStart=\(binary) run-due --catalog \"/srv/k cat.sqlite\" --metrics-textfile /var/lib/ne/k.prom\n"), "\(service)")
        #expect(timer.contains("OnCalendar=minutely\n") && timer.contains("Persistent=true\n") && timer.contains("WantedBy=timers.target"), "\(timer)")
        #expect(result.stdout.contains("systemctl daemon-reload && systemctl enable --now kvmsnap-run-due.timer"))
        let missing = try CLI.runBare(["schedule", "install-systemd", "--dest", dir + "/nope"])
        #expect(missing.status == 64 && missing.stderr.contains("is not a directory"), "\(missing.stderr)")
    }

    /// The daemon runs at once (writing metrics), then sleeps; SIGTERM stops it cleanly (exit 0).
    @Test func daemonWritesMetricsAndStopsCleanlyOnSIGTERM() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metrics = dir + "/kvmsnap.prom"
        let process = try ExternalProcess.start(
            CLI.binary,
            [
                "daemon", "--interval", "3600", "--metrics-textfile", metrics,
                "--connect", "test:///default", "--catalog", dir + "/c.sqlite", "--store", dir + "/store",
            ],
            captureOutput: true)
        defer { process.signal(SIGKILL); process.wait() }
        try waitForFile(metrics, timeout: 30)
        let start = Date()
        process.signal(SIGTERM)
        let outcome = process.wait(timeout: .seconds(30))
        let text = outcome.standardError
        #expect(outcome.succeeded, "\(outcome.status) \(text)")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(text.contains("daemon: stopped"), "\(text)")
        let families = try parsePrometheusTextfile(metrics)
        #expect(families["kvmsnap_run_due_duration_seconds"]?.count == 1, "\(families.keys)")
        #expect(families["kvmsnap_failed_jobs"]?.contains { $0.labels["kind"] == "run-due" && $0.value == 0 } == true)
        // No temp files left next to it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }

    @Test func badScheduleOrNowIsExit64() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let globalOptions = ["--connect", "test:///default", "--catalog", dir + "/c.sqlite", "--store", dir + "/store"]
        let bad = try CLI.runBare(["policy", "set", "--default", "--keep-last", "2", "--schedule", "61 * * * *"] + globalOptions)
        #expect(bad.status == 64 && bad.stderr.contains("minute 61 is out of range 0-59"), "\(bad.stderr)")
        let now = try CLI.runBare(["run-due", "--now", "tomorrow"] + globalOptions)
        #expect(now.status == 64 && now.stderr.contains("--now"), "\(now.stderr)")
    }
}

/// run-due against a real guest with an injected clock (`--now`): no test waits for real minutes.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct ScheduleTests {
    static let berlin = ["TZ": "Europe/Berlin"]

    func autoSnapshots(_ cli: CLI, _ vm: String) throws -> [String] {
        try cli.snapshotStates(vm).filter { $0.value == "ready" && $0.key.hasPrefix("auto-") }.keys.sorted()
    }

    /// A policy's quiesce mode reaches scheduled snapshots: `required` on a guest without an agent
    /// fails that VM clearly (a failed job, nothing taken); `auto` takes the snapshot and says why
    /// it could not freeze. A bad mode is refused before anything changes.
    @Test func policyQuiesceModeAppliesToScheduledSnapshots() throws {
        let f = try EngineFixture(tag: "schedq", cmdline: "kvmsnap.agent=0")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        let bad = try cli.run(["policy", "set", vm, "--keep-last", "3", "--schedule", "0 3 * * *", "--quiesce", "sometimes"])
        #expect(bad.status == 64 && bad.stderr.contains("--quiesce must be off, auto or required"), "\(bad.stderr)")
        #expect(try cli.run(["policy", "set", vm, "--keep-last", "3", "--schedule", "0 3 * * *", "--quiesce", "required"]).status == 0)
        let shown = try #require(try cli.run(["policy", "show", vm, "--json"]).json as? [String: Any])
        #expect((shown["policy"] as? [String: Any])?["quiesce"] as? String == "required")
        let required = try cli.run(["run-due", "--now", "2030-01-10T03:00:30Z"], environment: ["TZ": "UTC"])
        #expect(required.status == 1, "\(required.stdout)\(required.stderr)")
        #expect((required.stdout + required.stderr).contains("agent"), "\(required.stdout)\(required.stderr)")
        #expect(try autoSnapshots(cli, vm).isEmpty)

        #expect(try cli.run(["policy", "set", vm, "--keep-last", "3", "--schedule", "0 3 * * *", "--quiesce", "auto", "--full-every", "0"]).status == 0)
        let auto = try cli.run(["run-due", "--now", "2030-01-11T03:00:30Z"], environment: ["TZ": "UTC"])
        #expect(auto.status == 0, "\(auto.stdout)\(auto.stderr)")
        #expect(try autoSnapshots(cli, vm) == ["auto-20300111-0300"])
    }

    /// Daily 03:00 (Berlin) with keep-last 2 over three simulated days: three captures, the
    /// first pruned on day 3; a second run in the same minute does nothing; after three missed
    /// days one run takes only the latest slot. Metrics parse with prometheus_client.
    @Test func dailyScheduleOverThreeDaysSnapshotsOncePerSlotAndPrunes() throws {
        let f = try EngineFixture(tag: "sched")
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        let metrics = f.guest.directory + "/kvmsnap.prom"
        func runDue(_ now: String, _ extra: [String] = []) throws -> CLI.Result {
            let r = try cli.run(["run-due", "--now", now] + extra, environment: Self.berlin)
            print("run-due --now \(now): exit \(r.status)\n\(r.stdout)\(r.stderr)")
            return r
        }
        let set = try cli.run(["policy", "set", vm, "--keep-last", "2", "--schedule", "0 3 * * *"], environment: Self.berlin)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try cli.run(["policy", "show", vm], environment: Self.berlin).stdout.contains("schedule      0 3 * * * (next "))

        let day1 = try runDue("2030-01-10T03:00:30+01:00")
        #expect(day1.status == 0 && day1.stdout.contains("\(vm): took auto-20300110-0300"), "\(day1.stdout)\(day1.stderr)")
        let again = try runDue("2030-01-10T03:00:50+01:00")
        #expect(again.status == 0 && again.stdout.contains("\(vm): up to date"), "\(again.stdout)")
        #expect(try autoSnapshots(cli, vm) == ["auto-20300110-0300"])

        let day2 = try runDue("2030-01-11T03:01:00+01:00")
        #expect(day2.status == 0 && day2.stdout.contains("took auto-20300111-0300"), "\(day2.stdout)\(day2.stderr)")
        let day3 = try runDue("2030-01-12T03:00:00+01:00", ["--metrics-textfile", metrics])
        #expect(
            day3.status == 0 && day3.stdout.contains("took auto-20300112-0300") && day3.stdout.contains("pruned auto-20300110-0300"),
            "\(day3.stdout)\(day3.stderr)")
        #expect(try autoSnapshots(cli, vm) == ["auto-20300111-0300", "auto-20300112-0300"])

        // The snapshot carries the injected time (plus the seconds the run took), not the host's.
        let day3Snapshot = try f.engine.snapshot(vm: vm, name: "auto-20300112-0300").record
        let slot3 = try #require(ISO8601DateFormatter().date(from: "2030-01-12T02:00:00Z"))
        #expect(day3Snapshot.createdAt >= slot3 && day3Snapshot.createdAt < slot3.addingTimeInterval(600), "\(day3Snapshot.createdAt)")
        #expect(day3Snapshot.labels == ["scheduled"])

        // Metrics: parsed by Prometheus' own parser.
        let families = try parsePrometheusTextfile(metrics)
        func sample(_ name: String) -> Double? { families[name]?.first { $0.labels["vm"] == vm }?.value }
        #expect(sample("kvmsnap_snapshots") == 2, "\(families)")
        #expect((sample("kvmsnap_snapshot_bytes") ?? 0) > 0)
        #expect(abs((sample("kvmsnap_last_snapshot_timestamp_seconds") ?? 0) - day3Snapshot.createdAt.timeIntervalSince1970) < 0.001)
        #expect(families["kvmsnap_failed_jobs"]?.contains { $0.labels["kind"] == "create" } == true)
        #expect((families["kvmsnap_run_due_duration_seconds"]?.first?.value ?? 0) > 0)

        // Slots of 01-13, 01-14 and 01-15 missed: one run takes only the latest.
        let late = try runDue("2030-01-15T10:00:00+01:00")
        #expect(
            late.status == 0 && late.stdout.contains("took auto-20300115-0300") && late.stdout.contains("pruned auto-20300111-0300"),
            "\(late.stdout)\(late.stderr)")
        #expect(try autoSnapshots(cli, vm) == ["auto-20300112-0300", "auto-20300115-0300"])
        let jobs = try f.engine.catalog.read { try $0.jobs() }
        #expect(
            jobs.filter { $0.kind == "create" }.compactMap(\.snapshotName).sorted()
                == ["auto-20300110-0300", "auto-20300111-0300", "auto-20300112-0300", "auto-20300115-0300"])
        #expect(jobs.filter { $0.kind == "run-due" }.allSatisfy { $0.state == .succeeded })
        // What a user sees: `jobs --json` lists the scheduled jobs with their states.
        let listed = try #require(try cli.run(["jobs", vm, "--json"]).json as? [[String: Any]])
        let scheduled = listed.filter { $0["kind"] as? String == "run-due" }
        #expect(scheduled.count == 4 && scheduled.allSatisfy { $0["state"] as? String == "succeeded" }, "\(listed)")
    }

    /// Two run-due processes at once take one snapshot; while one holds the lock another exits 0
    /// with a notice; a VM gone from libvirt is noted, not snapshotted; a failure is a failed job,
    /// exit 1, and is retried by the next run.
    @Test func concurrentRunsTakeOneSnapshotAndFailuresAreRecordedAndRetried() throws {
        let f = try EngineFixture(tag: "schedlock", start: false)  // disk-only captures: fast
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        #expect(try cli.run(["policy", "set", vm, "--keep-last", "5", "--schedule", "*/10 * * * *"]).status == 0)
        // A VM only the catalog still knows, covered by the default policy.
        let ghost = UUID().uuidString.lowercased()
        try f.engine.catalog.write { try $0.save(VMRecord(uuid: ghost, name: "gone-\(ghost.prefix(8))", createdAt: Date())) }
        #expect(try cli.run(["policy", "set", "--default", "--keep-last", "1", "--schedule", "@hourly"]).status == 0)

        // 1. A run stalled while holding the lock: a second one exits 0 at once with a notice.
        let marker = f.guest.directory + "/stalled"
        let stalled = try cli.start(
            ["run-due", "--now", "2030-01-10T10:00:00Z"],
            environment: ["TZ": "UTC", "KVMSNAP_TEST_STALL_AT": "run-due:locked", "KVMSNAP_TEST_STALL_MARKER": marker])
        defer { stalled.signal(SIGKILL); stalled.wait() }
        try waitForFile(marker, timeout: 60)
        let second = try cli.run(["run-due", "--now", "2030-01-10T10:00:00Z"], environment: ["TZ": "UTC"], timeout: 60)
        #expect(second.status == 0 && second.stderr.contains("another run-due is running"), "\(second.stdout)\(second.stderr)")
        #expect(try autoSnapshots(cli, vm).isEmpty)
        stalled.signal(SIGKILL)
        stalled.wait()

        // 2. Two processes started together with the same --now: one snapshot.
        let a = try cli.start(["run-due", "--now", "2030-01-10T10:00:00Z"], environment: ["TZ": "UTC"])
        let b = try cli.start(["run-due", "--now", "2030-01-10T10:00:00Z"], environment: ["TZ": "UTC"])
        let (ra, rb) = (a.wait(timeout: .seconds(300)), b.wait(timeout: .seconds(300)))
        #expect(ra.succeeded && rb.succeeded, "\(ra.status) \(rb.status)")
        #expect(try autoSnapshots(cli, vm) == ["auto-20300110-1000"])

        // 3. The ghost is noted and skipped, not a failure.
        let next = try cli.run(["run-due", "--now", "2030-01-10T10:10:00Z"], environment: ["TZ": "UTC"])
        #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
        #expect(next.stdout.contains("is no longer defined in libvirt; skipped"), "\(next.stdout)")
        #expect(next.stdout.contains("\(vm): took auto-20300110-1010"), "\(next.stdout)")

        // 4. An injected capture failure: exit 1, a failed run-due job, the slot retried next time.
        let failing = try cli.run(
            ["run-due", "--now", "2030-01-10T10:20:00Z", "--metrics-textfile", f.guest.directory + "/m.prom"],
            environment: ["TZ": "UTC", "KVMSNAP_TEST_FAIL_AT": "create.beforeCapture"])
        #expect(failing.status == 1 && failing.stdout.contains("\(vm): FAILED"), "\(failing.stdout)\(failing.stderr)")
        #expect(failing.stdout.contains("is no longer defined in libvirt"), "the other VM is still handled: \(failing.stdout)")
        let failedJobs = try f.engine.catalog.read { try $0.jobs(states: [.failed]) }
        #expect(failedJobs.contains { $0.kind == "run-due" && $0.snapshotName == "auto-20300110-1020" }, "\(failedJobs)")
        let families = try parsePrometheusTextfile(f.guest.directory + "/m.prom")
        #expect(families["kvmsnap_failed_jobs"]?.first { $0.labels["kind"] == "run-due" }?.value == 1, "\(families)")
        let retry = try cli.run(["run-due", "--now", "2030-01-10T10:21:00Z"], environment: ["TZ": "UTC"])
        #expect(retry.status == 0 && retry.stdout.contains("took auto-20300110-1020"), "\(retry.stdout)\(retry.stderr)")
        #expect(try autoSnapshots(cli, vm) == ["auto-20300110-1000", "auto-20300110-1010", "auto-20300110-1020"])
    }
}
