import Foundation
import SnapshotEngine

/// The JSON shape of one decision of a prune plan (`prune --json`, with or without `--dry-run`):
/// a plan prints as the array of its items, VM by VM, oldest first.
struct PlanJSON: Encodable {
    var vm: String
    var name: String
    /// `keep`, `prune` or `leaveAlone` (the action's raw value).
    var action: String
    var reason: String?
    var reclaimBytes: Int64

    init(vm: String, item: PruneItem) {
        self.vm = vm; name = item.name; action = item.action.rawValue; reason = item.reason; reclaimBytes = item.reclaimBytes
    }

    /// Every item of `plan`, in its order.
    static func items(_ plan: PrunePlan) -> [PlanJSON] { plan.items.map { PlanJSON(vm: plan.vm, item: $0) } }

    // Keep an explicit null for reason: scripts test for it.
    enum CodingKeys: String, CodingKey { case vm, name, action, reason, reclaimBytes }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vm, forKey: .vm); try c.encode(name, forKey: .name); try c.encode(action, forKey: .action)
        try c.encode(reason, forKey: .reason); try c.encode(reclaimBytes, forKey: .reclaimBytes)
    }
}
