import ArgumentParser
import Foundation

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
            GuardCommand.self, HookCommand.self, JobsCommand.self, ForgetCommand.self,
        ]
    )

    public init() {}

    /// Entry point: parses, runs, and maps every error to a one-line message and exit status.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch {
            if let failure = CommandFailure.from(error) {
                FileHandle.standardError.write(Data("kvmsnap: error: \(failure.message)\n".utf8))
                Foundation.exit(failure.exitCode)
            }
            exit(withError: error)
        }
    }
}
