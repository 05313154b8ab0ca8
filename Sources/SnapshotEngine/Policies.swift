import Foundation
import KVMSnapCore
import SnapshotCatalog

/// What the catalog stores per scope: the retention rules plus snapshot-taking knobs.
///
/// Stored in `PolicyRecord.json` as one flat object, e.g.
/// `{"keepWithin":"2d","keepLast":5,"keepDaily":7,"fullEvery":14,"schedule":"0 3 * * *"}`
/// (absent counts are 0; absent `fullEvery`/`schedule` are nil, so JSON stored before a key
/// existed still reads).
public struct SnapshotPolicy: Sendable, Equatable, Codable {
    public var retention: RetentionPolicy
    /// Automatic full after this many incrementals in a row (0 = never); nil = create's default.
    public var fullEvery: Int?
    /// A 5-field cron expression (local time) for `run-due`; nil = not scheduled.
    public var schedule: String?
    /// Guest-agent quiesce for scheduled snapshots (`auto`: use the agent when present); nil = off.
    public var quiesce: QuiesceMode?
    /// The vault `run-due` sends each scheduled snapshot to (phase 2); nil = none.
    public var vault: String?
    /// Retention applied to the VM's snapshots in ``vault`` after each scheduled send; nil = none.
    public var vaultRetention: RetentionPolicy?
    /// A 5-field cron expression (local time): `run-due` drills the VM's newest snapshot; nil = no drills.
    public var drill: String?

    public init(
        retention: RetentionPolicy, fullEvery: Int? = nil, schedule: String? = nil, quiesce: QuiesceMode? = nil,
        vault: String? = nil, vaultRetention: RetentionPolicy? = nil, drill: String? = nil
    ) {
        self.retention = retention
        self.fullEvery = fullEvery
        self.schedule = schedule
        self.quiesce = quiesce
        self.vault = vault
        self.vaultRetention = vaultRetention
        self.drill = drill
    }

    enum CodingKeys: String, CodingKey { case fullEvery, schedule, quiesce, vault, vaultRetention, drill }

    public init(from decoder: any Decoder) throws {
        retention = try RetentionPolicy(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fullEvery = try c.decodeIfPresent(Int.self, forKey: .fullEvery)
        schedule = try c.decodeIfPresent(String.self, forKey: .schedule)
        quiesce = try c.decodeIfPresent(QuiesceMode.self, forKey: .quiesce)
        vault = try c.decodeIfPresent(String.self, forKey: .vault)
        vaultRetention = try c.decodeIfPresent(RetentionPolicy.self, forKey: .vaultRetention)
        drill = try c.decodeIfPresent(String.self, forKey: .drill)
    }

    public func encode(to encoder: any Encoder) throws {
        try retention.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(fullEvery, forKey: .fullEvery)
        try c.encodeIfPresent(schedule, forKey: .schedule)
        try c.encodeIfPresent(quiesce, forKey: .quiesce)
        try c.encodeIfPresent(vault, forKey: .vault)
        try c.encodeIfPresent(vaultRetention, forKey: .vaultRetention)
        try c.encodeIfPresent(drill, forKey: .drill)
    }

    /// The parsed schedule; nil when there is none.
    public func cron() throws(EngineError) -> CronSchedule? {
        guard let schedule else { return nil }
        do { return try CronSchedule(parsing: schedule) } catch { throw EngineError(.invalidInput, error.description) }
    }

    /// The parsed drill schedule; nil when there is none.
    public func drillCron() throws(EngineError) -> CronSchedule? {
        guard let drill else { return nil }
        do { return try CronSchedule(parsing: drill) } catch { throw EngineError(.invalidInput, "--drill: \(error.description)") }
    }

    /// Refuses what borg refuses (an empty policy, counts below -1), a negative `fullEvery` and
    /// a schedule that does not parse.
    public func validate() throws(EngineError) {
        do { try retention.validate() } catch { throw EngineError(.invalidInput, error.description) }
        if let fullEvery, fullEvery < 0 {
            throw EngineError(.invalidInput, "--full-every \(fullEvery) is invalid: it must be 0 (never) or a positive number")
        }
        _ = try cron()
        if try drillCron() != nil && schedule == nil {
            throw EngineError(.invalidInput, "--drill needs --schedule: run-due drills a VM with a snapshot schedule")
        }
        if let vaultRetention {
            guard vault != nil else { throw EngineError(.invalidInput, "--vault-keep-... needs --vault NAME") }
            do { try vaultRetention.validate() } catch { throw EngineError(.invalidInput, "vault retention: \(error.description)") }
        }
    }
}

/// Where an effective policy came from.
public enum PolicySource: String, Sendable, Encodable {
    /// The VM's own policy (`policy set VM`).
    case vm
    /// The default policy (`policy set --default`), used because the VM has none.
    case `default`
    /// Given on the command line (`prune --keep-...`).
    case override
}

public struct EffectivePolicy: Sendable {
    public var policy: SnapshotPolicy
    public var source: PolicySource
    public var updatedAt: Date?

