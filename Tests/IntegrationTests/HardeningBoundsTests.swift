import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Issue 10, items 9 (far-future dates), 10 (huge numbers trap), 18 (unbounded hook output) and
/// 21 (timeline input): what a user sees, with the real binary and, where a VM is needed, libvirtd.
@Suite(.serialized)
struct HardeningBoundsTests {
    /// A refusal or failure: the expected exit status, one short line on stderr, nothing on stdout.
    static func expectOneLineError(
        _ result: CLI.Result, status: Int32, containing parts: [String] = [], _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == status, "\(what): exit \(result.status), stderr \(result.stderr.prefix(500))", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(
            lines.count == 1 && result.stderr.utf8.count < 400 && result.stderr.hasPrefix("kvmsnap: error: "),
            "\(what): \(result.stderr.utf8.count) bytes of stderr: \(result.stderr.prefix(500))", sourceLocation: sourceLocation)
        for part in parts { #expect(result.stderr.contains(part), "\(what): \(result.stderr.prefix(500))", sourceLocation: sourceLocation) }
    }

    // MARK: Item 9

    @Test(.enabled(if: IntegrationEnvironment.available))
    func farFutureDatesAreRefusedAndAnUnreadableStoredDateIsNamedAndRepairable() throws {
        let f = try EngineFixture(tag: "bounds9")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        #expect(try cli.run(["create", vm, "--name", "s", "--disk-only"]).status == 0)

        // On input: every way to a date past 9999 is refused, and changes nothing.
        let before = try Hardening.dump(f.catalogPath)
        for args in [
            ["edit", vm, "s", "--expires", "100000y"], ["edit", vm, "s", "--expires", "101y"],
            ["create", vm, "--name", "t", "--expires", "8000y"], ["verified", vm, "s", "--grace", "9000y"],
            ["edit", vm, "s", "--expires", "+100000-01-01T00:00:00Z"],
        ] {
            Self.expectOneLineError(try cli.run(args), status: 64, args.joined(separator: " "))
        }
        #expect(try Hardening.dump(f.catalogPath) == before)
        #expect(try cli.run(["edit", vm, "s", "--expires", "100y"]).status == 0)

        // A row an older version (or damage) left with a date nobody can read: every command that
        // reads it says which row and how to fix it, in one short line.
        try Hardening.sql(f.catalogPath, "UPDATE snapshot SET expiresAt = '100000-01-01 00:00:00.000' WHERE name = 's'")
        for args in [
            ["list", vm], ["list", vm, "--json"], ["show", vm, "s"], ["create", vm, "--name", "u", "--disk-only"],
            ["prune", vm, "--keep-last", "1", "--dry-run"], ["delete", vm, "s", "--yes"], ["usage", vm], ["usage"],
        ] {
            let result = try cli.run(args)
            #expect(result.status != 0 && result.status < 128, "\(args): exit \(result.status)")
            Self.expectOneLineError(
                result, status: result.status, containing: ["snapshot 's'", "expiresAt", "--expires never"],
                args.joined(separator: " "))
        }
        // check reports it as the VM's problem (and goes on with other VMs); overviews still work.
        for args in [["check", vm], ["check"]] {
            let checked = try cli.run(args)
            #expect(
                checked.status == 1 && checked.stdout.contains("\(vm): catalog read failed: snapshot 's'") && checked.stdout.utf8.count < 600,
                "\(args): exit \(checked.status), \(checked.stdout.prefix(600)) \(checked.stderr.prefix(300))")
        }
        for args in [["vms"], ["jobs"], ["run-due"]] {
            let result = try cli.run(args)
            #expect(result.status == 0, "\(args): exit \(result.status), \(result.stderr.prefix(300))")
        }
        let repaired = try cli.run(["edit", vm, "s", "--expires", "never"])
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let listed = try #require(try cli.run(["list", vm, "--json"]).json as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["name"] as? String == "s" && listed[0]["expiresAt"] is NSNull, "\(listed)")
        #expect(try cli.run(["create", vm, "--name", "u", "--disk-only"]).status == 0)
    }

