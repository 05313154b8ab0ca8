import Foundation

/// The one place in kvmsnap that starts external programs (`qemu-img`, hooks, guarded commands).
///
/// Keeping every launch here makes it easy to see which work is done outside libvirt (and
/// therefore only works on the local host, not over a remote `--connect`).
///
/// Programs are started with `posix_spawn` and reaped with `waitpid` on their pid, not with
/// Foundation's `Process`: on Linux that class learns a child has ended when a socket it hands
/// the child is closed, so a child that leaves a daemon behind (a hook that starts a service,
/// `tmux new-session -d`) kept the caller waiting until the daemon ended. Here a program is
/// finished when *it* exits; output still arriving from its descendants is read for a short
/// grace period and then left. Children get no descriptors but 0, 1 and 2.
public enum ExternalProcess {
    /// What a finished program left behind.
    public struct Outcome: Sendable, Equatable {
        /// Exit status, or 128 + signal number when the program was killed by a signal.
        public var status: Int32
        /// True when the program ended because of a signal (including our own timeout kill).
        public var wasSignalled: Bool
        /// True when kvmsnap killed it because the timeout passed.
        public var timedOut: Bool
        public var standardOutput: String
        public var standardError: String

        public var succeeded: Bool { status == 0 && !wasSignalled }
    }

    public struct LaunchError: Error, CustomStringConvertible, Sendable {
        public var executable: String
        public var reason: String
        public var description: String { "cannot run \(executable): \(reason)" }
    }

    /// How long output from a finished program's leftover descendants is still read.
    static let drainGrace: Double = 2

    /// Bytes of each output stream kept by default (its tail); the rest is read and dropped.
    public static let defaultOutputLimit = 16 << 20
    /// Bytes of a hook's output kept (its tail): enough for an error message, never a flood.
    public static let hookOutputLimit = 4096

    /// The last `limit` bytes of a stream; counts what it dropped. Memory stays at `limit`
    /// however much the program writes, and the pipe is always drained (a writer never blocks).
    struct Tail {
        let limit: Int
        private(set) var bytes: [UInt8] = []
        private(set) var dropped = 0

        init(limit: Int) { self.limit = max(0, limit) }

        /// Appends, dropping the oldest bytes once twice the limit is buffered (amortised O(1) per byte).
        mutating func append(_ chunk: UnsafeBufferPointer<UInt8>) {
            bytes.append(contentsOf: chunk)
            if bytes.count > 2 * limit + 65536 {
                let excess = bytes.count - limit
                bytes.removeFirst(excess)
                dropped += excess
            }
        }

        /// The kept bytes as text, starting with `…[truncated N bytes]` when some were dropped
        /// (and at a character boundary: a cut multi-byte sequence is skipped).
        var text: String {
            let excess = max(0, bytes.count - limit)
            let kept = bytes[excess...]
            guard dropped + excess > 0 else { return String(decoding: kept, as: UTF8.self) }
            let skip = kept.prefix(3).prefix { $0 & 0xC0 == 0x80 }.count
            return "…[truncated \(dropped + excess + skip) bytes]" + String(decoding: kept.dropFirst(skip), as: UTF8.self)
        }
    }

