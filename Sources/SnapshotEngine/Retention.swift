import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

/// One snapshot in a prune plan: the planner's decision and what deleting it would free.
public struct PruneItem: Sendable {
    public var snapshotID: String
    public var name: String
    public var createdAt: Date
    public var state: SnapshotState
    public var decision: RetentionDecision
    /// Estimated bytes freed by deleting it (0 unless pruned); see ``SnapshotEngine/planPrune(vm:policyOverride:now:)``.
    public var reclaimBytes: Int64

    public var action: RetentionDecision.Action { decision.action }
    public var reason: String? { decision.reason }
}

/// What `prune` will do (or did) to one VM.
public struct PrunePlan: Sendable {
    public var vm: String
    public var vmUUID: String
    public var policy: EffectivePolicy
    /// One item per catalog snapshot, oldest first (the order deletes run in).
    public var items: [PruneItem]
    /// How many snapshots each tier rule kept.
    public var keptByRule: [RetentionRule: Int]

    public var pruned: [PruneItem] { items.filter { $0.action == .prune } }
    public var reclaimBytes: Int64 { items.reduce(0) { $0 + $1.reclaimBytes } }
}

/// The journal of a `prune` job (`jobs --json` shows it as `details`): the snapshots the plan
/// deletes, oldest first, and those deleted so far.
public struct PruneJournal: Codable, Sendable {
    public var planned: [String]
    public var deleted: [String]
}

public struct PruneResult: Sendable {
    public var plan: PrunePlan
    public var dryRun: Bool
    /// Names of the snapshots deleted, in order (empty in a dry run).
    public var deleted: [String]
    /// `usage(vm:)` total bytes right before and after the deletes (nil in a dry run).
    public var usageBefore: Int64?
    public var usageAfter: Int64?
}

/// What a prune's execution needs from the rest of the engine: the normal delete path (which
/// never changes what another snapshot restores) and the usage totals reported around it.
protocol SnapshotDeleting {
    func delete(snapshot: SnapshotRecord, vm: VMRecord, domain: Domain?) throws(EngineError)
    func usage(vm nameOrUUID: String?) throws(EngineError) -> [VMUsage]
}

