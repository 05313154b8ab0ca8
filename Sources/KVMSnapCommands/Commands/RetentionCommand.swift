import ArgumentParser
import Foundation
import KVMSnapCore

#if canImport(Glibc)
import Glibc
#endif

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Retention tools that need no VM.",
        subcommands: [RetentionSimulateCommand.self, RetentionBenchCommand.self])
}
