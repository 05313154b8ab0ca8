import ArgumentParser
import Dispatch
import Foundation
import KVMSnapCore
import SnapshotEngine

struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the scheduler (run-due) in one long-lived process, for hosts without systemd.",
        discussion: """
            Runs run-due at start and then at every multiple of --interval seconds (aligned to the \
            clock: with 60, at the start of each minute). SIGTERM or SIGINT stops it after the \
            current run; it then exits 0.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Seconds between runs, aligned to the clock.", valueName: "SECONDS")) var interval = 60
    @Option(name: .customLong("metrics-textfile"), help: ArgumentHelp("Write Prometheus metrics here after each run.", valueName: "PATH"))
    var metricsTextfile: String?

    func validate() throws {
        if interval < 1 { throw ValidationError("--interval must be at least 1 second") }
    }

    func run() throws {
        if let metricsTextfile { try MetricsTextfile.checkTarget(metricsTextfile) }
        let stop = StopSignal(signals: [SIGTERM, SIGINT])
        Output.notice("daemon: running run-due every \(interval) s; stop with SIGTERM or SIGINT")
        while !stop.requested {
            do {
                // A fresh connection per run: libvirtd may have restarted in between.
                let engine = try Context(global).engine()
                _ = try Scheduler.runOnce(engine: engine, now: Date(), metricsTextfile: metricsTextfile, json: global.json)
            } catch {
                Output.notice("daemon: run-due failed: \(CommandFailure.from(error)?.message ?? "\(error)")")
            }
            let now = Date().timeIntervalSince1970
            let next = (floor(now / Double(interval)) + 1) * Double(interval)
            if stop.wait(until: Date(timeIntervalSince1970: next)) { break }
        }
        Output.notice("daemon: stopped")
    }
}

/// Sets a flag and wakes the waiter when one of `signals` arrives (DispatchSource), so the
/// process finishes what it is doing instead of dying.
///
/// The default action is replaced by a no-op handler rather than `SIG_IGN`: an ignored signal
/// stays ignored in every program the daemon starts (qemu-img would then ignore SIGTERM),
/// while a caught one reverts to the default on exec.
final class StopSignal: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stopped = false
    private var sources: [any DispatchSourceSignal] = []

    init(signals: [Int32]) {
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in }
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.trigger() }
            source.resume()
            sources.append(source)
        }
    }

    private func trigger() {
        lock.lock()
        stopped = true
        lock.unlock()
        semaphore.signal()
    }

    var requested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Sleeps until `date` or a stop signal; true when stopping.
    func wait(until date: Date) -> Bool {
        if requested { return true }
        _ = semaphore.wait(timeout: .now() + max(0, date.timeIntervalSinceNow))
        return requested
    }
}
