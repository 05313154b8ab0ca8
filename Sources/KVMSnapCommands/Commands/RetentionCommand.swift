import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KVMSnapCore

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Retention tools that need no VM.",
        subcommands: [RetentionSimulateCommand.self, RetentionBenchCommand.self])
}
