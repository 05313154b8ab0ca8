import Foundation
import Libvirt
import SnapshotCatalog
import SnapshotEngine
import Testing

@testable import KVMSnapCommands

/// Issue 10, items 14, 15 and 20: the command line itself. Needs the built binary, no VM.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: CLI.binary)))
struct HardeningCommandLineTests {
    /// A scratch directory removed after the test.
    static func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "kvmsnap-hardening-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// An executable script that creates `marker` when anything runs it.
    static func markerScript(in dir: String, marker: String) throws -> String {
        let script = dir + "/prog"
        try "#!/bin/sh\ntouch '\(marker)'\nexit 1\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return script
    }

    // Item 14: libvirt runs `command=` (ext transport, and instead of ssh) while connecting.
    @Test func urisThatRunProgramsAreRefusedBeforeConnecting() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let marker = dir + "/ran"
        let prog = try Self.markerScript(in: dir, marker: marker)
        for uri in [
            "qemu+ext:///system?command=\(prog)", "qemu+ssh://localhost/system?command=\(prog)",
            "qemu+ssh://localhost/system?no_verify=1&comm%61nd=\(prog)",
        ] {
            for command in [["list", "x"], ["vms"]] {
                let result = try CLI.runBare(command + ["--connect", uri, "--catalog", dir + "/catalog.sqlite", "--store", dir + "/store"], timeout: 60)
                #expect(result.status == 64, "\(uri) \(command): exit \(result.status), \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("kvmsnap: error: "), "\(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: marker), "\(uri) ran the program")
                try? FileManager.default.removeItem(atPath: marker)
            }
        }
        #expect(filesUnder(dir) == ["prog"], "a refused URI created \(filesUnder(dir))")
    }

    // Item 14: a hypervisor on another machine is refused before connecting (no ssh, no TCP).
    @Test func remoteHypervisorIsRefusedBeforeConnecting() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let began = Date()
        // 192.0.2.1 is TEST-NET-1: nothing answers there.
        let result = try CLI.runBare(["list", "x", "-c", "qemu+tcp://192.0.2.1/system", "--catalog", dir + "/c.sqlite", "--store", dir + "/s"], timeout: 30)
        #expect(result.status == 64 && result.stderr.contains("another machine"), "exit \(result.status): \(result.stderr)")
        #expect(Date().timeIntervalSince(began) < 10)
        #expect(filesUnder(dir).isEmpty)
    }

    // Item 15: a newline in a value passed on to run-due would add directives to the unit.
    @Test func installSystemdRefusesControlCharactersAndWritesNothing() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let evil = "\nExecStartPre=/bin/touch /tmp/kvmsnap-pwned"
        for extra in [
            ["--metrics-textfile", "/var/lib/m.prom" + evil], ["--catalog", "/c.sqlite" + evil],
            ["--store", "/s\r" + evil], ["--connect", "qemu:///system" + evil], ["--metrics-textfile", "/m\u{1B}[2J"],
        ] {
            let result = try CLI.runBare(["schedule", "install-systemd", "--dest", dir] + extra)
            #expect(result.status == 64, "\(extra): exit \(result.status) \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(filesUnder(dir).isEmpty, "\(extra) wrote \(filesUnder(dir))")
        }
        // Ordinary values still work; relative paths are written absolute (the service runs in /).
        let ok = try CLI.runBare(["schedule", "install-systemd", "--dest", dir, "--catalog", "rel/cat.sqlite", "--metrics-textfile", "/m 1.prom"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let unit = try String(contentsOfFile: dir + "/kvmsnap-run-due.service", encoding: .utf8)
        let exec = unit.split(separator: "\n").filter { $0.hasPrefix("ExecStart=") }
        #expect(
            exec.count == 1 && exec[0].contains("--catalog \(FileManager.default.currentDirectoryPath)/rel/cat.sqlite")
                && exec[0].contains("\"/m 1.prom\""), "\(unit)")
    }

    // Item 20: ArgumentParser's own errors: one `kvmsnap: error:` line plus one `Usage:` line, exit 64.
    @Test(arguments: [
        ["create"], ["create", "vm"], ["create", "vm", "--name"], ["list"], ["nosuch"], ["daemon", "--interval", "0"],
        ["hook", "add", "--phase", "bogus", "--", "x"], ["restore", "vm", "s", "--no-start", "--paused"], ["policy", "set", "--bogus"],
        ["retention", "simulate", "--keep-last"], ["edit", "vm", "s"], ["show", "a", "b", "c"], ["create", "vm", "--name", "x", "--max-pause", "-1"],
        ["bad\u{1B}[31m\nUsage: forged line"],
    ])
    func usageErrorsAreOneLinePlusUsage(args: [String]) throws {
        let result = try CLI.runBare(args)
        #expect(result.status == 64, "\(args): exit \(result.status)")
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(
            lines.count == 2 && lines[0].hasPrefix("kvmsnap: error: ") && lines[1].hasPrefix("Usage: kvmsnap"),
            "\(args): \(result.stderr.debugDescription)")
        #expect(!result.stderr.contains("\u{1B}"), "\(result.stderr.debugDescription)")
        #expect(result.stdout.isEmpty)
    }

    @Test func helpAndVersionStillExitZero() throws {
        for args in [["--help"], ["-h"], ["create", "--help"], ["help", "restore"], ["schedule", "install-systemd", "--help"]] {
            let result = try CLI.runBare(args)
            #expect(result.status == 0 && result.stdout.contains("USAGE:") && result.stderr.isEmpty, "\(args): \(result.status) \(result.stderr)")
        }
        let version = try CLI.runBare(["--version"])
        #expect(version.status == 0 && version.stdout == "\(KVMSnap.version)\n", "\(version.stdout)")
    }
}

