import ArgumentParser
import Foundation
import KVMSnapCore

/// The `--keep-...` options in borg's spelling, shared by `policy set`, `prune` and `retention simulate`.
///
/// Counts: 0 = rule off, N > 0 = keep N periods, -1 = unlimited. Values are parsed
/// unconditionally so `--keep-daily -1` works without `=`.
struct RetentionOptions: ParsableArguments {
    @Option(
        name: .customLong("keep-within"),
        help: ArgumentHelp("Keep every snapshot younger than this (90min, 36h, 7d, 2w, 1m = 31 d, 1y = 365 d).", valueName: "D"))
    var keepWithin: String?
    @Option(name: .customLong("keep-last"), parsing: .unconditional, help: ArgumentHelp("Keep the N newest snapshots.", valueName: "N"))
    var keepLast: Int?
    @Option(
        name: .customLong("keep-hourly"), parsing: .unconditional,
        help: ArgumentHelp("Keep the newest snapshot of each of the last N hours that have one.", valueName: "N"))
    var keepHourly: Int?
    @Option(
        name: .customLong("keep-daily"), parsing: .unconditional,
        help: ArgumentHelp("Keep the newest snapshot of each of the last N days that have one.", valueName: "N"))
    var keepDaily: Int?
    @Option(
        name: .customLong("keep-weekly"), parsing: .unconditional,
        help: ArgumentHelp("Keep the newest snapshot of each of the last N ISO weeks that have one.", valueName: "N"))
    var keepWeekly: Int?
    @Option(
        name: .customLong("keep-monthly"), parsing: .unconditional,
        help: ArgumentHelp("Keep the newest snapshot of each of the last N months that have one.", valueName: "N"))
    var keepMonthly: Int?
    @Option(
        name: .customLong("keep-yearly"), parsing: .unconditional,
        help: ArgumentHelp("Keep the newest snapshot of each of the last N years that have one.", valueName: "N"))
    var keepYearly: Int?

    /// True when any `--keep-...` option was given.
    var isGiven: Bool {
        keepWithin != nil || [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly].contains { $0 != nil }
    }

    /// The policy these options describe (absent options are 0), validated: refuses the empty
    /// policy, counts below -1 and bad durations (`RetentionError`, exit 64).
    func policy() throws(RetentionError) -> RetentionPolicy {
        let policy = RetentionPolicy(
            keepWithin: try keepWithin.map { text throws(RetentionError) in try RetentionDuration(parsing: text) },
            keepLast: keepLast ?? 0, keepHourly: keepHourly ?? 0, keepDaily: keepDaily ?? 0,
            keepWeekly: keepWeekly ?? 0, keepMonthly: keepMonthly ?? 0, keepYearly: keepYearly ?? 0)
        try policy.validate()
        return policy
    }
}

extension RetentionPolicy {
    /// The rules that are on, in borg's order, e.g. `["keep-within 2d", "keep-last 3", "keep-daily -1"]`.
    var ruleDescriptions: [String] {
        var parts: [String] = []
        if let within = keepWithin { parts.append("keep-within \(within)") }
        for rule in RetentionRule.periodRules where count(for: rule) != 0 {
            parts.append("keep-\(rule.rawValue) \(count(for: rule))")
        }
        return parts
    }
}
