import Foundation
import Libvirt
import SnapshotEngine
import TestSupport
import Testing

/// A seeded fuzz test of the command line (issue 10, "Done when"): random arguments for every
/// subcommand, drawn from its real flags and from hostile values (huge and negative numbers,
/// empty strings, `.`/`..`, control characters, unicode, device paths, very long strings,
/// unknown flags, missing values), run against a catalog that holds one real VM with snapshots.
///
/// After every case: no exit status ≥ 128 (a trap, a signal or the case's timeout); a failure
/// prints exactly one `kvmsnap: error: …` line (plus at most one `Usage:` line right after it;
/// other stderr lines only `kvmsnap: …` notices) with no control characters; and a refused
/// command (exit 2, 3, 64 or 75) leaves the catalog (`sqlite3 .dump`) and the store (every
/// file with size and mode) exactly as they were. A failed operation (exit 1) may add a failed
/// job to the journal and nothing else; `guard` and `run-due` exit 1 after legitimate work too,
/// so they are only checked for the first two properties then. After a command that succeeded,
/// `list` must still work (one bad value must not make the VM's catalog unreadable).
///
/// About 6% of the cases name another catalog (after the fixture's, so it counts): an empty
/// file, someone else's SQLite database, a text file, a directory or a path in a missing
/// directory, all in the scratch directory; a refusal must leave those files as they were too.
///
/// `KVMSNAP_FUZZ_SEED` replays a run; `KVMSNAP_FUZZ_CASES` sets the number of cases (250);
/// `KVMSNAP_FUZZ_VERBOSE=1` prints every case; `KVMSNAP_FUZZ_CHECK=1` runs `check` after every
/// successful case and prints drift at once (to find the case that caused it).
/// Programs that write files get paths inside a scratch directory (and run there), so a
/// successful command cannot touch the host; a VM a successful `restore --as` creates is removed.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct CLIFuzzTests {
    @Test func randomCommandLinesNeverTrapAndRefusalsChangeNothing() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["KVMSNAP_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        let cases = environment["KVMSNAP_FUZZ_CASES"].flatMap { Int($0) } ?? 250
        let verbose = environment["KVMSNAP_FUZZ_VERBOSE"] == "1"
        let checkEach = environment["KVMSNAP_FUZZ_CHECK"] == "1"
        print("CLIFuzzTests: seed \(seed), \(cases) cases (replay with KVMSNAP_FUZZ_SEED=\(seed))")

        let f = try EngineFixture(tag: "fuzz")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        let scratch = f.guest.directory + "/fuzz-cwd"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // Files a fuzzed --catalog may name: empty, someone else's SQLite, not a database.
        let catalogs = scratch + "/catalogs"
        try FileManager.default.createDirectory(atPath: catalogs, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: catalogs + "/empty.sqlite", contents: Data())
        try TestGuest.run("/usr/bin/sqlite3", [catalogs + "/foreign.sqlite", "create table notes(x); insert into notes values('theirs');"])
        try "not a database\n".write(toFile: catalogs + "/text.sqlite", atomically: true, encoding: .utf8)
        try f.guest.waitForCounter(atLeast: 1)
        for (name, extra) in [("s1", [String]()), ("s2", ["--disk-only"]), ("s3", ["--disk-only", "--pin"])] {
            let made = try cli.run(["create", vm, "--name", name] + extra)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let vmUUID = try f.engine.catalogVM(vm).uuid
        let ownDomains = Set(try f.guest.connection.allDomains().map(\.name))

        var fuzz = Fuzzer(seed: seed, vm: vm, vmUUID: vmUUID, scratch: scratch, catalogs: catalogs)
        // Every VM a `restore --as` may have made goes, whatever its case's status, also when the test throws.
        defer { for name in fuzz.clonedNames { try? removeClone(named: name, keeping: ownDomains, f: f) } }
        var failures: [String] = []
        var statuses: [Int32: Int] = [:]
        var state = try Snapshot.take(f)
        var listWorks = true
        let began = Date()
        for index in 0..<cases {
            fuzz.snapshots = try state.snapshotNames(f)
            let line = fuzz.commandLine()
            let result = try run(line, cli: cli, scratch: scratch)
            statuses[result.status, default: 0] += 1
            if verbose {
                print(
                    "CLIFuzzTests case \(index): exit \(result.status): \(line.args.map(\.debugDescription).joined(separator: " ").prefix(300)) | "
                        + "\(result.stderr.prefix(200).debugDescription)"
                )
            }
            let shown =
                "case \(index) (seed \(seed)): kvmsnap \(line.args.map(\.debugDescription).joined(separator: " "))"
                + (line.command.map { " -- " + $0.map(\.debugDescription).joined(separator: " ") } ?? "")
            var problems: [String] = []
            if result.status >= 128 {
                problems.append(
                    result.status == 137
                        ? "killed after the \(Self.caseTimeout) s timeout or by a signal (status 137)" : "exit \(result.status) (trap or signal)")
            }
            if result.status != 0, let problem = Self.stderrProblem(result.stderr) { problems.append(problem) }
            let after = try Snapshot.take(f)
            let refused = [2, 3, 64, 75].contains(result.status)
            if refused || (result.status == 1 && !["guard", "run-due"].contains(line.args[0])) {
                let jobsMayChange = !refused
                if let difference = state.difference(to: after, ignoringJobs: jobsMayChange) {
                    problems.append("exit \(result.status) but \(difference)")
                }
            }
            if !problems.isEmpty {
                let report =
                    "\(shown)\n    → \(problems.joined(separator: "; "))\n    stderr: \(result.stderr.prefix(400).debugDescription)\n    stdout: "
                    + "\(result.stdout.prefix(400).debugDescription)"
                failures.append(report)
                print("CLIFuzzTests FAILURE \(report)")
            }
            // A command that succeeded must leave the VM's catalog readable (list works).
            if result.status == 0, line.catalog == nil, !["list", "show", "usage", "vms", "jobs", "check", "retention"].contains(line.args[0]) {
                let list = try cli.run(["list", vm, "--json"])
                defer { listWorks = list.status == 0 }
                if list.status != 0, listWorks {  // the case that broke it, not the ones after
                    let report = "\(shown)\n    → succeeded, but afterwards 'list' fails (exit \(list.status)): \(list.stderr.prefix(300).debugDescription)"
                    failures.append(report)
                    print("CLIFuzzTests FAILURE \(report)")
                }
            }
            if checkEach, result.status == 0, !["check", "list", "show", "usage", "vms", "jobs"].contains(line.args[0]) {
                let check = try cli.run(["check", vm])
                if check.status != 0 { print("CLIFuzzTests CHECK after case \(index): \(check.stdout.prefix(600))") }
            }
            if let newName = line.restoreAsName {
                try removeClone(named: newName, keeping: ownDomains, f: f)
            }
            state = try Snapshot.take(f)
            if state.readySnapshots < 2 {
                _ = try cli.run(["create", vm, "--name", "refill-\(index)", "--disk-only"])
                state = try Snapshot.take(f)
            }
        }
        let seconds = Date().timeIntervalSince(began)
        print("CLIFuzzTests: \(cases) cases in \(String(format: "%.1f", seconds)) s; exit statuses \(statuses.sorted { $0.key < $1.key })")
        #expect(Set(try f.guest.connection.allDomains().map(\.name)).subtracting(ownDomains).filter { fuzz.clonedNames.contains($0) }.isEmpty)
        #expect(failures.isEmpty, "seed \(seed): \(failures.count) failing cases:\n\(failures.joined(separator: "\n"))")
    }

    /// A hang detector, not a speed test: a real restore of the fuzz guest (safety snapshot,
    /// revert, start, verify) took over 30 s while the whole suite ran on 2 cores with the
    /// remote-vault, drill and panel suites beside it (seed 9188366842121576, case 107).
    static let caseTimeout: Double = 90

    /// Runs one case in `scratch`, with 2 GiB of address space (a runaway read of /dev/zero
    /// fails there instead of taking the machine's memory) and a timeout.
    func run(_ line: Fuzzer.Line, cli: CLI, scratch: String) throws -> CLI.Result {
        var args = line.args + (line.global ? ["--connect", IntegrationEnvironment.uri, "--catalog", cli.catalog, "--store", cli.store] : [])
        if let catalog = line.catalog { args += ["--catalog", catalog] }  // after the fixture's: this one counts
        if let command = line.command { args += ["--"] + command }
        let outcome = try ExternalProcess.run(
            "/usr/bin/prlimit", ["--as=2147483648", "--", "/usr/bin/env", "-C", scratch, CLI.binary] + args,
            timeout: .seconds(Self.caseTimeout))
        // The timeout's SIGKILL reaches prlimit's process group: the same status as a crash.
        return CLI.Result(status: outcome.timedOut ? 137 : outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    /// Why stderr of a failed command is not one error line (plus a usage line), or nil.
    static func stderrProblem(_ stderr: String) -> String? {
        if stderr.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }) {
            return "control characters on stderr"
        }
        let lines = stderr.split(separator: "\n")
        let errors = lines.indices.filter { lines[$0].hasPrefix("kvmsnap: error: ") }
        guard errors.count == 1, let at = errors.first else { return "\(errors.count) 'kvmsnap: error:' lines on stderr" }
        let after = lines[(at + 1)...]
        if after.count > 1 || (after.count == 1 && !after.first!.hasPrefix("Usage: ")) { return "stderr goes on after the error line" }
        if lines[..<at].contains(where: { !$0.hasPrefix("kvmsnap: ") }) { return "stderr has lines that are neither notices nor the error" }
        return nil
    }

    /// Removes the VM a successful `restore --as NAME` made, and its store directory.
    func removeClone(named name: String, keeping own: Set<String>, f: EngineFixture) throws {
        guard !own.contains(name), let domain = try? f.guest.connection.lookupDomain(name: name) else { return }
        let uuid = try domain.uuidString
        if (try? domain.isActive) == true { try domain.destroy() }
        try domain.undefine(flags: [.nvram])
        let directory = f.storePath + "/vms/" + uuid
        if FileManager.default.fileExists(atPath: directory) { try FileManager.default.removeItem(atPath: directory) }
    }

    /// What a refused command must leave alone: the catalog's SQL dump and the store's files.
    struct Snapshot {
        var dump: [String]
        var store: [String: String]
        /// The files under the scratch catalogs directory: size, mode and a content hash.
        var otherCatalogs: [String: String]
        var readySnapshots: Int

        static func take(_ f: EngineFixture) throws -> Snapshot {
            let dump = try TestGuest.run("/usr/bin/sqlite3", ["-readonly", f.catalogPath, ".dump"])
            // Throws when libvirt does not answer: without the live layer a growing image would
            // look like a change.
            let live: Set<String> = [try f.guest.currentSource()]
            let ready = try TestGuest.run("/usr/bin/sqlite3", ["-readonly", f.catalogPath, "select count(*) from snapshot where state = 'ready'"])
            return Snapshot(
                dump: dump.split(separator: "\n").map(String.init),
                store: HardeningInputTests.storeListing(f.storePath, live: live),
                otherCatalogs: contents(f.guest.directory + "/fuzz-cwd/catalogs"),
                readySnapshots: Int(ready.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
        }

        static func contents(_ dir: String) -> [String: String] {
            var listing = HardeningInputTests.storeListing(dir)
            for (path, entry) in listing {
                guard let data = FileManager.default.contents(atPath: dir + "/" + path) else { continue }
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
                for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                listing[path] = entry + " " + String(hash, radix: 16)
            }
            return listing
        }

        func snapshotNames(_ f: EngineFixture) throws -> [String] {
            try TestGuest.run("/usr/bin/sqlite3", ["-readonly", f.catalogPath, "select name from snapshot"]).split(separator: "\n").map(String.init)
        }

        /// What changed, or nil. `ignoringJobs`: rows of the job journal may differ.
        func difference(to other: Snapshot, ignoringJobs: Bool) -> String? {
            func rows(_ dump: [String]) -> [String] {
                ignoringJobs ? dump.filter { !$0.hasPrefix("INSERT INTO job ") && !$0.hasPrefix("INSERT INTO sqlite_sequence VALUES('job'") } : dump
            }
            var changes: [String] = []
            let (old, new) = (rows(dump), rows(other.dump))
            if old != new {
                let removed = Set(old).subtracting(new), added = Set(new).subtracting(old)
                changes.append(
                    "the catalog changed (removed \(removed.map { String($0.prefix(160)) }.sorted()), added \(added.map { String($0.prefix(160)) }.sorted()))")
            }
            if otherCatalogs != other.otherCatalogs {
                let keys = Set(otherCatalogs.keys).union(other.otherCatalogs.keys).filter { otherCatalogs[$0] != other.otherCatalogs[$0] }.sorted()
                changes.append(
                    "files at --catalog paths changed "
                        + "(\(keys.map { "\($0): \(otherCatalogs[$0] ?? "-") → \(other.otherCatalogs[$0] ?? "-")" }.joined(separator: ", ")))"
                )
            }
            if store != other.store {
                let keys = Set(store.keys).union(other.store.keys).filter { store[$0] != other.store[$0] }.sorted()
                changes.append("the store changed (\(keys.map { "\($0): \(store[$0] ?? "-") → \(other.store[$0] ?? "-")" }.joined(separator: ", ")))")
            }
            return changes.isEmpty ? nil : changes.joined(separator: "; ")
        }
    }
}

/// Builds random command lines from each subcommand's real flags and hostile values.
struct Fuzzer {
    struct Line {
        var args: [String]
        var command: [String]?
        var global = true
        /// A --catalog given after the fixture's (so it counts): a file in the scratch catalogs directory.
        var catalog: String?
        /// The `--as` value of a restore (a success creates a VM the test removes).
        var restoreAsName: String? {
            guard args.first == "restore" else { return nil }
            for (i, arg) in args.enumerated() {
                if arg.hasPrefix("--as=") { return String(arg.dropFirst(5)) }
                if arg == "--as", i + 1 < args.count { return args[i + 1] }
            }
            return nil
        }
    }

    enum Kind {
        case vm, snapshot, newName, text, duration, when, iso, number, readPath, writePath, cron, hookID
        case choice([String])
    }

    struct Spec {
        var path: [String]
        var positionals: [Kind]
        var flags: [(String, Kind?)]
        var takesCommand = false
        var extraPositionals: Kind? = nil
        /// Flags the command needs to get past parsing (each given 85% of the time).
        var required: [String] = []
        /// False for the pure commands, which have no --connect/--catalog/--store.
        var global = true
    }

    static let keep: [(String, Kind?)] = [
        ("--keep-within", .duration), ("--keep-last", .number), ("--keep-hourly", .number), ("--keep-daily", .number),
        ("--keep-weekly", .number), ("--keep-monthly", .number), ("--keep-yearly", .number),
    ]

    static let specs: [Spec] = [
        Spec(path: ["vms"], positionals: [], flags: []),
        Spec(
            path: ["create"], positionals: [.vm],
            flags: [
                ("--name", .newName), ("--description", .text), ("--full", nil), ("--disk-only", nil),
                ("--quiesce", nil), ("--pin", nil), ("--expires", .when), ("--full-every", .number), ("--max-pause", .number),
            ],
            required: ["--name"]),
        Spec(path: ["list"], positionals: [.vm], flags: []),
        Spec(path: ["show"], positionals: [.vm, .snapshot], flags: []),
        Spec(path: ["rename"], positionals: [.vm, .snapshot, .newName], flags: []),
        Spec(path: ["edit"], positionals: [.vm, .snapshot], flags: [("--description", .text), ("--expires", .when), ("--pin", nil), ("--unpin", nil)]),
        Spec(path: ["delete"], positionals: [.vm, .snapshot], flags: [("--yes", nil), ("-y", nil)]),
        Spec(
            path: ["restore"], positionals: [.vm, .snapshot],
            flags: [
                ("--confirm", .vm), ("--no-safety-snapshot", nil), ("--no-start", nil),
                ("--paused", nil), ("--as", .newName),
            ], required: ["--confirm"]),
        Spec(
            path: ["export-disk"], positionals: [.vm, .snapshot],
            flags: [
                ("--disk", .choice(["vda", "vdb", "hda", "sda"])), ("--to", .writePath),
                ("--format", .choice(["qcow2", "raw", "vmdk"])),
            ], required: ["--disk", "--to"]),
        Spec(path: ["lab", "mark"], positionals: [.vm], flags: [("--baseline", .snapshot)], required: ["--baseline"]),
        Spec(path: ["lab", "unmark"], positionals: [.vm], flags: []),
        Spec(path: ["lab", "list"], positionals: [], flags: []),
        Spec(path: ["reset"], positionals: [], flags: [("--all-labs", nil)], extraPositionals: .vm),
        Spec(
            path: ["revert"], positionals: [.vm, .snapshot], flags: [("--confirm", .vm), ("--start", .choice(["running", "paused", "off"]))],
            required: ["--confirm"]),
        Spec(path: ["usage"], positionals: [.vm], flags: []),
        Spec(path: ["check"], positionals: [.vm], flags: []),
        Spec(
            path: ["policy", "set"], positionals: [.vm],
            flags: keep + [
                ("--default", nil), ("--full-every", .number), ("--schedule", .cron),
                ("--quiesce", .choice(["off", "auto", "required"])),
            ]),
        Spec(path: ["policy", "show"], positionals: [.vm], flags: []),
        Spec(path: ["policy", "clear"], positionals: [.vm], flags: [("--default", nil)]),
        Spec(path: ["prune"], positionals: [], flags: keep + [("--all", nil), ("--dry-run", nil)], extraPositionals: .vm),
        Spec(path: ["verified"], positionals: [.vm, .snapshot], flags: [("--grace", .duration)]),
        Spec(path: ["unpin"], positionals: [.vm, .snapshot], flags: []),
        Spec(
            path: ["retention", "simulate"], positionals: [], flags: keep + [("--timeline", .readPath), ("--now", .iso)], required: ["--timeline"],
            global: false),
        Spec(
            path: ["retention", "bench"], positionals: [],
            flags: keep + [("--count", .number), ("--step", .number), ("--start", .number), ("--repeats", .number)], global: false),
        Spec(path: ["run-due"], positionals: [], flags: [("--now", .iso), ("--metrics-textfile", .writePath)]),
        Spec(path: ["schedule", "install-systemd"], positionals: [], flags: [("--dest", .writePath), ("--metrics-textfile", .writePath)]),
        Spec(path: ["daemon"], positionals: [], flags: [("--interval", .number), ("--metrics-textfile", .writePath)]),
        Spec(
            path: ["guard"], positionals: [.vm],
            flags: [
                ("--name", .newName), ("--description", .text), ("--on-failure", .choice(["restore", "keep"])),
                ("--quiesce", nil), ("--timeout", .duration),
            ], takesCommand: true),
        Spec(
            path: ["hook", "add"], positionals: [],
            flags: [
                ("--phase", .choice(["pre-snapshot", "post-snapshot", "pre-restore", "post-restore", "on-failure"])),
                ("--vm", .vm), ("--timeout", .duration),
            ], takesCommand: true, required: ["--phase"]),
        Spec(path: ["hook", "list"], positionals: [], flags: []),
        Spec(path: ["hook", "remove"], positionals: [.hookID], flags: []),
        Spec(path: ["jobs"], positionals: [.vm], flags: [("--failed", nil)]),
    ]

    static let hostile: [String] = [
        "", ".", "..", "-", "--", " ", "\t", "  \u{3000}", "-1", "0", "-0", "1e308", "nan", "inf", "-inf",
        "99999999999999999999", "9223372036854775807", "-9223372036854775808", "18446744073709551616",
        "\u{1B}[31mred\u{1B}[0m", "\u{1B}]0;title\u{07}", "line\nbreak", "cr\rhere", "kvmsnap: error: forged\nUsage: forged",
        "名前", "🙂", "e\u{301}", "\u{202E}gnp.exe", "\u{2028}", "\u{7F}\u{9B}",
        "/dev/zero", "/dev/null", "/", "/tmp", "/proc/self/mem", "../../etc/passwd", "/nonexistent/x",
        String(repeating: "x", count: 5000), String(repeating: "/a", count: 3000), "%s%n%x", "$(touch pwned)", "`id`", "*", "?",
        "--help", "-h", "--version", "--json", "--bogus", "-z", "--name=", "=", "a=b",
    ]

    var rng: SplitMix64
    let vm: String
    let vmUUID: String
    let scratch: String
    let catalogs: String
    var snapshots: [String] = []
    var clonedNames: Set<String> = []
    var counter = 0

    init(seed: UInt64, vm: String, vmUUID: String, scratch: String, catalogs: String) {
        rng = SplitMix64(seed: seed)
        self.vm = vm
        self.vmUUID = vmUUID
        self.scratch = scratch
        self.catalogs = catalogs
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &rng)] }

    mutating func value(_ kind: Kind) -> String {
        if chance(0.25) { return pick(Self.hostile) }
        counter += 1
        switch kind {
        case .vm: return chance(0.8) ? vm : pick([vmUUID, vmUUID.uppercased(), vm.uppercased(), vm + " ", "no-such-vm"])
        case .snapshot: return snapshots.isEmpty || chance(0.2) ? pick(["missing", "S1", "s1 "]) : pick(snapshots)
        case .newName:
            return pick([
                "fz-\(counter)", "before-change-x", "s1", ".hidden", "...", "a b", "名前-\(counter)", String(repeating: "n", count: 64),
                String(repeating: "n", count: 65),
            ])
        case .text: return pick(["plain text", "", String(repeating: "long ", count: 2000), "tab\tand\nnewline"])
        case .duration:
            if chance(0.4) { return pick(["100000y", "292471y", "9000y", "9999999999999d", "10000000000000000", "1e300s", "1e9s", "-1d"]) }
            return pick(["14d", "36h", "2w", "1m", "1y", "90min", "30s", "10min", "2h", "0", "0s", "5x", "d"])
        case .when: return pick(["2030-01-01", "never", "14d", "0000-01-01", "9999-12-31", "2001-01-01", "100000y", "8000y", "2030-02-30", "tomorrow"])
        case .iso:
            return pick([
                "2030-01-10T03:00:30+01:00", "2030-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                "-0001-01-01T00:00:00Z", "2030-13-01T00:00:00Z", "1970-01-01T00:00:00Z", "now",
            ])
        case .number:
            if chance(0.4) { return pick(["9223372036854775807", "-9223372036854775808", "4611686018427387904", "2147483648", "-1", "99999999999999999999"]) }
            return pick([
                "0", "1", "2", "14", "-1", "-2", "1000", "2147483648", "9223372036854775807", "-9223372036854775808",
                "99999999999999999999", "1e3", "0x10", "abc", "3.5",
            ])
        case .readPath:
            if chance(0.5) { return IntegrationEnvironment.packageRoot + "/Fixtures/retention/small-timeline.json" }
            return pick(["/dev/zero", "/dev/null", "/", "/proc/self/mem", "/nonexistent", "."])
        case .writePath:
            // Relative (the case runs in the scratch directory) or inside it: never a host path.
            return pick([
                "out.img", "-h", "--x", "sub/none/out", "a\nb", "名前.img", "metrics.prom",
                String(repeating: "p", count: 300), scratch + "/abs.prom", scratch,
            ])
        case .cron:
            return pick(["0 3 * * *", "@daily", "* * * * *", "61 * * * *", "*/0 * * * *", "@reboot", "0 0 31 2 *", "", "1-99999999999999999999 * * * *"])
        case .hookID: return pick(["1", "0", "-1", "9223372036854775807", "99999999999999999999", "x"])
        case .choice(let choices): return pick(choices)
        }
    }

    /// Subcommands still to cover in this round: every one comes up once per round.
    var round: [Spec] = []

    mutating func commandLine() -> Line {
        if round.isEmpty { round = Self.specs.shuffled(using: &rng) }
        let spec = round.removeLast()
        var args = spec.path
        for kind in spec.positionals where chance(0.9) { args.append(value(kind)) }
        if let extra = spec.extraPositionals { for _ in 0..<Int.random(in: 0...2, using: &rng) { args.append(value(extra)) } }
        if chance(0.05) { args.append(pick(Self.hostile)) }
        var chosen = spec.flags.filter { spec.required.contains($0.0) && chance(0.85) }
        let extras: [(String, Kind?)] = [("--json", nil), ("--bogus", .text), ("-q", nil)]
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            chosen.append(spec.flags.isEmpty || chance(0.15) ? pick(extras) : pick(spec.flags))
        }
        chosen.shuffle(using: &rng)
        for (flag, kind) in chosen {
            guard let kind else { args.append(flag); continue }
            if chance(0.05) { args.append(flag); continue }  // a missing value (or the next flag taken as it)
            let v = value(kind)
            args += chance(0.2) ? ["\(flag)=\(v)"] : [flag, v]
        }
        switch spec.path[0] {
        case "schedule": args += ["--dest", scratch]  // the last --dest counts: never /etc/systemd/system
        case "daemon": args += ["--interval", pick(["0", "-1", "", "abc", "99999999999999999999", "1.5"])]  // a daemon never returns
        default: break
        }
        var command: [String]?
        if spec.takesCommand {
            // Only commands that succeed or cannot start: a failing command is not a refusal.
            command =
                chance(0.9)
                ? pick([["/bin/true"], ["/bin/true", pick(Self.hostile)], ["/nonexistent/cmd"], ["true"], [pick(Self.hostile)], ["/tmp"], ["/dev/null"]]) : nil
        }
        var line = Line(args: args, command: command, global: spec.global)
        if spec.global, chance(0.06) {
            line.catalog = catalogs + "/" + pick(["empty.sqlite", "foreign.sqlite", "text.sqlite", "", "missing-dir/c.sqlite"])
        }
        if let name = line.restoreAsName { clonedNames.insert(name) }
        return line
    }
}
