import Foundation

/// The one place in kvmsnap that starts external programs (`qemu-img`, hooks, guarded commands).
///
/// Keeping every `Process` launch here makes it easy to see which work is done outside
/// libvirt (and therefore only works on the local host, not over a remote `--connect`).
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

    /// Runs `executable` (looked up in `PATH` when it has no slash) with `arguments`, no shell.
    ///
    /// - Parameters:
    ///   - captureOutput: when false the child inherits kvmsnap's stdin, stdout and stderr.
    ///   - timeout: after this many seconds the child gets SIGTERM, then SIGKILL 5 s later.
    ///   - environment: extra variables layered over kvmsnap's own environment.
    /// - Throws: `LaunchError` when the program cannot be started at all.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        captureOutput: Bool = true,
        timeout: Double? = nil
    ) throws(LaunchError) -> Outcome {
        let process = Process()
        guard let url = resolve(executable) else {
            throw LaunchError(executable: executable, reason: "not found in PATH")
        }
        process.executableURL = url
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe(), err = Pipe()
        if captureOutput {
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
        }
        do { try process.run() } catch {
            throw LaunchError(executable: executable, reason: "\(error)")
        }
        // Drain pipes concurrently so a chatty child never blocks on a full pipe.
        let collected = OutputCollector()
        let group = DispatchGroup()
        if captureOutput {
            for (handle, isErr) in [(out.fileHandleForReading, false), (err.fileHandleForReading, true)] {
                group.enter()
                DispatchQueue.global().async {
                    let data = handle.readDataToEndOfFile()
                    collected.set(String(decoding: data, as: UTF8.self), isError: isErr)
                    group.leave()
                }
            }
        }
        let timedOut = TimeoutFlag()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                guard process.isRunning else { return }
                timedOut.set()
                kill(pid, SIGTERM)
                DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                    if process.isRunning { kill(pid, SIGKILL) }
                }
            }
        }
        process.waitUntilExit()
        group.wait()
        let signalled = process.terminationReason == .uncaughtSignal
        let status = signalled ? 128 + process.terminationStatus : process.terminationStatus
        return Outcome(
            status: status, wasSignalled: signalled, timedOut: timedOut.value,
            standardOutput: collected.output, standardError: collected.error)
    }

    private static func resolve(_ executable: String) -> URL? {
        if executable.contains("/") { return URL(fileURLWithPath: executable) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        return nil
    }
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var output = ""
    private(set) var error = ""
    func set(_ text: String, isError: Bool) {
        lock.lock(); defer { lock.unlock() }
        if isError { error = text } else { output = text }
    }
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
    func set() { lock.lock(); flag = true; lock.unlock() }
}
