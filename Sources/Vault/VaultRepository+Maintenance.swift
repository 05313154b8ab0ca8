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

/// A manifest that cannot be read: truncated, modified, or written in another format.
public struct DamagedManifest: Sendable, Equatable {
    public var key: String
    public var error: VaultError
    /// The VM UUID and snapshot name its key names (`snapshots/<uuid>/<snapshot>.manifest`).
    public var vmUUID: String
    public var snapshot: String
    /// Truncated or modified (not merely a newer format): `vault forget --damaged` may delete it.
    public var deletable: Bool { if case .badManifest = error { true } else { false } }

    /// Nil for errors that are not the manifest's own (I/O, connection, missing key).
    public init?(key: String, error: VaultError) {
        switch error {
        case .badManifest, .unsupportedFormat: break
        default: return nil
        }
        let parts = key.dropFirst(VaultLayout.snapshotsPrefix.count).split(separator: "/")
        self.key = key
        self.error = error
        vmUUID = parts.first.map(String.init) ?? ""
        snapshot = String((parts.last ?? "").dropLast(VaultLayout.manifestSuffix.count))
    }
}

public struct VaultSnapshotListing: Sendable, Equatable {
    public var snapshots: [VaultSnapshotSummary] = []
    public var damaged: [DamagedManifest] = []
}

extension VaultRepository {
    /// How long a mark stays live without a refresh (a killed send's mark expires after this).
    public static let markTTL: TimeInterval = 600

    /// Starts a send. Waits (up to `gcWait`) for a running gc to finish.
    /// `onWait` is told once (which mark, how old) when a gc mark makes the send wait.
    public func beginSend(
        id: String = UUID().uuidString.lowercased(), gcWait: Duration = .seconds(600), onWait: ((String) -> Void)? = nil
    ) throws(VaultError) -> SendSession {
        try requireKeyIfEncrypted()
        guard VaultLayout.isSafeComponent(id) else { throw .invalidName(id) }
        let session = SendSession(repository: self, id: id)
        try session.start(gcWait: gcWait, onWait: onWait)
        return session
    }

    /// Marks named `marks/<prefix>…` modified within `ttl` seconds of `now`.
    func liveMarks(prefix: String, ttl: TimeInterval, now: Date = Date()) throws(VaultError) -> [VaultObjectInfo] {
        try backend.list(prefix: VaultLayout.marksPrefix + prefix).filter { now.timeIntervalSince($0.modified) < ttl }
    }

    /// Every snapshot (of one VM), oldest first; needs the key when the vault is encrypted.
    /// Throws on the first manifest that cannot be read (see ``listSnapshots(vmUUID:)``).
    public func snapshots(vmUUID: String? = nil) throws(VaultError) -> [VaultSnapshotSummary] {
        let listing = try listSnapshots(vmUUID: vmUUID)
        if let first = listing.damaged.first { throw first.error }
        return listing.snapshots
    }

    /// Every readable snapshot (of one VM), oldest first, and the manifests that cannot be read
    /// (truncated, modified, another format): one damaged manifest does not hide the others.
    /// Backend failures (I/O, connection) still throw.
    public func listSnapshots(vmUUID: String? = nil) throws(VaultError) -> VaultSnapshotListing {
        let pins = Set(try backend.list(prefix: VaultLayout.pinsPrefix).map(\.key))
        var listing = VaultSnapshotListing()
        for key in try manifestKeys(vmUUID: vmUUID) {
            let m: VaultManifest
            do throws(VaultError) { m = try manifest(key: key) } catch {
                guard let damaged = DamagedManifest(key: key, error: error) else { throw error }
                listing.damaged.append(damaged)
                continue
            }
            listing.snapshots.append(
                VaultSnapshotSummary(
                    key: key, vm: m.vm, vmUUID: m.vmUUID, snapshot: m.snapshot, host: m.host, hostID: m.hostID, createdAt: m.createdAt,
                    kind: m.kind, hasMemory: m.hasMemory, logicalBytes: m.logicalBytes, storedBytes: m.storedBytes, baseSnapshot: m.baseSnapshot,
                    pinned: pins.contains(VaultLayout.pin(vmUUID: m.vmUUID, snapshot: m.snapshot))))
        }
        listing.snapshots.sort { ($0.createdAt, $0.key) < ($1.createdAt, $1.key) }
        return listing
    }

    /// Deletes a manifest that cannot be read (and its pin), so that gc can run again. Refuses
    /// (`.badConfig`) a manifest that reads fine: retention is `prune`'s job.
    public func forgetDamaged(vmUUID: String, snapshot: String) throws(VaultError) -> DamagedManifest {
        let key = VaultLayout.manifest(vmUUID: vmUUID, snapshot: snapshot)
        guard try backend.exists(key) else { throw .missingObject(key: key) }
        do throws(VaultError) { _ = try manifest(key: key) } catch {
            guard let damaged = DamagedManifest(key: key, error: error), damaged.deletable else { throw error }
            try backend.delete(key)
            try backend.delete(VaultLayout.pin(vmUUID: vmUUID, snapshot: snapshot))
            return damaged
        }
        throw .badConfig(reason: "\(key) reads fine; only a damaged manifest is forgotten this way (see 'kvmsnap vault prune')")
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
        // Damaged manifests are left alone (the caller reports them): only readable ones are planned.
        let candidates = try listSnapshots(vmUUID: vmUUID).snapshots.map {
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