    // MARK: Item 10

    @Test(.enabled(if: IntegrationEnvironment.available))
    func hugeTimeoutsAndCountsNeverTrap() throws {
        let f = try EngineFixture(tag: "bounds10")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)

        // guard: refused before the snapshot (it used to trap after it, leaving the job running).
        let before = try Hardening.dump(f.catalogPath)
        Self.expectOneLineError(try cli.run(["guard", vm, "--timeout", "10000000000000000"], command: ["true"]), status: 64, "guard --timeout")
        Self.expectOneLineError(
            try cli.run(["hook", "add", "--phase", "post-snapshot", "--timeout", "10000000000000000"], command: ["true"]),
            status: 64, "hook add --timeout")
        Self.expectOneLineError(
            try cli.run(["hook", "add", "--phase", "post-snapshot", "--timeout", String(repeating: "9", count: 400)], command: ["true"]),
            status: 64, "hook add --timeout 9…9")
        #expect(try Hardening.dump(f.catalogPath) == before)

        // A hook row with a huge timeout (as an older version stored it): listed and run, no trap.
        try Hardening.sql(
            f.catalogPath,
            """
            INSERT INTO hook (phase, vm, command, timeoutSeconds, createdAt) VALUES ('post-snapshot', NULL, '["true"]', 1e300, '2026-01-01 00:00:00.000')
            """)
        let hooks = try cli.run(["hook", "list"])
        #expect(hooks.status == 0 && hooks.stdout.contains("post-snapshot"), "exit \(hooks.status): \(hooks.stderr.prefix(300))")
        let created = try cli.run(["create", vm, "--name", "a", "--max-pause", "18446744073709551615", "--full-every", "9223372036854775807"])
        #expect(created.status == 0, "exit \(created.status): \(created.stderr.prefix(300))")

