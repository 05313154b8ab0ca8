import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine

struct DrillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Prove a snapshot boots: a throwaway clone on an isolated network, checked, then removed.",
        subcommands: [Run.self, Report.self], defaultSubcommand: Run.self)

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Drill VM's snapshot SNAP (or the newest with --latest); exit 0 when every check passed, 1 when one failed.",
            discussion: """
                The clone (drill-VM-STAMP, new UUID) runs on copy-on-write overlays over the snapshot's layers and boots from \
                its disks; every NIC is moved to a libvirt network kvmsnap creates without forwarding, host address or DHCP, \
                with new MAC addresses. Checks, in order: running, --check-agent, --check-console, --check-port, --check-cmd, \
                --check-script (gets the clone's name and guest address as arguments and KVMSNAP_DRILL_* variables). A \
                screenshot is kept as PNG with the report. The clone, its overlays and its network are removed afterwards, \
                also after a crash (by the next command on VM), unless --keep-on-failure.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Argument(help: "Snapshot name (or --latest).") var snapshot: String?
        @Flag(help: "Drill the VM's newest ready snapshot (with --from-vault: its newest in that vault).") var latest = false
        @Option(name: .customLong("from-vault"), help: ArgumentHelp("Drill snapshot SNAP of VM in this vault: disks rebuilt from it.", valueName: "NAME"))
        var fromVault: String?
        @Flag(name: .customLong("check-agent"), help: "The guest agent must answer guest-ping.") var checkAgent = false
        @Option(name: .customLong("check-console"), help: ArgumentHelp("The serial console must show this pattern.", valueName: "REGEX"))
        var checkConsole: String?
        @Option(name: .customLong("check-port"), help: ArgumentHelp("This TCP port must listen in the guest (via the agent).", valueName: "PORT"))
        var checkPort: Int?
        @Option(name: .customLong("check-cmd"), help: ArgumentHelp("Run this in the guest (/bin/sh -c, via the agent); must exit 0.", valueName: "CMD"))
        var checkCommand: String?
        @Option(name: .customLong("check-script"), help: ArgumentHelp("Run this host program with the clone's name and address.", valueName: "PATH"))
        var checkScript: String?
        @Option(help: ArgumentHelp("All checks must pass within this long from the start (30s, 5min).", valueName: "DURATION")) var timeout = "5min"
        @Flag(name: .customLong("keep-on-failure"), help: "Leave a failed drill's clone, overlays and network for inspection.")
        var keepOnFailure = false
        @Flag(name: .customLong("mark-verified"), help: "A passing drill marks a snapshot pinned until verified as verified.")
        var markVerified = false

        func validate() throws {
            if latest == (snapshot != nil) { throw ValidationError("give either SNAP or --latest") }
            if let checkPort, !(1...65_535).contains(checkPort) { throw ValidationError("--check-port must be 1-65535") }
            if let checkConsole, (try? NSRegularExpression(pattern: checkConsole)) == nil {
                throw ValidationError("--check-console is not a valid regular expression")
            }
            if let checkCommand {
                if checkCommand.allSatisfy(\.isWhitespace) { throw ValidationError("--check-cmd is empty: give the command to run in the guest") }
                if let problem = Bounds.optionTextProblem(checkCommand, option: "--check-cmd") { throw ValidationError(problem) }
            }
            if let checkConsole, let problem = Bounds.optionTextProblem(checkConsole, option: "--check-console") { throw ValidationError(problem) }
            if let checkScript { try GuardCommand.requireRunnable(checkScript) }
        }

        func run() throws {
            var options = DrillOptions(snapshot: snapshot)
            options.fromVault = fromVault
            options.checkAgent = checkAgent
            options.consolePattern = checkConsole
            options.port = checkPort
            options.command = checkCommand
            options.script = checkScript.map(GlobalOptions.absolute)
            options.timeout = try TimeoutSpec.duration(timeout)
            options.keepOnFailure = keepOnFailure
            options.markVerified = markVerified
            let progress = Output.progressBar(json: global.json)
            let engine = try Context(global).engine(progress: progress, .existing)
            let report = try engine.drill(vm: vm, options: options)
            Output.endProgress(progress)
            if global.json { Output.json(DrillJSON(report)) } else { Report.printReport(report) }
            if !report.passed { throw ExitCode(1) }
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "report", abstract: "Show the drill reports, newest first (no libvirt needed).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Only this VM (name or UUID).") var vm: String?
        @Option(help: "Show at most this many.") var limit = 20

        func run() throws {
            let reports = try Context(global).catalogReader().drills(vm: vm, limit: max(1, min(limit, 100_000)))
            if global.json { Output.json(reports.map(DrillJSON.init)); return }
            Output.table(
                ["ID", "VM", "SNAPSHOT", "STARTED", "RESULT", "RECOVERY", "SCREENSHOT"],
                reports.map { report in
                    [
                        String(report.id ?? 0), report.vmName, report.snapshotName, Output.localTime(report.startedAt),
                        report.passed ? "passed" : "FAILED (\(report.checkResults.first { !$0.passed }?.name ?? "clone"))",
                        report.recoverySeconds.map { String(format: "%.1fs", $0) } ?? "-", report.screenshot ?? "-",
                    ]
                })
        }

        static func printReport(_ report: DrillRecord) {
            Output.line("drill of \(report.vmName) snapshot '\(report.snapshotName)' as \(report.clone): \(report.passed ? "PASSED" : "FAILED")")
            for check in report.checkResults {
                let name = check.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                Output.line("  \(name) \(check.passed ? "ok  " : "FAIL") \(String(format: "%6.1f", check.seconds))s  \(check.detail)")
            }
            if let error = report.error { Output.line("  error: \(error)") }
            if let seconds = report.recoverySeconds { Output.line(String(format: "  recovery time: %.1fs", seconds)) }
            Output.line("  screenshot: \(report.screenshot ?? "none")")
            if report.keptClone {
                Output.line(
                    "  clone kept: \(report.clone); remove it with virsh destroy and undefine --nvram, its kvmsnap-drill-* network with "
                        + "virsh net-destroy, and its files in the store's vms/<clone UUID>")
            }
            if report.markedVerified { Output.line("  snapshot '\(report.snapshotName)' marked verified (unpinned)") }
        }
    }
}
