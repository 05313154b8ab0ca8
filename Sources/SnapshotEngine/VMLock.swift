import Foundation

/// One kvmsnap operation per VM at a time, across processes.
///
/// An exclusive `flock` on `<store>/locks/<uuid>.lock`. The kernel drops it when the process
/// dies, even by SIGKILL, so a crashed kvmsnap never leaves a VM locked; the job journal
/// then tells the next command what to finish or roll back.
final class VMLock {
    private let fd: Int32

    /// Waits up to `wait` for the lock (measured on the monotonic clock); then throws `.busy`
    /// with `describeHolder()`.
    init(path: String, wait: Duration, describeHolder: () -> String) throws(EngineError) {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw EngineError(.io, "cannot open lock \(path): \(String(cString: strerror(errno)))")
        }
        let deadline = ContinuousClock.now + wait
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if ContinuousClock.now >= deadline {
                close(fd)
                throw EngineError(.busy, describeHolder())
            }
            usleep(100_000)
        }
        self.fd = fd
    }

    /// True when a live process holds the lock at `path` now (probed without waiting, and
    /// without creating the file); false when nobody does or there is no lock file.
    static func isHeld(path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
        return errno == EWOULDBLOCK
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
