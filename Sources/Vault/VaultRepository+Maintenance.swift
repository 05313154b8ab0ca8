import Foundation
import KVMSnapCore

/// One vault snapshot as `vault snapshots` lists it.
public struct VaultSnapshotSummary: Sendable, Equatable {
    public var key: String
    public var vm: String
    public var vmUUID: String
    public var snapshot: String
    public var host: String
    /// The sending host's stable id (nil in manifests of older writers).
    public var hostID: String?
    public var createdAt: Date
    public var kind: String
    public var hasMemory: Bool
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var baseSnapshot: String?
    public var pinned: Bool
}

extension VaultRepository {
    /// How long a mark stays live without a refresh (a killed send's mark expires after this).
    public static let markTTL: TimeInterval = 600

    /// Starts a send. Waits (up to `gcWait`) for a running gc to finish.
    public func beginSend(id: String = UUID().uuidString.lowercased(), gcWait: Duration = .seconds(600)) throws(VaultError) -> SendSession {
        try requireKeyIfEncrypted()
        guard VaultLayout.isSafeComponent(id) else { throw .invalidName(id) }
        let session = SendSession(repository: self, id: id)
        try session.start(gcWait: gcWait)
        return session
    }

    /// Marks named `marks/<prefix>…` modified within `ttl` seconds of `now`.
    func liveMarks(prefix: String, ttl: TimeInterval, now: Date = Date()) throws(VaultError) -> [VaultObjectInfo] {
        try backend.list(prefix: VaultLayout.marksPrefix + prefix).filter { now.timeIntervalSince($0.modified) < ttl }
    }

    /// Every snapshot (of one VM), oldest first; needs the key when the vault is encrypted.
    public func snapshots(vmUUID: String? = nil) throws(VaultError) -> [VaultSnapshotSummary] {
        let pins = Set(try backend.list(prefix: VaultLayout.pinsPrefix).map(\.key))
        return try manifestKeys(vmUUID: vmUUID).map { (key) throws(VaultError) in
            let m = try manifest(key: key)
            return VaultSnapshotSummary(
                key: key, vm: m.vm, vmUUID: m.vmUUID, snapshot: m.snapshot, host: m.host, hostID: m.hostID, createdAt: m.createdAt, kind: m.kind,
                hasMemory: m.hasMemory, logicalBytes: m.logicalBytes, storedBytes: m.storedBytes, baseSnapshot: m.baseSnapshot,
                pinned: pins.contains(VaultLayout.pin(vmUUID: m.vmUUID, snapshot: m.snapshot)))
        }.sorted { ($0.createdAt, $0.key) < ($1.createdAt, $1.key) }
    }

    /// Pins (or unpins) a vault snapshot: a pinned one is never pruned.
    public func setPinned(_ pinned: Bool, vmUUID: String, snapshot: String) throws(VaultError) {
        let key = VaultLayout.pin(vmUUID: vmUUID, snapshot: snapshot)
        if pinned {
            guard try backend.exists(VaultLayout.manifest(vmUUID: vmUUID, snapshot: snapshot)) else {
                throw .missingObject(key: VaultLayout.manifest(vmUUID: vmUUID, snapshot: snapshot))
            }
            try backend.writeAtomic(key, [])
        } else {
            try backend.delete(key)
        }
    }

    /// Plans (and unless `dryRun`, executes) retention for one VM's vault snapshots with the
    /// local retention's planner; pruning deletes manifests (and pins) only, chunks stay for gc.
    public func prune(
        vmUUID: String, policy: RetentionPolicy, now: Date = Date(), timeZone: TimeZone = .current, dryRun: Bool = false
    ) throws(VaultError) -> RetentionPlan {
        let candidates = try snapshots(vmUUID: vmUUID).map {
            RetentionCandidate(id: $0.key, name: $0.snapshot, createdAt: $0.createdAt, pinned: $0.pinned)
        }
        let plan: RetentionPlan
        do { plan = try RetentionPlanner.plan(candidates, policy: policy, now: now, timeZone: timeZone) } catch {
            throw .badConfig(reason: "retention: \(error)")
        }
        guard !dryRun else { return plan }
        for d in plan.pruned {
            try backend.delete(d.id)
            try backend.delete(VaultLayout.pin(vmUUID: vmUUID, snapshot: d.name))
        }
        return plan
    }
}