        // Counts at Int.max are fine; a cron step at Int.max is not an overflow.
        let counts = ["--keep-last", "9223372036854775807", "--keep-daily", "9223372036854775807", "--keep-yearly", "9223372036854775807"]
        let pruned = try cli.run(["prune", vm, "--dry-run"] + counts)
        #expect(pruned.status == 0, "exit \(pruned.status): \(pruned.stderr.prefix(300))")
        let policy = try cli.run(
            [
                "policy", "set", vm, "--keep-within", "100y", "--full-every", "9223372036854775807",
                "--schedule", "0 0 * * 5/9223372036854775807",
            ] + counts)
        #expect(policy.status == 0, "exit \(policy.status): \(policy.stderr.prefix(300))")
        let due = try cli.run(["run-due", "--now", "9999-12-31T23:59:59Z"])
        #expect(due.status < 128, "exit \(due.status): \(due.stderr.prefix(300))")
    }

    @Test func retentionToolsRefuseExtremesWithExit64() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-bounds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let timeline = dir.appendingPathComponent("t.json").path
        try #"[{"name": "a", "createdAt": "2020-01-01T00:00:00Z"}]"#.write(toFile: timeline, atomically: true, encoding: .utf8)
        let simulate = ["retention", "simulate", "--timeline", timeline]
        for args in [
            simulate + ["--keep-within", "292471y", "--now", "0000-01-01T00:00:00Z"],
            simulate + ["--keep-within", "9223372036854y"],
            simulate + ["--keep-last", "1", "--now", "9999-12-31T23:59:59-23:59"],
            ["retention", "bench", "--count", "3", "--start", "9223372036854775807", "--keep-last", "1"],
            ["retention", "bench", "--count", "2", "--step", "9223372036854775807", "--keep-last", "1"],
            ["retention", "bench", "--count", "2", "--start=-9223372036854775807", "--keep-last", "1"],
            ["retention", "bench", "--count=-1", "--keep-last", "1"],
            ["retention", "bench", "--count", "2", "--repeats", "9223372036854775807", "--keep-last", "1"],
        ] {
            Self.expectOneLineError(try CLI.runBare(args, environment: ["TZ": "UTC"]), status: 64, args.joined(separator: " "))
        }
        let extreme = try CLI.runBare(
            simulate + ["--keep-within", "100y", "--keep-daily", "9223372036854775807", "--now", "0000-01-01T00:00:00Z", "--json"],
            environment: ["TZ": "UTC"])
        #expect(extreme.status == 0 && extreme.stdout.contains(#""keep": true"#), "exit \(extreme.status): \(extreme.stderr.prefix(300))")
    }

    // MARK: Item 18

    @Test(.enabled(if: IntegrationEnvironment.available))
    func aHookFlooding100MBKeepsCreateFastAndSmall() throws {
        let f = try EngineFixture(tag: "bounds18")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        let timeFile = f.guest.directory + "/time.txt"
        /// create under /usr/bin/time: (result, seconds, peak RSS in KiB).
        func timedCreate(_ name: String) throws -> (CLI.Result, Double, Int) {
            let clock = ContinuousClock(), started = clock.now
            let outcome = try ExternalProcess.run(
                "/usr/bin/time",
                [
                    "-f", "%M", "-o", timeFile, CLI.binary, "create", vm, "--name", name, "--disk-only",
                    "--connect", IntegrationEnvironment.uri, "--catalog", f.catalogPath, "--store", f.storePath,
                ],
                timeout: .seconds(300))
            let elapsed = clock.now - started
            let rss = Int(try String(contentsOfFile: timeFile, encoding: .utf8).split(separator: "\n").last ?? "") ?? .max
            return (
                CLI.Result(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError),
                Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, rss
            )
        }
        let (plain, plainSeconds, plainRSS) = try timedCreate("plain")
        #expect(plain.status == 0, "\(plain.stderr)")

        #expect(
            try cli.run(
                ["hook", "add", "--phase", "post-snapshot"],
                command: ["/bin/sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' E >&2; exit 3", String(repeating: "a", count: 100_000)]
            ).status == 0)
        let (flooded, seconds, rss) = try timedCreate("flooded")
        #expect(flooded.status == 0, "\(flooded.stderr.prefix(300))")
        // The hook's failure is one notice line, its output (and its 100 KB argument) cut short.
        #expect(
            flooded.stderr.utf8.count < 2000 && flooded.stderr.contains("post-snapshot hook") && flooded.stderr.contains("exit status 3"),
            "\(flooded.stderr.utf8.count) bytes: \(flooded.stderr.prefix(300))")
        let note = try #require(try f.lastJob("create")?.note)
        #expect(note.utf8.count < 2000 && note.contains("exit status 3"), "\(note.utf8.count) bytes: \(note.prefix(300))")
        // Memory and time: the 100 MB never sit in kvmsnap (it used to take 442 MB and 11 s).
        #expect(rss < plainRSS + 60_000, "peak RSS \(rss) KiB vs \(plainRSS) KiB without the hook")
        #expect(seconds < plainSeconds + 6, "\(seconds) s vs \(plainSeconds) s without the hook")
        print("create with a 100 MB hook: \(seconds) s, \(rss) KiB peak RSS; without: \(plainSeconds) s, \(plainRSS) KiB")
    }

    // MARK: Item 21

    @Test func timelinesAreRegularFilesOrStdinOfBoundedSize() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-timeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func simulate(_ timeline: String) throws -> CLI.Result {
            try CLI.runBare(
                ["retention", "simulate", "--timeline", timeline, "--keep-last", "1", "--now", "2024-06-15T12:00:00Z"],
                environment: ["TZ": "UTC"], timeout: 10)
        }
        // A FIFO nobody writes to used to block forever; refused at once, like a directory.
        let fifo = dir.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let blocked = try simulate(fifo)
        try #require(blocked.status == 64, "FIFO: exit \(blocked.status)")  // the old code would read /dev/zero until memory ran out
        for path in [fifo, dir.path, "/dev/zero", "/dev/null"] {
            Self.expectOneLineError(try simulate(path), status: 64, containing: ["cannot read timeline \(path)", "not a regular file", "128 MiB"], path)
        }
        // Larger than the limit: refused before reading (a sparse file, no disk used).
        let big = dir.appendingPathComponent("big.json").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, 128 << 20 + 1) == 0)
        Self.expectOneLineError(try simulate(big), status: 64, containing: ["134217729 bytes is more than the 128 MiB limit"], "big file")

        // Standard input with -: parsed; more than the limit is refused while reading.
        let small = dir.appendingPathComponent("t.json").path
        try #"[{"name": "a", "createdAt": "2024-01-01T00:00:00Z"}, {"name": "b", "createdAt": "2024-01-02T00:00:00Z"}]"#
            .write(toFile: small, atomically: true, encoding: .utf8)
        let command = "\(CLI.binary) retention simulate --timeline - --keep-last 1 --now 2024-06-15T12:00:00Z --json"
        let piped = try CLI.Result(ExternalProcess.run("/bin/sh", ["-c", "\(command) < \(small)"], environment: ["TZ": "UTC"], timeout: .seconds(30)))
        #expect(piped.status == 0 && piped.stdout.contains(#"{"name": "b", "keep": true, "reason": "last #1"}"#), "\(piped.stderr)")
        let endless = try CLI.Result(ExternalProcess.run("/bin/sh", ["-c", "yes ' ' | \(command)"], environment: ["TZ": "UTC"], timeout: .seconds(60)))
        Self.expectOneLineError(endless, status: 64, containing: ["cannot read timeline -", "more than the 128 MiB limit"], "endless stdin")
    }

    @Test func aMillionEntryTimelineIsFastAndBoundedInMemory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-timeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let timeline = dir.appendingPathComponent("1m.json").path, out = dir.appendingPathComponent("out.txt").path
        let timeFile = dir.appendingPathComponent("time.txt").path
        let script = """
            import datetime, sys
            base = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
            with open(sys.argv[1], "w") as f:
                f.write("[" + ",".join('{"name":"s%d","createdAt":"%s"}' % (i, (base + datetime.timedelta(minutes=37 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"))
                                       for i in range(1000000)) + "]")
            """
        _ = try TestGuest.run("/usr/bin/python3", ["-c", script, timeline])
        let clock = ContinuousClock(), started = clock.now
        let result = try ExternalProcess.run(
            "/bin/sh",
            [
                "-c",
                "/usr/bin/time -f '%M %U %S' -o \(timeFile) \(CLI.binary) retention simulate --timeline \(timeline) --keep-daily 7 --now 2100-01-01T00:00:00Z "
                    + "> \(out)",
            ],
            environment: ["TZ": "Europe/Berlin"], timeout: .seconds(600))
        let elapsed = clock.now - started
        #expect(result.status == 0, "\(result.standardError.prefix(300))")
        let measured = (try String(contentsOfFile: timeFile, encoding: .utf8).split(separator: "\n").last ?? "").split(separator: " ")
        let rss = measured.first.flatMap { Int($0) } ?? .max
        let cpu = measured.dropFirst().compactMap { Double($0) }.reduce(0, +)
        print("1M-entry timeline as a table: \(elapsed) wall, \(cpu) s CPU, peak RSS \(rss) KiB")
        // It took 3.2 GB and about a minute of CPU (debug build) before; CPU time, not wall time,
        // so a busy shared machine does not fail it; bounds are generous.
        #expect(rss < 700_000, "peak RSS \(rss) KiB")
        #expect(measured.count == 3 && cpu < 30, "\(cpu) s CPU (\(elapsed) wall)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + 1_000_000 + 1 + 1 + 1, "\(lines.count) lines")
        #expect(lines.contains { $0.hasPrefix("s999999 ") && $0.hasSuffix("keep    daily #1") }, "\(lines.suffix(12))")
    }
}

extension CLI.Result {
    init(_ outcome: ExternalProcess.Outcome) {
        self.init(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }
}
