import Foundation
import SnapshotCatalog
import SnapshotEngine

/// The JSON shape of a hook (`hook list --json`, `hook add --json`).
struct HookJSON: Encodable {
    var id: Int64?
    var phase: String
    var vm: String?
    var command: [String]
    var timeoutSeconds: Double
    init(_ hook: HookRecord) {
        id = hook.id; phase = hook.phase; vm = hook.vm; command = hook.command; timeoutSeconds = hook.timeoutSeconds
    }
}
