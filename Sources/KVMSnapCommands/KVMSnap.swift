import ArgumentParser
import Foundation
import KVMSnapCore

/// The root command. `kvmsnap` with no subcommand prints help.
public struct KVMSnap: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "kvmsnap",
        abstract: "Live, consistent snapshots of KVM/QEMU VMs: memory, disks and configuration.",
        discussion: """
            Exit status: 0 success, 1 operation failed, 2 VM or snapshot not found, 3 conflict or \
            unsupported, 64 bad input (nothing changed), 75 VM busy.
            """,
        version: version,
        subcommands: [
            VMsCommand.self, CreateCommand.self, ListCommand.self, ShowCommand.self, RenameCommand.self,
            EditCommand.self, DeleteCommand.self, RestoreCommand.self, ExportDiskCommand.self, LabCommand.self, ResetCommand.self,
            RevertCommand.self, UsageCommand.self, CheckCommand.self,
            PolicyCommand.self, PruneCommand.self, VerifiedCommand.self, UnpinCommand.self, RetentionCommand.self,
            RunDueCommand.self, ScheduleCommand.self, DaemonCommand.self,
            GuardCommand.self, HookCommand.self, JobsCommand.self, ForgetCommand.self, DoctorCommand.self,
            SendCommand.self, VaultCommand.self, NotifyCommand.self, DrillCommand.self, ServeCommand.self,
        ]
    )

    public init() {}

    /// Entry point: parses, runs, and maps every error to a one-line message and exit status.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            AlertDelivery.deliverAtExit()
            Foundation.exit(0)
        } catch {
            fail(error)
        }
    }

    /// Prints `error` as one line `kvmsnap: error: …` (plus one `Usage:` line for a usage error)
    /// and exits with its status. `--help` and `--version` print to stdout and exit 0.
    static func fail(_ error: any Error) -> Never {
        AlertDelivery.deliverAtExit()
        if let failure = CommandFailure.from(error) {
            printError(failure.message)
            Foundation.exit(failure.exitCode)
        }
        let code = exitCode(for: error)
        if code == .success { exit(withError: error) }
        let text = UsageError(fullMessage: fullMessage(for: error, columns: 100_000), brief: message(for: error))
        if text.message.isEmpty && text.usage == nil { Foundation.exit(code.rawValue) }  // ExitCode(n): already reported
        printError(text.message.isEmpty ? "failed" : text.message, usage: text.usage)
        Foundation.exit(code.rawValue)
    }

    static func printError(_ message: String, usage: String? = nil) {
        var text = "kvmsnap: error: \(TerminalText.escape(message))\n"
        if let usage { text += "Usage: \(TerminalText.escape(usage))\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// ArgumentParser's error text (`Error: …`, `Help: …`, `Usage: …`, `See '… --help'`) reduced to
/// kvmsnap's form: the message on one line, and the usage line when there is one.
struct UsageError: Equatable {
    var message: String
    var usage: String?

    /// `brief` is ArgumentParser's message for the error; `fullMessage` the same with `Error: `
    /// before it and the usage after it. The usage is looked for only after the message, so a
    /// value with a newline and `Usage:` in it cannot pose as the usage.
    init(fullMessage: String, brief: String) {
        let lines = brief.split(separator: "\n", omittingEmptySubsequences: false)
        // "Help:  <vm>  VM name or UUID." repeats the option's help; the usage line follows.
        message = lines.filter { !$0.hasPrefix("Help: ") }.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        var rest = Substring(fullMessage)
        if let range = rest.range(of: brief) { rest = rest[range.upperBound...] }
        guard let start = rest.range(of: "Usage: ") else { usage = nil; return }
        let usageLines = rest[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
            .prefix { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("See '") && !$0.isEmpty }
        let text = Self.collapse(usageLines.joined(separator: " "))
        usage = text.isEmpty ? nil : text
    }

    /// Runs of whitespace (wrapped lines) as one space.
    static func collapse(_ text: some StringProtocol) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).joined(separator: " ")
    }
}