/// The retention service: plans a prune (``RetentionPlanner`` over the catalog's snapshots and
/// the effective policy, with the bytes each delete frees) and executes it.
///
/// State: none of its own; a value built per call from the engine's configuration
/// (``SnapshotEngine/retention``). Calls: ``Policies`` and ``LayerStore`` (layer state, the
/// in-step check); executing deletes through a ``SnapshotDeleting`` (the engine's delete path).
/// The caller resolves the VM and holds its lock to execute.
struct Retention: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let configuration: EngineConfiguration

    var policies: Policies { Policies(catalog: catalog, clock: configuration.clock) }
    var layerStore: LayerStore { LayerStore(connection: connection, catalog: catalog, configuration: configuration) }

    /// Plans and, through `deleter`, deletes every pruned snapshot, oldest first. The caller holds the VM's lock.
    /// With `journal`, the deletes run in a `prune` job (nested: a failed delete reaches the
    /// on-failure hooks through it) whose journal names the planned and the deleted snapshots;
    /// it starts only once the prune is sure to run, so a refused prune leaves no job.
    func execute(
        vm: VMRecord, domain: Domain?, policyOverride: RetentionPolicy?, now: Date,
        through deleter: some SnapshotDeleting, journal: JobJournal? = nil
    ) throws(EngineError) -> PruneResult {
        let plan = try plan(vm: vm, domain: domain, policyOverride: policyOverride, now: now)
        if !plan.pruned.isEmpty { try layerStore.requireInStep(domain: domain, vm: vm) }
        let before = try deleter.usage(vm: vm.uuid).first?.totalBytes
        var record = PruneJournal(planned: plan.pruned.map(\.name), deleted: [])
        var job = try journal?.start(kind: .prune, vm: vm, journal: SnapshotEngine.encode(record))
        do throws(EngineError) {
            for item in plan.pruned {
                guard let snapshot = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(id: item.snapshotID) } }) else { continue }
                if var running = job {
                    running.stage = "delete \(snapshot.name)"
                    running.progress = Double(record.deleted.count) / Double(plan.pruned.count)
                    journal?.note(running, "the stage")
                    job = running
                }
                do {
                    configuration.progress?("prune \(snapshot.name)", Double(record.deleted.count) / Double(max(plan.pruned.count, 1)))
                    if job != nil {
                        try OperationContext.nested { () throws(EngineError) in try deleter.delete(snapshot: snapshot, vm: vm, domain: domain) }
                    } else {
                        try deleter.delete(snapshot: snapshot, vm: vm, domain: domain)
                    }
                } catch {
                    // Its own delete may have begun (a half-done delete is finished by the next command).
                    let deleted = record.deleted
                    let done = deleted.isEmpty ? "none deleted before it" : "deleted before it: \(deleted.map { "'\($0)'" }.joined(separator: ", "))"
                    throw EngineError(error.code, "prune of \(vm.name) stopped at '\(snapshot.name)' (\(done)): \(error.message)")
                }
                record.deleted.append(snapshot.name)
                if var running = job {
                    running.journal = SnapshotEngine.encode(record)
                    journal?.note(running, "the deleted snapshots")
                    job = running
                }
            }
            let after = try deleter.usage(vm: vm.uuid).first?.totalBytes
            if let job {
                journal?.finish(job, error: nil, note: record.deleted.isEmpty ? "nothing to prune" : "pruned \(record.deleted.count)")
            }
            return PruneResult(plan: plan, dryRun: false, deleted: record.deleted, usageBefore: before, usageAfter: after)
        } catch {
            if let job { journal?.finish(job, error: error) }
            throw error
        }
    }

    /// The prune plan of `vm` (see ``SnapshotEngine/planPrune(vm:policyOverride:now:)``); changes nothing.
    func plan(vm: VMRecord, domain: Domain?, policyOverride: RetentionPolicy?, now: Date) throws(EngineError) -> PrunePlan {
        let effective: EffectivePolicy
        if let policyOverride {
            effective = EffectivePolicy(policy: SnapshotPolicy(retention: policyOverride), source: .override, updatedAt: nil)
        } else if let stored = try policies.effective(vmUUID: vm.uuid) {
            effective = stored
        } else {
            throw EngineError(
                .invalidInput,
                "VM \(vm.name) has no retention policy: set one with 'kvmsnap policy set \(vm.name) --keep-...' "
                    + "(or 'policy set --default ...'), or give --keep-... options to prune")
        }
        let (snapshots, baselineID, anchors) = try db { () throws(CatalogError) in
            try catalog.read { db in
                (try db.snapshots(vmUUID: vm.uuid), try db.vm(uuid: vm.uuid)?.labBaselineID, try db.vaultAnchors(vmUUID: vm.uuid))
            }
        }
        // A lab VM's baseline is what every reset goes back to, and a vault's anchor is the base
        // of its next incremental send: both are kept like pinned snapshots.
        let candidates = snapshots.map { s in
            RetentionCandidate(
                id: s.id, name: s.name, createdAt: s.createdAt, pinned: s.pinned || s.id == baselineID || anchors[s.id] != nil,
                expiresAt: s.expiresAt, state: Self.candidateState(s.state))
        }
        var retention: RetentionPlan
        do { retention = try RetentionPlanner.plan(candidates, policy: effective.policy.retention, now: now, timeZone: .current) } catch {
            throw EngineError(.invalidInput, error.description)
        }
        for (i, s) in snapshots.enumerated() where !s.pinned && retention.decisions[i].reason == "pinned" {
            if s.id == baselineID {
                retention.decisions[i].reason = "lab baseline"
            } else if let vaults = anchors[s.id] {
                retention.decisions[i].reason = "vault anchor (\(vaults.joined(separator: ", ")))"
            }
        }
        let prunedIDs = retention.decisions.filter { $0.action == .prune }.map(\.id)
        let reclaim = try estimateReclaim(vmUUID: vm.uuid, domain: domain, snapshots: snapshots, pruning: prunedIDs)
        let items = zip(snapshots, retention.decisions).map { s, d in
            PruneItem(
                snapshotID: s.id, name: s.name, createdAt: s.createdAt, state: s.state, decision: d,
                reclaimBytes: d.action == .prune ? reclaim[s.id, default: 0] : 0)
        }
        return PrunePlan(vm: vm.name, vmUUID: vm.uuid, policy: effective, items: items, keptByRule: retention.keptByRule)
    }

    static func candidateState(_ state: SnapshotState) -> CandidateState {
        switch state {
        case .ready: .ready
        case .pending: .pending
        case .failed: .failed
        }
    }

    /// Bytes each pruned snapshot frees when the snapshots in `pruning` are deleted in that order
    /// (see ``SnapshotEngine/planPrune(vm:policyOverride:now:)`` for what is counted).
    func estimateReclaim(vmUUID: String, domain: Domain?, snapshots: [SnapshotRecord], pruning ids: [String]) throws(EngineError) -> [String: Int64] {
        var result: [String: Int64] = [:]
        let byID = Dictionary(uniqueKeysWithValues: snapshots.map { ($0.id, $0) })
        for id in ids {
            guard let s = byID[id] else { continue }
            result[id] = (s.memoryPath.map(ImageTool.allocatedBytes) ?? 0) + (s.nvramPath.map(ImageTool.allocatedBytes) ?? 0)
        }
        // Without the domain the delete path keeps every layer (it cannot tell which the VM uses).
        guard domain != nil, !ids.isEmpty else { return result }

        var (tree, refs, layers, _) = try layerStore.layerState(vmUUID: vmUUID, domain: domain)
        let disks = try db { () throws(CatalogError) in try catalog.read { try $0.disks(vmUUID: vmUUID) } }
        var tops: [String: Set<String>] = [:]  // snapshot id → its frozen top layers
        for disk in disks { tops[disk.snapshotID, default: []].insert(disk.layerID) }
        var bytes = layers.mapValues { ImageTool.allocatedBytes($0.path) }

        func run(_ steps: [LayerTree.ReclaimStep]) -> Int64 {
            var freed: Int64 = 0
            for step in steps {
                switch step {
                case .delete(let layer):
                    freed += bytes[layer] ?? 0
                    bytes[layer] = nil
                case .commit(let child, let parent):
                    bytes[parent, default: 0] += bytes[child] ?? 0
                    bytes[child] = nil
                    for (id, set) in tops where set.contains(child) {
                        tops[id] = Set(set.map { $0 == child ? parent : $0 })
                    }
                }
                tree.apply(step, references: &refs)
            }
            return freed
        }
        // Whatever is reclaimable already (an interrupted earlier run) is nobody's credit.
        _ = run(tree.reclaimPlan(keeping: refs))
        for id in ids {
            tops[id] = nil
            refs.snapshotTops = tops.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            result[id, default: 0] += run(tree.reclaimPlan(keeping: refs))
        }
        return result
    }
}

