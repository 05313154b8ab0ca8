import Foundation
import KVMSnapCore
import SnapshotCatalog

/// The JSON shape of a drill report (`drill --json`, `drill report --json`).
struct DrillJSON: Encodable {
    var id: Int64?
    /// The `drill` job of the journal that ran it (`jobs --json`).
    var job: Int64?
    var vm: String
    var vmUUID: String
    var snapshot: String
    var clone: String
    var passed: Bool
    /// Seconds from the drill's start to its last passing check; null when a check failed.
    var recoverySeconds: Double?
    var checks: [DrillCheck]
    /// The PNG kept with the report; null when the VM has no display to capture.
    var screenshot: String?
    var startedAt: String
    var endedAt: String
    var error: String?
    var markedVerified: Bool
    var keptClone: Bool
    /// The vault the disks were rebuilt from (`--from-vault`), null for a local snapshot.
    var vault: String?

    init(_ record: DrillRecord) {
        id = record.id; job = record.jobID; vm = record.vmName; vmUUID = record.vmUUID; snapshot = record.snapshotName; clone = record.clone
        passed = record.passed; recoverySeconds = record.recoverySeconds; checks = record.checkResults; screenshot = record.screenshot
        startedAt = Output.isoUTC(record.startedAt); endedAt = Output.isoUTC(record.endedAt); error = record.error
        markedVerified = record.markedVerified; keptClone = record.keptClone; vault = record.vault
    }

    enum CodingKeys: String, CodingKey {
        case id, job, vm, vmUUID, snapshot, clone, passed, recoverySeconds, checks, screenshot, startedAt, endedAt, error, markedVerified, keptClone, vault
    }

    /// Writes `null` for the optional fields that have no value, so every report has every key.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(job, forKey: .job); try c.encode(vm, forKey: .vm); try c.encode(vmUUID, forKey: .vmUUID)
        try c.encode(snapshot, forKey: .snapshot); try c.encode(clone, forKey: .clone); try c.encode(passed, forKey: .passed)
        try c.encode(recoverySeconds, forKey: .recoverySeconds); try c.encode(checks, forKey: .checks)
        try c.encode(screenshot, forKey: .screenshot); try c.encode(startedAt, forKey: .startedAt); try c.encode(endedAt, forKey: .endedAt)
        try c.encode(error, forKey: .error); try c.encode(markedVerified, forKey: .markedVerified); try c.encode(keptClone, forKey: .keptClone)
        try c.encode(vault, forKey: .vault)
    }
}
