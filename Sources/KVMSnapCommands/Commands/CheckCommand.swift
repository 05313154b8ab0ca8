import ArgumentParser
import Foundation
import SnapshotEngine

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Report drift between the catalog and reality; changes nothing.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID (default: all VMs in the catalog).") var vm: String?

    func run() throws {
        let reports = try Context(global).engine(.read).check(vm: vm)
        if global.json {
            Output.json(reports)
        } else {
            for report in reports {
                if report.problems.isEmpty { Output.line("\(report.vm): ok") }
                for problem in report.problems { Output.line("\(report.vm): \(problem)") }
            }
        }
        let drifted = reports.filter { !$0.problems.isEmpty }
        if !drifted.isEmpty {
            let count = drifted.reduce(0) { $0 + $1.problems.count }
            throw CommandFailure(
                "check found \(count) problem\(count == 1 ? "" : "s") in \(drifted.map(\.vm).joined(separator: ", ")) (listed "
                    + "\(global.json ? "in the JSON" : "above"))",
                exitCode: 1)
        }
    }
}
