import ArgumentParser
import Dispatch
import Foundation
import KVMSnapCore
import SnapshotEngine

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
        for (option, value) in [
            ("--connect", global.connect), ("--catalog", global.catalog.map(GlobalOptions.absolute)),
            ("--store", global.store.map(GlobalOptions.absolute)),
            ("--metrics-textfile", metricsTextfile.map(GlobalOptions.absolute)),
        ] {
            guard let value else { continue }
            // A newline would end ExecStart= and start a directive of its own.
            if value.unicodeScalars.contains(where: TerminalText.needsEscape) {
                throw CommandFailure(
                    "\(option) must not contain newlines or other control characters (they would change the unit file); nothing was written", exitCode: 64)
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