    /// Runs `executable` (looked up in `PATH` when it has no slash) with `arguments`, no shell,
    /// and waits for it.
    ///
    /// - Parameters:
    ///   - captureOutput: when true, stdout and stderr are collected, stdin is /dev/null and the
    ///     program runs in its own process group (so a timeout stops its children too). When
    ///     false it inherits kvmsnap's stdin, stdout, stderr and process group (a terminal works).
    ///   - timeout: after this long the program (group) gets SIGTERM, then SIGKILL 5 s later.
    ///   - environment: extra variables layered over kvmsnap's own environment.
    ///   - outputLimit: bytes kept of each captured stream, its tail (see `Tail`).
    /// - Throws: `LaunchError` when the program cannot be started at all.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        captureOutput: Bool = true,
        timeout: Duration? = nil,
        outputLimit: Int = defaultOutputLimit
    ) throws(LaunchError) -> Outcome {
        let child = try spawn(
            executable, arguments, environment: environment,
            io: captureOutput ? .capture : .inherit)
        return child.wait(timeout: timeout, outputLimit: outputLimit)
    }

    /// The instant `timeout` after `start`; nil (no deadline) for a timeout that is negative
    /// or longer than 100 years, so no timeout can overflow the clock arithmetic.
    static func deadline(after timeout: Duration?, from start: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let timeout, timeout >= .zero, timeout <= maxTimeout else { return nil }
        return start.advanced(by: timeout)
    }

    /// The longest timeout that sets a deadline (100 years).
    static let maxTimeout: Duration = .seconds(100 * 365 * 86_400)

    /// `seconds` as a timeout: nil (no deadline) for a value that is not a finite positive
    /// number of at most 100 years, e.g. a hook timeout an older version stored unchecked.
    public static func timeout(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0, seconds <= 100 * 365 * 86_400 else { return nil }
        return .seconds(seconds)
    }

    /// Starts `executable` in the background, in its own process group, with stdin on /dev/null,
    /// and returns at once. Wait for it, or signal it, with the handle. With `captureOutput`
    /// its stdout and stderr are collected by `wait` (a program writing more than a pipe holds,
    /// 64 KiB, blocks until then); otherwise they go to /dev/null.
    public static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        captureOutput: Bool = false
    ) throws(LaunchError) -> Child {
        try spawn(executable, arguments, environment: environment, io: captureOutput ? .capture : .null)
    }

    /// Starts `executable` with its stdin and stdout on pipes the caller owns (a protocol spoken
    /// over `ssh`), its stderr captured by `wait`, in its own process group. The caller writes
    /// requests to `input` and reads answers from `output`, and closes both.
    public static func startConnected(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) throws(LaunchError) -> (child: Child, input: Int32, output: Int32) {
        let child = try spawn(executable, arguments, environment: environment, io: .connected)
        let fds = child.takeConnectedPipes()
        return (child, fds.input, fds.output)
    }

    /// A started program. Not shareable between threads: one owner waits for it.
    public final class Child {
        /// The program's pid (also its process group id unless it inherited kvmsnap's group).
        public let pid: pid_t
        private let ownGroup: Bool
        private var outputFD: Int32
        private var errorFD: Int32
        private var outcome: Outcome?

        /// The pipe ends of a `.connected` child until its starter takes them.
        fileprivate var connectedInput: Int32 = -1

        fileprivate init(pid: pid_t, ownGroup: Bool, outputFD: Int32, errorFD: Int32) {
            self.pid = pid; self.ownGroup = ownGroup; self.outputFD = outputFD; self.errorFD = errorFD
        }

        /// Hands the stdin write end and the stdout read end to the caller (stderr stays ours).
        fileprivate func takeConnectedPipes() -> (input: Int32, output: Int32) {
            defer { connectedInput = -1; outputFD = -1 }
            return (connectedInput, outputFD)
        }

        deinit {
            closeFD(&outputFD); closeFD(&errorFD)
            // Never leave a zombie behind: a child nobody waited for is reaped when it ends.
            if outcome == nil, waitpid(pid, nil, WNOHANG) == 0 {
                let pid = self.pid
                Thread.detachNewThread { _ = waitpid(pid, nil, 0) }
            }
        }

        /// True once the program has exited (or was reaped elsewhere), without waiting and
        /// without reaping it (`waitid` with `WNOWAIT`): ``wait(timeout:outputLimit:)`` still
        /// collects its status and output. Lets an owner of a long-running program (a
        /// `qemu-nbd` export) notice that it died.
        public var hasExited: Bool {
            guard outcome == nil else { return true }
            var info = siginfo_t()
            let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if rc < 0 { return errno == ECHILD }
            return info._sifields._sigchld.si_pid == pid
        }

        /// Sends `signal` to the program and what it started: its process group when it has its
        /// own, else (sharing kvmsnap's group, on the user's terminal) its descendants by /proc.
        public func signal(_ signal: Int32) {
            guard outcome == nil else { return }
            if ownGroup { _ = kill(-pid, signal); return }
            for p in [pid] + ExternalProcess.descendants(of: pid) { _ = kill(p, signal) }
        }

        /// Waits until the program exits (and its output is read), killing it after `timeout`.
        /// Keeps the last `outputLimit` bytes of each stream.
        @discardableResult
        public func wait(timeout: Duration? = nil, outputLimit: Int = ExternalProcess.defaultOutputLimit) -> Outcome {
            if let outcome { return outcome }
            let clock = ContinuousClock()
            let started = clock.now
            let deadline = ExternalProcess.deadline(after: timeout, from: started)
            var out = Tail(limit: outputLimit), err = Tail(limit: outputLimit)
            var status: Int32?
            var exitedAt: ContinuousClock.Instant?
            var timedOut = false, killed = false
            while true {
                if status == nil {
                    var raw: Int32 = 0
                    let r = waitpid(pid, &raw, WNOHANG)
                    // ECHILD: reaped by someone else, its status is lost; report it as exit 255.
                    if r == pid || (r < 0 && errno == ECHILD) { status = r == pid ? raw : 255 << 8; exitedAt = clock.now }
                }
                let pipesOpen = outputFD >= 0 || errorFD >= 0
                if let exitedAt, !pipesOpen || clock.now - exitedAt > .milliseconds(Int64(ExternalProcess.drainGrace * 1000)) {
                    break
                }
                if status == nil, let deadline, clock.now >= deadline {
                    if !timedOut {
                        timedOut = true; signal(SIGTERM)
                    } else if !killed, clock.now >= deadline.advanced(by: .seconds(5)) {
                        killed = true; signal(SIGKILL)
                    }
                }
                if pipesOpen {
                    pollAndRead(out: &out, err: &err, waitMilliseconds: 20)
                } else {
                    usleep(10_000)
                }
            }
            // A timed-out program's group is killed outright once its leader is gone: a child
            // that ignored SIGTERM must not outlive the program it belonged to.
            if timedOut && ownGroup { _ = kill(-pid, SIGKILL) }
            // Output a leftover daemon still writes is read and dropped in the background:
            // closing our end would kill it with SIGPIPE on its next write.
            let leftover = [outputFD, errorFD].filter { $0 >= 0 }
            outputFD = -1; errorFD = -1
            if !leftover.isEmpty { ExternalProcess.drainInBackground(leftover) }
            let raw = status ?? 0
            let signalNumber = raw & 0x7f
            let signalled = signalNumber != 0 && signalNumber != 0x7f
            let result = Outcome(
                status: signalled ? 128 + signalNumber : (raw >> 8) & 0xff,
                wasSignalled: signalled, timedOut: timedOut,
                standardOutput: out.text,
                standardError: err.text)
            outcome = result
            return result
        }

        private func pollAndRead(out: inout Tail, err: inout Tail, waitMilliseconds: Int32) {
            var fds = [
                pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errorFD, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, waitMilliseconds) > 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            for (index, entry) in fds.enumerated() where entry.fd >= 0 && entry.revents != 0 {
                let n = read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    buffer.withUnsafeBufferPointer { all in
                        let chunk = UnsafeBufferPointer(rebasing: all[0..<n])
                        if index == 0 { out.append(chunk) } else { err.append(chunk) }
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    if index == 0 { closeFD(&outputFD) } else { closeFD(&errorFD) }
                }
            }
        }
    }

    private enum IO {
        case capture
        case inherit
        case null
        /// stdin and stdout on pipes for the caller, stderr captured.
        case connected
    }

    /// Reads `fds` until EOF on a background thread, dropping the data, then closes them.
    static func drainInBackground(_ fds: [Int32]) {
        Thread.detachNewThread {
            var open = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while open.contains(where: { $0.fd >= 0 }) {
                guard poll(&open, nfds_t(open.count), -1) > 0 else { if errno == EINTR { continue } else { break } }
                for i in open.indices where open[i].fd >= 0 && open[i].revents != 0 {
                    if read(open[i].fd, &buffer, buffer.count) <= 0 { close(open[i].fd); open[i].fd = -1 }
                }
            }
            for entry in open where entry.fd >= 0 { close(entry.fd) }
        }
    }

    private static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], io: IO
    ) throws(LaunchError) -> Child {
        guard let path = resolve(executable) else {
            throw LaunchError(executable: executable, reason: executable.contains("/") ? "not an executable file" : "not found in PATH")
        }
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer { posix_spawn_file_actions_destroy(&actions); posix_spawnattr_destroy(&attributes) }

        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        if io == .connected {
            guard pipe(&inPipe) == 0 else { throw LaunchError(executable: executable, reason: "pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(inPipe[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(inPipe[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        }
        if io == .capture || io == .connected {
            // pipe2 is not exported to Swift; the window before FD_CLOEXEC is covered by closefrom.
            guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
                let reason = String(cString: strerror(errno))
                for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) }
                throw LaunchError(executable: executable, reason: "pipe: \(reason)")
            }
            for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        if io != .inherit && io != .connected {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if io == .null {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }

        // Signals back to their defaults (the Swift runtime ignores SIGPIPE), none blocked.
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if io != .inherit { flags |= Int32(POSIX_SPAWN_SETPGROUP) }
        var noSignals = sigset_t(), defaults = sigset_t()
        sigemptyset(&noSignals)
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        if io == .capture || io == .connected { close(outPipe[1]); close(errPipe[1]) }
        if io == .connected { close(inPipe[0]) }
        guard rc == 0 else {
            for fd in [outPipe[0], errPipe[0], inPipe[1]] where fd >= 0 { close(fd) }
            throw LaunchError(executable: executable, reason: String(cString: strerror(rc)))
        }
        let child = Child(pid: pid, ownGroup: io != .inherit, outputFD: outPipe[0], errorFD: errPipe[0])
        child.connectedInput = inPipe[1]
        return child
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not export; looked up once. Without it children still get no kvmsnap pipes or
    /// catalog files (all opened close-on-exec), only descriptors other libraries left inheritable.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// The file `executable` names, as `run` would start it: a path when it has a slash, else
    /// the first match in `PATH`; nil unless that is a regular file this process may execute.
    /// Commands check this before they change anything (`guard` before its snapshot).
    public static func resolve(_ executable: String) -> String? {
        func runnable(_ path: String) -> Bool {
            var st = stat()
            return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
        }
        if executable.isEmpty { return nil }
        if executable.contains("/") { return runnable(executable) ? executable : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(executable)"
            if runnable(candidate) { return candidate }
        }
        return nil
    }
}

private func closeFD(_ fd: inout Int32) {
    if fd >= 0 { close(fd); fd = -1 }
}
