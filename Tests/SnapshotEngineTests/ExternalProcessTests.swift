import Foundation
import Testing

@testable import SnapshotEngine

/// The process launcher every hook, guarded command and qemu-img call goes through.
/// These need no libvirt, only /bin/sh.
@Suite struct ExternalProcessTests {
    @Test func statusOutputAndSignalsAreReported() throws {
        let ok = try ExternalProcess.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(ok.status == 3 && !ok.wasSignalled && ok.standardOutput == "out\n" && ok.standardError == "err\n")
        let killed = try ExternalProcess.run("sh", ["-c", "kill -9 $$"])
        #expect(killed.wasSignalled && killed.status == 128 + SIGKILL && !killed.succeeded)
        #expect(throws: ExternalProcess.LaunchError.self) { try ExternalProcess.run("no-such-program-kvmsnap", []) }
    }

    /// A hook that starts a daemon (which keeps our stdout pipe) must not hold kvmsnap up:
    /// the program is done when it exits; output is read for a short grace period only.
    @Test func aDaemonLeftBehindDoesNotKeepTheCallerWaiting() throws {
        let child = try ExternalProcess.start("sh", ["-c", "echo started; sleep 60 & echo done"], captureOutput: true)
        defer { kill(-child.pid, SIGKILL) }
        let began = Date()
        let outcome = child.wait(timeout: .seconds(120))
        let waited = Date().timeIntervalSince(began)
        #expect(outcome.succeeded && outcome.standardOutput == "started\ndone\n", "\(outcome)")
        #expect(waited < ExternalProcess.drainGrace + 20, "waited \(waited) s for a program that exits at once")
        #expect(kill(-child.pid, 0) == 0, "the daemon should still be running; it is not ours to stop")

        // Not capturing (a guarded command on the user's terminal): no grace period at all.
        let pidFile = FileManager.default.temporaryDirectory.path + "/kvmsnap-daemon-\(UUID().uuidString)"
        defer {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
            }
            unlink(pidFile)
        }
        let began2 = Date()
        let inherited = try ExternalProcess.run("sh", ["-c", "sleep 60 & echo $! > '\(pidFile)'"], captureOutput: false)
        #expect(inherited.succeeded && Date().timeIntervalSince(began2) < 20)
    }

    /// A timeout stops the program and everything it started (its process group), also a
    /// member that ignores SIGTERM and outlives the program.
    @Test func timeoutStopsTheWholeProcessGroup() throws {
        let child = try ExternalProcess.start("sh", ["-c", "(trap '' TERM; exec sleep 60) & sleep 60"], captureOutput: true)
        defer { kill(-child.pid, SIGKILL) }
        let outcome = child.wait(timeout: .seconds(1))
        #expect(outcome.timedOut && outcome.wasSignalled && outcome.status == 128 + SIGTERM, "\(outcome)")
        var alive = true
        for _ in 0..<50 where alive { alive = kill(-child.pid, 0) == 0; if alive { usleep(100_000) } }
        #expect(!alive, "a process of the timed-out group is still running")
    }

    /// A command on the user's terminal (guard) shares kvmsnap's process group; a timeout still
    /// stops what it started.
    @Test func timeoutOnTheTerminalStopsTheCommandsChildrenToo() throws {
        let pidFile = FileManager.default.temporaryDirectory.path + "/kvmsnap-child-\(UUID().uuidString)"
        defer { unlink(pidFile) }
        let outcome = try ExternalProcess.run("sh", ["-c", "sleep 60 & echo $! > '\(pidFile)'; wait"], captureOutput: false, timeout: .seconds(1))
        #expect(outcome.timedOut)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let sleeper = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(sleeper, SIGKILL) }
        // Gone, or a zombie waiting for its new parent to reap it.
        func running() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(sleeper)/stat", encoding: .utf8) else { return false }
            return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? false)
        }
        var alive = true
        for _ in 0..<50 where alive { alive = running(); if alive { usleep(100_000) } }
        #expect(!alive, "the guarded command's child survived its timeout")
    }

    /// Children see only stdin, stdout and stderr, and signals at their defaults (the Swift
    /// runtime ignores SIGPIPE; a hook's `yes | head` must end quietly, not with EPIPE errors).
    @Test func childrenInheritNoDescriptorsAndDefaultSignals() throws {
        let path = FileManager.default.temporaryDirectory.path + "/kvmsnap-fd-\(UUID().uuidString)"
        let fd = open(path, O_CREAT | O_RDWR, 0o600)  // inheritable on purpose (no O_CLOEXEC)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        let fds = try ExternalProcess.run("sh", ["-c", "for f in /proc/$$/fd/*; do readlink $f; done; true"])
        #expect(fds.succeeded && !fds.standardOutput.contains(path), "\(fds.standardOutput)")
        let pipe = try ExternalProcess.run("sh", ["-c", "yes | head -n 1"])
        #expect(pipe.succeeded && pipe.standardOutput == "y\n" && pipe.standardError.isEmpty, "\(pipe.standardError)")
    }

    /// Issue 10, item 18: a program's output is bounded; the tail is kept and the cut is said.
    @Test func outputBeyondTheLimitKeepsItsTailAndSaysSo() throws {
        let script = "head -c 10000000 /dev/zero | tr '\\0' x >&2; printf 'last words' >&2; printf out"
        let clock = ContinuousClock(), started = clock.now
        let outcome = try ExternalProcess.run("/bin/sh", ["-c", script], outputLimit: 4096)
        #expect(clock.now - started < .seconds(10))
        #expect(outcome.status == 0 && outcome.standardOutput == "out")
        let dropped = 10_000_000 + 10 - 4096
        #expect(outcome.standardError.hasPrefix("…[truncated \(dropped) bytes]xxx"), "\(outcome.standardError.prefix(80))")
        #expect(outcome.standardError.hasSuffix("xxxlast words"))
        #expect(outcome.standardError.utf8.count == 4096 + "…[truncated \(dropped) bytes]".utf8.count)
    }
}
