import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct ResetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Put lab VMs back to their baselines, in parallel (no confirmation, no safety snapshot).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Lab VM names or UUIDs.") var vms: [String] = []
    @Flag(name: .customLong("all-labs"), help: "Reset every lab VM.") var allLabs = false

    func validate() throws {
        if vms.isEmpty == !allLabs { throw ValidationError("give lab VM names or --all-labs (not both)") }
    }

    func run() throws {
        let engine = try Context(global).engine(.existing)
        let names = allLabs ? try engine.labVMs().map(\.uuid) : vms
        let results = try engine.resetLabs(names)
        if global.json {
            Output.json(results)
        } else {
            for r in results {
                Output.line(r.error.map { "\(r.vm): FAILED: \($0)" } ?? String(format: "%@: reset to '%@' in %.2f s", r.vm, r.baseline ?? "?", r.seconds))
            }
        }
        if let failed = results.first(where: { $0.error != nil }) {
            throw CommandFailure("reset of \(failed.vm) failed", exitCode: 1)
        }
    }
}
