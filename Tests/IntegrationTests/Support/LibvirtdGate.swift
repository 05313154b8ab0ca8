import Foundation
import SnapshotEngine

/// libvirtd is shared by every integration test of the run (Swift Testing runs suites in
/// parallel; each integration suite only serialises its own tests) and by any other test run on
/// the host. A test that kills libvirtd takes this gate exclusively (``exclusive(_:)``); every
/// ``TestGuest`` holds it shared for its lifetime, so a restart never cuts off another test's
/// guest. A second lock file gives the exclusive side priority: while it waits, no new guest
/// starts, so a steady stream of guests cannot starve it.
enum LibvirtdGate {
    static let lockPath = IntegrationEnvironment.scratchRoot + "/libvirtd-gate.lock"
    static let intentPath = IntegrationEnvironment.scratchRoot + "/libvirtd-gate.intent"

    /// True inside ``exclusive(_:)``: that test's own guests do not take the shared side.
    @TaskLocal static var holdsExclusive = false

    /// One flock, released when dropped.
    final class Hold: @unchecked Sendable {
        private let fd: Int32
        init(_ path: String, _ operation: Int32) throws {
            try FileManager.default.createDirectory(atPath: IntegrationEnvironment.scratchRoot, withIntermediateDirectories: true)
            fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw TestGuestError("cannot open \(path): \(String(cString: strerror(errno)))") }
            while flock(fd, operation) != 0 {
                guard errno == EINTR else {
                    close(fd)
                    throw TestGuestError("flock \(path): \(String(cString: strerror(errno)))")
                }
            }
        }
        deinit { flock(fd, LOCK_UN); close(fd) }
    }

    /// The shared side, for a test guest; nil inside ``exclusive(_:)``. Process-wide and counted:
    /// the first guest of this process takes the gate, later ones only count while it is held.
    /// (Each guest taking it anew would deadlock: a test holding one guest and starting another
    /// would wait behind an exclusive waiter, which waits for the first guest.)
    static func shared() throws -> SharedHold? {
        if holdsExclusive { return nil }
        counter.lock(); defer { counter.unlock() }
        if holders == 0 {
            let intent = try Hold(intentPath, LOCK_SH)
            defer { withExtendedLifetime(intent) {} }
            held = try Hold(lockPath, LOCK_SH)
        }
        holders += 1
        return SharedHold()
    }

    /// One guest's share of the process-wide hold; the gate is released with the last one.
    final class SharedHold: @unchecked Sendable {
        deinit {
            LibvirtdGate.counter.lock(); defer { LibvirtdGate.counter.unlock() }
            LibvirtdGate.holders -= 1
            if LibvirtdGate.holders == 0 { LibvirtdGate.held = nil }
        }
    }

    private static let counter = NSLock()
    nonisolated(unsafe) private static var holders = 0
    nonisolated(unsafe) private static var held: Hold?

    /// Runs `body` once no other test guest exists, with new ones held back until it returns.
    static func exclusive<T>(_ body: () throws -> T) throws -> T {
        let intent = try Hold(intentPath, LOCK_EX)
        let lock = try Hold(lockPath, LOCK_EX)
        defer { withExtendedLifetime((intent, lock)) {} }
        return try $holdsExclusive.withValue(true) { try body() }
    }
}

/// Kills and restarts the host's libvirtd, the way an outside fault does and an admin recovers.
enum Libvirtd {
    /// SIGKILL to libvirtd (by exact name), then waits until it is gone. Only inside ``LibvirtdGate/exclusive(_:)``.
    static func kill() throws {
        precondition(LibvirtdGate.holdsExclusive, "kill libvirtd only while holding LibvirtdGate exclusively")
        _ = try ExternalProcess.run("pkill", ["-9", "-x", "libvirtd"])
        guard HostTools.wait(timeout: 30, { !((try? ExternalProcess.run("pgrep", ["-x", "libvirtd"]))?.succeeded ?? false) }) else {
            throw TestGuestError("libvirtd still runs 30 s after SIGKILL")
        }
    }

    /// Starts libvirtd as scripts/host-setup.sh does (systemd, or under `tini -s` without it)
    /// and waits until qemu:///system answers.
    static func restart() throws {
        let setup = try ExternalProcess.run(IntegrationEnvironment.packageRoot + "/scripts/host-setup.sh", [], timeout: .seconds(300))
        guard setup.succeeded else { throw TestGuestError("host-setup.sh failed: \(setup.standardError)") }
        guard HostTools.wait(timeout: 60, { (try? ExternalProcess.run("virsh", ["-c", IntegrationEnvironment.uri, "version"]))?.succeeded ?? false }) else {
            throw TestGuestError("qemu:///system does not answer after restarting libvirtd")
        }
    }
}
