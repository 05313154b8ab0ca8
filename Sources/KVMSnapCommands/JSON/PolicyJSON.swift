import Foundation
import KVMSnapCore
import SnapshotEngine

/// `policy show --json` (and `policy set --json`).
struct PolicyJSON: Encodable {
    struct Rules: Encodable {
        var keepWithin: String?
        var keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly: Int
        var fullEvery: Int?
        var schedule: String?
        var quiesce: String?
        /// Only present when the policy sends to a vault (`--vault`).
        var vault: String?
        /// The vault retention rules, e.g. `["keep-daily 7"]` (only with a vault).
        var vaultKeep: [String]?
        /// Only present when run-due drills the VM (`--drill`).
        var drill: String? = nil
        enum CodingKeys: String, CodingKey {
            case keepWithin, keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, fullEvery, schedule, quiesce, vault, vaultKeep, drill
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(keepWithin, forKey: .keepWithin)
            try c.encode(keepLast, forKey: .keepLast); try c.encode(keepHourly, forKey: .keepHourly)
            try c.encode(keepDaily, forKey: .keepDaily); try c.encode(keepWeekly, forKey: .keepWeekly)
            try c.encode(keepMonthly, forKey: .keepMonthly); try c.encode(keepYearly, forKey: .keepYearly)
            try c.encode(fullEvery, forKey: .fullEvery)
            try c.encode(schedule, forKey: .schedule)
            try c.encode(quiesce, forKey: .quiesce)
            try c.encodeIfPresent(vault, forKey: .vault)
            try c.encodeIfPresent(vaultKeep, forKey: .vaultKeep)
            try c.encodeIfPresent(drill, forKey: .drill)
        }
    }
    var vm: String?
    /// `vm`, `default`, or null when no policy applies.
    var source: String?
    var policy: Rules?
    var updatedAt: Date?

    enum CodingKeys: String, CodingKey { case vm, source, policy, updatedAt }

    init(vm: String?, effective: EffectivePolicy?) {
        self.vm = vm
        source = effective?.source.rawValue
        updatedAt = effective?.updatedAt
        policy = effective.map { e in
            let r = e.policy.retention
            return Rules(
                keepWithin: r.keepWithin.map { "\($0)" }, keepLast: r.keepLast, keepHourly: r.keepHourly, keepDaily: r.keepDaily,
                keepWeekly: r.keepWeekly, keepMonthly: r.keepMonthly, keepYearly: r.keepYearly, fullEvery: e.policy.fullEvery,
                schedule: e.policy.schedule, quiesce: e.policy.quiesce?.rawValue, vault: e.policy.vault,
                vaultKeep: e.policy.vault == nil ? nil : e.policy.vaultRetention?.ruleDescriptions ?? [], drill: e.policy.drill)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vm, forKey: .vm); try c.encode(source, forKey: .source)
        try c.encode(policy, forKey: .policy); try c.encode(updatedAt, forKey: .updatedAt)
    }

    static func summary(_ policy: SnapshotPolicy) -> String {
        var parts = policy.retention.ruleDescriptions
        if let fullEvery = policy.fullEvery { parts.append("full-every \(fullEvery)") }
        if let schedule = policy.schedule { parts.append("schedule \"\(schedule)\"") }
        if let drill = policy.drill { parts.append("drill \"\(drill)\"") }
        return parts.joined(separator: ", ")
    }
}