    public init(policy: SnapshotPolicy, source: PolicySource, updatedAt: Date?) {
        self.policy = policy; self.source = source; self.updatedAt = updatedAt
    }
}

/// The policies service: the catalog's policy table (one row per VM scope plus the default) and
/// which policy applies to a VM.
///
/// State: none of its own (the policy rows live in the catalog). Calls: the catalog only; it
/// needs no libvirt connection, so the commands read policies through it while libvirtd is down.
/// It takes VM UUIDs: resolving a VM's name is the caller's (the engine asks libvirt first).
public struct Policies: CatalogService, Sendable {
    let catalog: Catalog
    let clock: any EngineClock

    public init(catalog: Catalog, clock: any EngineClock = SystemClock()) {
        self.catalog = catalog
        self.clock = clock
    }

    public static let defaultScope = "default"
    public static func scope(vmUUID: String) -> String { "vm:\(vmUUID)" }

    /// Stores `policy` for the VM with `vmUUID`, or as the default when nil. Validates first.
    func set(_ policy: SnapshotPolicy, vmUUID: String?) throws(EngineError) {
        try policy.validate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(policy) } catch {
            throw EngineError(.io, "cannot encode the policy: \(error)")
        }
        let scope = vmUUID.map(Self.scope(vmUUID:)) ?? Self.defaultScope
        let record = PolicyRecord(scope: scope, json: String(decoding: data, as: UTF8.self), updatedAt: clock.now())
        try db { () throws(CatalogError) in try catalog.write { try $0.save(record) } }
    }

    /// Removes the VM's own policy (or the default when nil); false when there was none.
    func clear(vmUUID: String?) throws(EngineError) -> Bool {
        let scope = vmUUID.map(Self.scope(vmUUID:)) ?? Self.defaultScope
        return try db { () throws(CatalogError) in try catalog.write { try $0.deletePolicy(scope: scope) } }
    }

    /// The policy that applies to the VM with `vmUUID`: its own, else the default; nil when
    /// neither exists. With nil: the default policy alone.
    public func effective(vmUUID: String?) throws(EngineError) -> EffectivePolicy? {
        let (own, fallback) = try db { () throws(CatalogError) in
            try catalog.read { db in
                (try vmUUID.flatMap { try db.policy(scope: Self.scope(vmUUID: $0)) }, try db.policy(scope: Self.defaultScope))
            }
        }
        if let own { return EffectivePolicy(policy: try Self.decode(own), source: .vm, updatedAt: own.updatedAt) }
        if let fallback { return EffectivePolicy(policy: try Self.decode(fallback), source: .default, updatedAt: fallback.updatedAt) }
        return nil
    }

    public static func decode(_ record: PolicyRecord) throws(EngineError) -> SnapshotPolicy {
        do { return try JSONDecoder().decode(SnapshotPolicy.self, from: Data(record.json.utf8)) } catch {
            throw EngineError(.catalog, "the stored policy '\(record.scope)' is unreadable: \(error)")
        }
    }
}

extension SnapshotEngine {
    /// The policies service (catalog only).
    var policies: Policies { Policies(catalog: catalog, clock: clock) }

    public static let defaultPolicyScope = Policies.defaultScope
    public static func policyScope(vmUUID: String) -> String { Policies.scope(vmUUID: vmUUID) }

    /// Stores `policy` for a VM (by name or UUID), or as the default when `vm` is nil. Validates first.
    public func setPolicy(_ policy: SnapshotPolicy, vm nameOrUUID: String?) throws(EngineError) {
        try policy.validate()  // before the VM is looked up: a bad policy is refused as such
        if let vault = policy.vault, !(try vaultRecords().contains { $0.name == vault }) {
            throw EngineError(.invalidInput, "--vault: no vault named '\(Bounds.clip(vault))' (see vault list; add it with vault add); nothing was stored")
        }
        let uuid = try nameOrUUID.map { name throws(EngineError) in try catalogVM(name).uuid }
        try policies.set(policy, vmUUID: uuid)
    }

    /// Removes a VM's own policy (or the default when `vm` is nil); false when there was none.
    @discardableResult
    public func clearPolicy(vm nameOrUUID: String?) throws(EngineError) -> Bool {
        let uuid = try nameOrUUID.map { name throws(EngineError) in try catalogVM(name).uuid }
        return try policies.clear(vmUUID: uuid)
    }

    /// The policy that applies to a VM: its own, else the default; nil when neither exists.
    /// With `vm` nil: the default policy alone.
    public func effectivePolicy(vm nameOrUUID: String?) throws(EngineError) -> EffectivePolicy? {
        let uuid = try nameOrUUID.map { name throws(EngineError) in try catalogVM(name, register: false).uuid }
        return try policies.effective(vmUUID: uuid)
    }

    public static func decodePolicy(_ record: PolicyRecord) throws(EngineError) -> SnapshotPolicy { try Policies.decode(record) }
}
