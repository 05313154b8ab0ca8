import ArgumentParser
import Dispatch
import Foundation
import KVMSnapCore
import SnapshotEngine

struct RunDueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-due",
        abstract: "Take the scheduled snapshots that are due, then prune (run it every minute: 'schedule install-systemd').",
        discussion: """
            For each VM in the catalog whose policy (its own, else the default) has a --schedule: when \
            the latest slot at or before now has not run yet, takes 'auto-YYYYMMDD-HHMM' (the slot's \
            local time) and prunes with the policy. Missed slots run once (only the latest). When \
            another run-due is running, prints a notice and exits 0. Exits 1 when any VM failed \
            (each failure is a failed 'run-due' job in the journal).
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("now"), help: ArgumentHelp("Testing aid: evaluate schedules at this ISO 8601 time (e.g. 2030-01-10T03:00:30+01:00) instead of the clock.", valueName: "ISO8601"))
    var now: String?
    @Option(name: .customLong("metrics-textfile"), help: ArgumentHelp("Write Prometheus metrics here (atomically) for node_exporter's textfile collector.", valueName: "PATH"))
    var metricsTextfile: String?

    func run() throws {
        let at = try now.map(Scheduler.parseNow) ?? Date()
        if let metricsTextfile { try MetricsTextfile.checkTarget(metricsTextfile) }
        let engine = try Context(global).engine()
        let failed = try Scheduler.runOnce(engine: engine, now: at, metricsTextfile: metricsTextfile, json: global.json)
        if failed > 0 { throw CommandFailure("run-due: \(failed) scheduled VM\(failed == 1 ? "" : "s") failed (see above and the job journal)", exitCode: 1) }
    }
}

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

/// What run-due and the daemon share: one run, its output, and the metrics file.
enum Scheduler {
    static func parseNow(_ text: String) throws -> Date {
        switch Timestamp.parse(text) {
        case .success(let date): return date
        case .failure(let error): throw CommandFailure("--now: \(error.description)", exitCode: 64)
        }
    }

    struct RunJSON: Encodable {
        var vm: String
        var schedule: String
        var slot: Date?
        var outcome: String
        var snapshot: String?
        var pruned: [String]
        var message: String?
    }

    /// Runs due schedules once; returns how many VMs failed. Writes metrics when asked (not
    /// when another run holds the lock: that run writes them).
    static func runOnce(engine: SnapshotEngine, now: Date, metricsTextfile: String?, json: Bool) throws -> Int {
        switch try engine.runDue(now: now) {
        case .alreadyRunning:
            Output.notice("another run-due is running; nothing done")
            if json { Output.json(["alreadyRunning": true]) }
            return 0
        case .ran(let report):
            if json {
                Output.json(report.runs.map {
                    RunJSON(vm: $0.vm, schedule: $0.schedule, slot: $0.slot, outcome: $0.outcome.rawValue, snapshot: $0.snapshotName,
                            pruned: $0.pruned, message: $0.message)
                })
            } else {
                for run in report.runs { Output.line(describe(run)) }
                if report.runs.isEmpty { Output.line("no VM has a scheduled policy ('kvmsnap policy set VM|--default --schedule CRON ...')") }
            }
            if let metricsTextfile {
                let text = MetricsTextfile.render(try engine.metrics(), runDueDuration: report.duration)
                try MetricsTextfile.write(text, to: metricsTextfile)
            }
            return report.failed.count
        }
    }

    static func describe(_ run: ScheduledRun) -> String {
        let slot = run.slot.map { " (slot \(Output.localTime($0)))" } ?? ""
        switch run.outcome {
        case .snapshot:
            var text = "\(run.vm): took \(run.snapshotName ?? "?")\(slot)"
            if let message = run.message { text = "\(run.vm): \(message)\(slot)" }
            if !run.pruned.isEmpty { text += "; pruned \(run.pruned.joined(separator: ", "))" }
            return text
        case .upToDate: return "\(run.vm): up to date\(slot)"
        case .noSlot: return "\(run.vm): schedule \"\(run.schedule)\" has no slot yet"
        case .missing: return "\(run.vm): \(run.message ?? "not defined in libvirt; skipped")"
        case .failed: return "\(run.vm): FAILED\(slot): \(run.message ?? "unknown error")"
        }
    }
}

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Install the scheduler (run-due every minute).",
        subcommands: [ScheduleInstallSystemdCommand.self])
}

struct ScheduleInstallSystemdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install-systemd",
        abstract: "Write kvmsnap-run-due.service (oneshot) and kvmsnap-run-due.timer (minutely, persistent).",
        discussion: "--connect, --catalog, --store and --metrics-textfile, when given, are passed on to run-due.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Directory for the unit files.", valueName: "DIR")) var dest = "/etc/systemd/system"
    @Option(name: .customLong("metrics-textfile"), help: ArgumentHelp("Have run-due write Prometheus metrics here.", valueName: "PATH"))
    var metricsTextfile: String?

    static let serviceName = "kvmsnap-run-due.service"
    static let timerName = "kvmsnap-run-due.timer"

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dest, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(dest) is not a directory", exitCode: 64)
        }
        var command = [Self.executablePath(), "run-due"]
        // Paths absolute: the service runs in /, not in the directory this command ran in.
        for (option, value) in [("--connect", global.connect), ("--catalog", global.catalog.map(GlobalOptions.absolute)),
                                ("--store", global.store.map(GlobalOptions.absolute)),
                                ("--metrics-textfile", metricsTextfile.map(GlobalOptions.absolute))] {
            guard let value else { continue }
            // A newline would end ExecStart= and start a directive of its own.
            if value.unicodeScalars.contains(where: TerminalText.needsEscape) {
                throw CommandFailure("\(option) must not contain newlines or other control characters (they would change the unit file); nothing was written", exitCode: 64)
            }
            if option == "--connect", let refusal = HypervisorURI(value).refusal { throw CommandFailure("\(refusal); nothing was written", exitCode: 64) }
            command += [option, value]
        }
        let service = """
            [Unit]
            Description=kvmsnap: take the scheduled snapshots that are due
            After=libvirtd.service

            [Service]
            Type=oneshot
            ExecStart=\(command.map(Self.systemdQuote).joined(separator: " "))

            """
        let timer = """
            [Unit]
            Description=kvmsnap: run-due every minute

            [Timer]
            OnCalendar=minutely
            Persistent=true
            AccuracySec=1s

            [Install]
            WantedBy=timers.target

            """
        for (name, text) in [(Self.serviceName, service), (Self.timerName, timer)] {
            let path = (dest as NSString).appendingPathComponent(name)
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
            }
            chmod(path, 0o644)
            Output.line("wrote \(path)")
        }
        Output.line("enable with: systemctl daemon-reload && systemctl enable --now \(Self.timerName)")
        Output.line("check with:  systemctl list-timers \(Self.timerName); journalctl -u \(Self.serviceName)")
    }

    /// The absolute path of the running kvmsnap binary.
    static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Quotes a word for an ExecStart= line when it needs it.
    static func systemdQuote(_ word: String) -> String {
        let special = word.contains { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == "%" || $0 == "$" || $0 == ";" }
        guard special || word.isEmpty else { return word }
        let escaped = word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
        return "\"\(escaped)\""
    }
}
