import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Retention policies stored in the catalog: per VM, or the default.",
        subcommands: [PolicySetCommand.self, PolicyShowCommand.self, PolicyClearCommand.self])
}

/// `VM` or `--default`, exactly one.
struct PolicyTarget: ParsableArguments {
    @Argument(help: "VM name or UUID.") var vm: String?
    @Flag(name: .customLong("default"), help: "The default policy, used by every VM without its own.") var isDefault = false

    func validate() throws {
        if vm != nil && isDefault { throw ValidationError("give a VM or --default, not both") }
        if vm == nil && !isDefault { throw ValidationError("give a VM or --default") }
    }

    var label: String { vm.map { "VM \($0)" } ?? "the default policy" }
}

struct PolicySetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Store a VM's retention policy (or the default); replaces the previous one.",
        discussion: "Counts: 0 = off, N = keep N periods, -1 = unlimited. At least one --keep option is required (as borg).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: PolicyTarget
    @OptionGroup var keep: RetentionOptions
    @Option(
        name: .customLong("full-every"), parsing: .unconditional,
        help: ArgumentHelp("Automatic full after N incrementals in a row (0 = never); default: create's 14.", valueName: "N"))
    var fullEvery: Int?
    @Option(
        help: ArgumentHelp("Take snapshots on this cron schedule (5 fields, local time, e.g. \"0 3 * * *\") when 'kvmsnap run-due' runs.", valueName: "CRON"))
    var schedule: String?
    @Option(
        help: ArgumentHelp(
            "Guest-agent quiesce for scheduled snapshots: off, auto (use the agent when present, note when absent) or required.", valueName: "MODE"),
        transform: QuiesceMode.parser("--quiesce"))
    var quiesce: QuiesceMode?
    @Option(help: ArgumentHelp("After each scheduled snapshot, send it to this vault (run-due's phase 2).", valueName: "NAME"))
    var vault: String?
    @OptionGroup var vaultKeep: VaultRetentionOptions
    @Option(help: ArgumentHelp("Drill the newest snapshot on this cron schedule when 'kvmsnap run-due' runs.", valueName: "CRON"))
    var drill: String?

    /// The policy these options describe, validated (the web panel's `PUT .../policy` builds
    /// its policy here too, so both refuse the same input with the same message).
    func policy() throws -> SnapshotPolicy {
        let cron = try schedule.map { try CronSchedule(parsing: $0) }
        let policy = SnapshotPolicy(
            retention: try keep.policy(), fullEvery: fullEvery, schedule: cron?.expression, quiesce: quiesce, vault: vault,
            vaultRetention: vaultKeep.options.isGiven ? try vaultKeep.options.policy() : nil,
            drill: try drill.map { try CronSchedule(parsing: $0).expression })
        try policy.validate()
        return policy
    }

    func run() throws {
        // Everything is validated before anything is opened or changed.
        let policy = try policy()
        let engine = try Context(global).engine()
        try engine.setPolicy(policy, vm: target.vm)
        if global.json { Output.json(PolicyJSON(vm: target.vm, effective: try engine.effectivePolicy(vm: target.vm))); return }
        Output.line("policy for \(target.label): \(PolicyJSON.summary(policy))")
    }
}

struct PolicyShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the policy that applies to a VM (its own, else the default), or the default.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID (default: show the default policy).") var vm: String?

    func run() throws {
        let effective = try Self.effectivePolicy(vm: vm, context: Context(global))
        if global.json { Output.json(PolicyJSON(vm: vm, effective: effective)); return }
        guard let effective else {
            Output.line(vm.map { "VM \($0) has no policy of its own and there is no default policy" } ?? "there is no default policy")
            return
        }
        let which =
            switch effective.source {
            case .vm: "VM \(vm ?? "?")'s own policy"
            case .default: vm.map { "the default policy (VM \($0) has none of its own)" } ?? "the default policy"
            case .override: "given on the command line"
            }
        Output.line("\(which), updated \(effective.updatedAt.map(Output.localTime) ?? "-"):")
        var rows = RetentionRule.allCases.map { rule -> [String] in
            if rule == .within { return ["keep-within", effective.policy.retention.keepWithin.map { "\($0)" } ?? "-"] }
            return ["keep-\(rule.rawValue)", "\(effective.policy.retention.count(for: rule))"]
        }
        rows.append(["full-every", effective.policy.fullEvery.map(String.init) ?? "- (create's default, 14)"])
        rows.append(["schedule", Self.scheduleText(effective.policy)])
        rows.append(["quiesce", effective.policy.quiesce?.rawValue ?? "off"])
        if let drill = effective.policy.drill { rows.append(["drill", drill]) }
        Output.table(["RULE", "VALUE"], rows)
    }
}