/// Issue 10, items 11, 19 and 22 against a real VM.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct HardeningInputTests {
    /// Every file under the store with its size and mode, for "nothing changed" checks. The
    /// image a running guest writes to (`live`) keeps growing: only its mode counts.
    static func storeListing(_ root: String, live: Set<String> = []) -> [String: String] {
        var listing: [String: String] = [:]
        for path in filesUnder(root) {
            var st = stat()
            guard lstat(root + "/" + path, &st) == 0 else { continue }
            let size = live.contains(root + "/" + path) ? "live" : "\(st.st_size)"
            listing[path] = "\(size) \(String(st.st_mode, radix: 8))"
        }
        return listing
    }

    /// The store listing of a fixture whose guest may be running.
    static func storeListing(_ f: EngineFixture) throws -> [String: String] {
        storeListing(f.storePath, live: [try f.guest.currentSource()])
    }

    /// Every domain's name, except other tests' guests (`kvmsnap-guesttest-*`, booted and removed
    /// by suites running in parallel): what a refused `--as NAME` must not have added.
    static func domainNames(_ connection: Connection, except own: String) throws -> Set<String> {
        Set(try connection.allDomains().map(\.name).filter { $0 == own || !$0.hasPrefix("kvmsnap-guesttest-") })
    }

    static func isOneLineError(_ result: CLI.Result) -> Bool {
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count == 2 && lines[1].isEmpty && lines[0].hasPrefix("kvmsnap: error: ") && !result.stderr.contains("\u{1B}")
    }

    /// One error line, optionally followed by one `Usage:` line (a refusal while parsing).
    static func isErrorWithUsage(_ result: CLI.Result) -> Bool {
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count == 3 && lines[2].isEmpty && lines[0].hasPrefix("kvmsnap: error: ") && lines[1].hasPrefix("Usage: ")
            && !result.stderr.contains("\u{1B}")
    }

    // Item 11: `.`/`..`, whitespace-only and control characters, as snapshot and as new VM names.
    @Test func dotNamesWhitespaceAndControlCharactersAreRefusedAndLeaveNothing() throws {
        let f = try EngineFixture(tag: "hinames")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        #expect(try cli.run(["create", vm, "--name", "base", "--disk-only"]).status == 0)
        let states = try cli.snapshotStates(vm), files = try Self.storeListing(f)
        let domains = try Self.domainNames(f.guest.connection, except: vm)
        for name in [".", "..", " ", "\t", "  \u{3000}", "a\nb", "x\u{1B}[31m", "-x"] {
            // `--opt=VALUE` and `--` so that "-x" reaches kvmsnap as a value.
            let restore = try cli.run(["restore", vm, "base", "--as=\(name)"])
            #expect(
                restore.status == 64 && Self.isOneLineError(restore) && restore.stderr.contains("VM name"),
                "--as \(name.debugDescription): exit \(restore.status) \(restore.stderr.debugDescription)")
            for (args, command) in [
                (["create", vm, "--name=\(name)", "--disk-only"], nil), (["rename", vm, "base"], [name]),
                (["guard", vm, "--name=\(name)"], ["/bin/true"]),
            ] {
                let result = try command.map { try cli.run(args, command: $0) } ?? cli.run(args)
                #expect(
                    result.status == 64 && Self.isOneLineError(result) && result.stderr.contains("snapshot name"),
                    "\(args.map(\.debugDescription)): exit \(result.status) \(result.stderr.debugDescription)")
            }
        }
        #expect(try cli.snapshotStates(vm) == states)
        #expect(try Self.storeListing(f) == files)
        #expect(try Self.domainNames(f.guest.connection, except: vm) == domains)
        // The rule is not stricter than it needs to be.
        #expect(try cli.run(["rename", vm, "base", "...base"]).status == 0)
    }

    // Item 19: descriptions, hook commands and echoed input reach the terminal escaped.
    @Test func controlCharactersAreEscapedInHumanOutput() throws {
        let f = try EngineFixture(tag: "hiesc")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        let description = "red\u{1B}[31mX\u{1B}]0;title\u{07}\nforged  row  here\rback"
        #expect(try cli.run(["create", vm, "--name", "first", "--disk-only"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "esc", "--disk-only", "--description", description]).status == 0)
        let hook = try cli.run(["hook", "add", "--phase", "post-snapshot"], command: ["/bin/true", "\u{1B}[2J\nsecond"])
        #expect(hook.status == 0 && !hook.stdout.contains("\u{1B}"), "\(hook.stderr)")
        defer { _ = try? cli.run(["hook", "remove", "1"]) }

        func isClean(_ text: String) -> Bool { !text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F } }
        let list = try cli.run(["list", vm])
        #expect(list.status == 0 && isClean(list.stdout), "\(list.stdout.debugDescription)")
        #expect(list.stdout.split(separator: "\n").count == 3, "a newline forged a row: \(list.stdout)")
        #expect(list.stdout.contains("red\\e[31mX\\e]0;title\\x07\\nforged  row  here\\rback"), "\(list.stdout)")
        let show = try cli.run(["show", vm, "esc"])
        #expect(show.status == 0 && isClean(show.stdout), "\(show.stdout.debugDescription)")
        let hooks = try cli.run(["hook", "list"])
        #expect(hooks.status == 0 && isClean(hooks.stdout) && hooks.stdout.split(separator: "\n").count == 2, "\(hooks.stdout.debugDescription)")
        let jobs = try cli.run(["jobs", vm])
        #expect(jobs.status == 0 && isClean(jobs.stdout), "\(jobs.stdout.debugDescription)")
        // JSON keeps the exact text.
        let json = try #require(try cli.run(["show", vm, "esc", "--json"]).json as? [String: Any])
        #expect(json["description"] as? String == description)
        // Errors that echo input.
        for args in [
            ["show", vm, "no\u{1B}[2Jsuch\nkvmsnap: error: forged"], ["show", "vm\u{1B}[1m\nx", "s"],
            ["create", vm, "--name", "x", "--expires", "\u{1B}[5m\nsoon"],
        ] {
            let result = try cli.run(args)
            #expect(result.status != 0 && Self.isOneLineError(result), "\(args.map(\.debugDescription)): \(result.stderr.debugDescription)")
        }
    }

    // Item 22: guard: default names, refusals, a missing command; export-disk to a name like an option.
    @Test func guardRefusalsChangeNothingAndDefaultNamesDoNotCollide() throws {
        let f = try EngineFixture(tag: "higuard")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 1)
        #expect(try cli.run(["create", vm, "--name", "taken", "--disk-only"]).status == 0)
        let uuid = try f.engine.catalogVM(vm).uuid
        func jobCount() throws -> Int { try f.engine.catalog.read { try $0.jobs(vmUUID: uuid, limit: 1000) }.count }
        let states = try cli.snapshotStates(vm), files = try Self.storeListing(f), jobs = try jobCount()

        // A missing command is found before the pinned snapshot; a refused guard writes no job.
        for (args, command, status) in [
            (["guard", vm], ["/nonexistent/cmd"], Int32(64)), (["guard", vm], ["no-such-command-kvmsnap"], 64),
            (["guard", vm], ["/tmp"], 64), (["guard", vm, "--name", "taken"], ["/bin/true"], 3),
        ] {
            let result = try cli.run(args, command: command)
            // A missing command is refused while parsing (with the usage), before the catalog is opened.
            let form = status == 64 ? Self.isErrorWithUsage(result) && result.stderr.contains("cannot run") : Self.isOneLineError(result)
            #expect(result.status == status && form, "\(args) \(command): exit \(result.status) \(result.stderr)")
        }
        #expect(try cli.snapshotStates(vm) == states)
        #expect(try Self.storeListing(f) == files)
        #expect(try jobCount() == jobs, "a refused guard wrote a job")

        // Two guards in the same second (fixed clock): the second gets a unique default name.
        struct Fixed: EngineClock { func now() -> Date { Date(timeIntervalSince1970: 1_900_000_000) } }
        let engine = SnapshotEngine(connection: f.guest.connection, catalog: f.engine.catalog, store: f.engine.store, clock: Fixed())
        var options = GuardOptions(command: ["/bin/true"])
        let first = try engine.guardCommand(vm: vm, options: options)
        let second = try engine.guardCommand(vm: vm, options: options)
        #expect(first.succeeded && second.succeeded)
        #expect(first.snapshot != second.snapshot && second.snapshot == first.snapshot + "-2", "\(first.snapshot) \(second.snapshot)")

        // export-disk --to=-h: a path like an option is a file, not a qemu-img option.
        let dir = f.guest.directory + "/export"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let export = try TestGuest.run(
            "/usr/bin/env",
            [
                "-C", dir, CLI.binary, "export-disk", vm, "taken", "--disk", "vda", "--to=-h",
                "--connect", IntegrationEnvironment.uri, "--catalog", f.catalogPath, "--store", f.storePath,
            ])
        #expect(export.contains("wrote vda"), "\(export)")
        #expect(filesUnder(dir) == ["-h"], "\(filesUnder(dir))")
        let layer = try f.frozenLayerPath(try f.engine.snapshot(vm: vm, name: "taken").record.id, disk: "vda")
        #expect(try TestGuest.diskCounter(dir + "/-h") == TestGuest.diskCounter(layer))
    }
}
