import ArgumentParser
import Foundation
import KVMSnapCore
import Notify
import SnapshotCatalog

/// `notify rule add|list|remove`: which events go to which target.
struct NotifyRuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rule", abstract: "Which events go to a target.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send events of one kind to a target.",
            discussion:
                "stale-restore-point is checked by run-due: a VM whose newest ready local snapshot, or newest vault copy, is older than "
                + "--older-than (default 36h) alerts once per staleness episode.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Target name.") var target: String
        @Option(
            help: ArgumentHelp("failed-job, drill-failed, drill-passed, vault-verify-failed or stale-restore-point.", valueName: "EVENT"),
            transform: AlertEventType.parser("--on")) var on: AlertEventType
        @Option(help: ArgumentHelp("For stale-restore-point: the age that counts as stale (90min, 36h, 7d).", valueName: "DURATION"))
        var olderThan: String?
        @Option(help: "Only for this VM (name or UUID); default every VM.") var vm: String?

        func run() throws {
            let seconds: Double?
            do { seconds = try olderThan.map { Double(try RetentionDuration(parsing: $0).seconds) } } catch {
                throw CommandFailure("bad --older-than: \(error) (nothing was changed)", exitCode: 64)
            }
            try NotifyTargets.checkRule(event: on, vm: vm, olderThanSeconds: seconds)
            guard FileManager.default.fileExists(atPath: global.resolvedCatalog) else { throw NotifyError(.notFound, "no target named '\(target)'") }
            let rule = try NotifyTargets(catalog: try Context(global, localOnly: false).catalog())
                .addRule(target: target, event: on, vm: vm, olderThanSeconds: seconds)
            if global.json { Output.json(NotifyRuleJSON(rule)); return }
            Output.line("added rule \(rule.id ?? 0): \(on.rawValue)\(vm.map { " of \($0)" } ?? "") goes to \(target)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List rules.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let rules = try NotifyTargets(catalog: try Context(global, localOnly: false).readingCatalog()).rules()
            if global.json { Output.json(rules.map(NotifyRuleJSON.init)); return }
            Output.table(
                ["ID", "TARGET", "ON", "VM", "OLDER THAN"],
                rules.map { rule in
                    [String(rule.id ?? 0), rule.target, rule.event, rule.vm ?? "(all)", rule.olderThanSeconds.map { Staleness.describe(seconds: $0) } ?? ""]
                })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a rule.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Rule id (see notify rule list).") var id: Int64
        func run() throws {
            guard FileManager.default.fileExists(atPath: global.resolvedCatalog) else { throw NotifyError(.notFound, "no rule with id \(id)") }
            try NotifyTargets(catalog: try Context(global, localOnly: false).catalog()).removeRule(id: id)
            if !global.json { Output.line("removed rule \(id)") }
        }
    }
}