extension PolicyShowCommand {
    /// The policy that applies, read from the catalog. A VM's name is resolved as everywhere
    /// (libvirt first, for a VM renamed or redefined there) when libvirt answers, else in the
    /// catalog alone: the policy can be read while libvirtd is down.
    static func effectivePolicy(vm: String?, context: Context) throws -> EffectivePolicy? {
        let reader = try context.catalogReader()
        guard let vm else { return try reader.effectivePolicy(vmUUID: nil) }
        if context.libvirtReachable { return try context.engine(.read).effectivePolicy(vm: vm) }
        return try reader.effectivePolicy(vmUUID: reader.vm(vm, unreachable: context.options.resolvedURI).uuid)
    }

    /// `0 3 * * * (next 2030-01-11 03:00:00)`, or `-` when not scheduled.
    static func scheduleText(_ policy: SnapshotPolicy) -> String {
        guard let schedule = policy.schedule else { return "- (not scheduled)" }
        guard let cron = try? CronSchedule(parsing: schedule) else { return "\(schedule) (invalid)" }
        let next = cron.nextSlot(after: Date(), timeZone: .current).map { "next \(Output.localTime($0)) local" } ?? "no slot in the next 8 years"
        return "\(schedule) (\(next))"
    }
}

struct PolicyClearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear", abstract: "Remove a VM's own policy (it falls back to the default), or the default policy.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: PolicyTarget

    func run() throws {
        let removed = try Context(global).engine(.existing).clearPolicy(vm: target.vm)
        if global.json { Output.json(["removed": removed]); return }
        let whose = target.vm.map { "VM \($0)'s own policy" } ?? "the default policy"
        Output.line(removed ? "removed \(whose)" : "\(whose) was not set; nothing removed")
    }
}

/// `--vault-keep-...`: the vault tier's retention in `policy set` (same rules as `--keep-...`).
struct VaultRetentionOptions: ParsableArguments {
    @Option(name: .customLong("vault-keep-within"), help: ArgumentHelp("Vault: keep every snapshot younger than this.", valueName: "D"))
    var keepWithin: String?
    @Option(name: .customLong("vault-keep-last"), parsing: .unconditional, help: ArgumentHelp("Vault: keep the N newest.", valueName: "N"))
    var keepLast: Int?
    @Option(name: .customLong("vault-keep-hourly"), parsing: .unconditional, help: ArgumentHelp("Vault: hourly tier.", valueName: "N"))
    var keepHourly: Int?
    @Option(name: .customLong("vault-keep-daily"), parsing: .unconditional, help: ArgumentHelp("Vault: daily tier.", valueName: "N"))
    var keepDaily: Int?
    @Option(name: .customLong("vault-keep-weekly"), parsing: .unconditional, help: ArgumentHelp("Vault: weekly tier.", valueName: "N"))
    var keepWeekly: Int?
    @Option(name: .customLong("vault-keep-monthly"), parsing: .unconditional, help: ArgumentHelp("Vault: monthly tier.", valueName: "N"))
    var keepMonthly: Int?
    @Option(name: .customLong("vault-keep-yearly"), parsing: .unconditional, help: ArgumentHelp("Vault: yearly tier.", valueName: "N"))
    var keepYearly: Int?

    /// The same values as ``RetentionOptions`` (for its parsing and validation).
    var options: RetentionOptions {
        var o = RetentionOptions()
        o.keepWithin = keepWithin; o.keepLast = keepLast; o.keepHourly = keepHourly; o.keepDaily = keepDaily
        o.keepWeekly = keepWeekly; o.keepMonthly = keepMonthly; o.keepYearly = keepYearly
        return o
    }
}