extension SnapshotEngine: SnapshotDeleting {
    /// The retention service, with the configuration as it is now.
    var retention: Retention { Retention(connection: connection, catalog: catalog, configuration: configuration) }

    /// Plans a prune of one VM without changing anything.
    ///
    /// Candidates are the VM's catalog snapshots (state ready/pending/failed, pinned,
    /// expiry); the plan is ``RetentionPlanner`` (borg 1.2 prune plus kvmsnap's overrides) in
    /// `TimeZone.current` with `now` (default: the engine's clock). The policy is
    /// `policyOverride` when given, else the VM's stored policy, else the stored default;
    /// with none of these it throws `invalidInput`.
    ///
    /// ## Reclaimed bytes (an estimate, documented)
    /// The deletes are simulated in execution order (oldest first) on the catalog's layer tree,
    /// with the same ``LayerTree/reclaimPlan(keeping:)`` the delete path runs. A pruned
    /// snapshot is credited with its memory and NVRAM files' allocated bytes plus, for every
    /// layer its removal lets the plan delete, that layer's allocated bytes. A merge (child
    /// committed into its only-child parent) is credited 0: the child's clusters move into the
    /// parent, so it frees only the clusters both held, which we cannot see from file sizes;
    /// the merged parent is then modelled as holding both files' bytes, so deleting it later in
    /// the same plan credits both. Totals are therefore exact for layers that end up deleted and
    /// a lower bound where a merge is the last step (qcow2 metadata aside). Layers are never
    /// credited when the VM is not defined in libvirt, because the delete path then keeps every
    /// layer. Garbage that an earlier interrupted reclaim left is not credited to any snapshot.
    public func planPrune(vm nameOrUUID: String, policyOverride: RetentionPolicy? = nil, now: Date? = nil) throws(EngineError) -> PrunePlan {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        recoverIfIdle(vm: vm, domain: domain)
        return try retention.plan(vm: vm, domain: domain, policyOverride: policyOverride, now: now ?? clock.now())
    }

    /// Prunes one VM: plans (under the VM's lock) and, unless `dryRun`, deletes every pruned
    /// snapshot, oldest first, through the normal delete path (which never changes what another
    /// snapshot restores). Failed captures are pruned too; snapshots a job still owns are left alone.
    public func prune(vm nameOrUUID: String, policyOverride: RetentionPolicy? = nil, now: Date? = nil, dryRun: Bool) throws(EngineError) -> PruneResult {
        if dryRun {
            return PruneResult(plan: try planPrune(vm: nameOrUUID, policyOverride: policyOverride, now: now), dryRun: true, deleted: [])
        }
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try retention.execute(
            vm: vm, domain: domain, policyOverride: policyOverride, now: now ?? clock.now(), through: self, journal: jobJournal)
    }

    /// The prune itself, inside the caller's job (run-due); the caller holds the VM's lock.
    func pruneLocked(vm: VMRecord, domain: Domain?, policyOverride: RetentionPolicy?, now: Date) throws(EngineError) -> PruneResult {
        try retention.execute(vm: vm, domain: domain, policyOverride: policyOverride, now: now, through: self)
    }
}
