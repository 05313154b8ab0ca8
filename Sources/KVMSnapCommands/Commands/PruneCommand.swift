import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete the snapshots a retention policy does not keep (borg 1.2's prune rules).",
        discussion: """
            Uses each VM's stored policy (else the default one) unless --keep-... options are given. \
            Pinned snapshots and those expiring in the future are kept; expired ones and failed \
            captures are pruned; snapshots a job is working on are left alone. Deleting never \
            changes what a kept snapshot restores. RECLAIM is an estimate: memory files plus layers \
            that become unneeded (merges count 0).
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM names or UUIDs.") var vms: [String] = []
    @Flag(help: "Every VM in the catalog.") var all = false
    @OptionGroup var keep: RetentionOptions
    @Flag(name: .customLong("dry-run"), help: "Only show what would be pruned.") var dryRun = false

    func validate() throws {
        if all && !vms.isEmpty { throw ValidationError("give VM names or --all, not both") }
        if !all && vms.isEmpty { throw ValidationError("give one or more VMs, or --all") }
    }

    static func word(_ action: RetentionDecision.Action) -> String {
        switch action {
        case .keep: "keep"
        case .prune: "prune"
        case .leaveAlone: "leave alone"
        }
    }

    func run() throws {
        let override = keep.isGiven ? try keep.policy() : nil
        let progress = Output.progressBar(json: global.json)
        let engine = try Context(global).engine(progress: progress, .existing)
        let names = all ? try engine.catalogVMs().map(\.name) : vms
        // Plan every VM first: a missing policy or VM stops the command before anything is deleted.
        var results = try names.map { vm in try engine.prune(vm: vm, policyOverride: override, dryRun: true) }
        if !dryRun { results = try names.map { vm in try engine.prune(vm: vm, policyOverride: override, dryRun: false) } }
        Output.endProgress(progress)

        if global.json { Output.json(results.flatMap { PlanJSON.items($0.plan) }); return }
        Output.table(
            ["VM", "SNAPSHOT", "CREATED", "ACTION", "REASON", "RECLAIM"],
            results.flatMap { result in
                result.plan.items.map { item in
                    [
                        result.plan.vm, item.name, Output.localTime(item.createdAt), Self.word(item.action), item.reason ?? "-",
                        item.action == .prune ? Output.bytes(item.reclaimBytes) : "-",
                    ]
                }
            })
        let count = { (action: RetentionDecision.Action) in results.reduce(0) { $0 + $1.plan.items.filter { $0.action == action }.count } }
        let estimate = results.reduce(0) { $0 + $1.plan.reclaimBytes }
        var total = "total: \(count(.keep)) kept, \(count(.prune)) \(dryRun ? "to prune" : "pruned"), \(count(.leaveAlone)) left alone; "
        if dryRun {
            total += "would reclaim about \(Output.bytes(estimate)) (dry run, nothing deleted)"
        } else {
            let measured = results.reduce(Int64(0)) { $0 + (($1.usageBefore ?? 0) - ($1.usageAfter ?? 0)) }
            total += "reclaimed \(Output.bytes(measured)) (estimated \(Output.bytes(estimate)))"
        }
        Output.line(total)
        for result in results {
            let source =
                switch result.plan.policy.source {
                case .vm: "its own policy"
                case .default: "the default policy"
                case .override: "the command line"
                }
            Output.notice("\(result.plan.vm): \(result.plan.policy.policy.retention.ruleDescriptions.joined(separator: ", ")) (from \(source))")
        }
    }
}
