import Foundation
import KVMSnapCore
import SnapshotCatalog

/// Records alert events for delivery (the outbox): an event and one delivery per target its
/// rules name are written in one transaction, before anything is sent, so a kill between
/// "recorded" and "delivered" leaves a pending delivery that a later command sends. The event's
/// dedup key is unique in the catalog: recording the same event again does nothing.
public struct Outbox: Sendable {
    let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    /// This machine's name, for payloads.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        return gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : "localhost"
    }

    /// The rules as the decisions read them (rules naming an event this version does not know are skipped).
    public func rules() throws(NotifyError) -> [AlertRuleSpec] {
        let records: [NotifyRuleRecord]
        do { records = try catalog.read { try $0.notifyRules() } } catch { throw NotifyError(.catalog, error.message) }
        return records.compactMap { record in
            guard let id = record.id, let event = AlertEventType(rawValue: record.event) else { return nil }
            return AlertRuleSpec(id: id, target: record.target, event: event, vm: record.vm, olderThanSeconds: record.olderThanSeconds)
        }
    }

    /// Records `event` for every target whose rule matches it. Returns the targets it was recorded
    /// for: none when no rule matches (nothing is written) or the dedup key was seen before.
    @discardableResult
    public func record(_ event: AlertEvent, dedupKey: String) throws(NotifyError) -> [String] {
        let targets = try rules().filter { $0.matches(event) }.map(\.target)
        return try record(event, dedupKey: dedupKey, targets: targets)
    }

    /// Records `event` for exactly `targets`.
    @discardableResult
    public func record(_ event: AlertEvent, dedupKey: String, targets: [String]) throws(NotifyError) -> [String] {
        guard !targets.isEmpty else { return [] }
        let record = try Self.eventRecord(event, dedupKey: dedupKey)
        do {
            return try catalog.write { db in try db.recordNotifyEvent(record, targets: targets) ? targets : [] }
        } catch { throw NotifyError(.catalog, error.message) }
    }

    /// The event row and the targets whose rules match it, for a caller that writes them in its
    /// own transaction (`CatalogAccess.recordNotifyEvent`) together with what the event reports,
    /// so a kill cannot keep the one and lose the other. Nil when no rule matches.
    public func prepare(_ event: AlertEvent, dedupKey: String) throws(NotifyError) -> (NotifyEventRecord, [String])? {
        let targets = try rules().filter { $0.matches(event) }.map(\.target)
        guard !targets.isEmpty else { return nil }
        return (try Self.eventRecord(event, dedupKey: dedupKey), targets)
    }

    static func eventRecord(_ event: AlertEvent, dedupKey: String) throws(NotifyError) -> NotifyEventRecord {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        let payload: String
        do { payload = String(decoding: try encoder.encode(event), as: UTF8.self) } catch {
            throw NotifyError(.catalog, "cannot encode the \(event.type.rawValue) event: \(error)")
        }
        return NotifyEventRecord(type: event.type.rawValue, dedupKey: dedupKey, payload: payload, recordedAt: event.time)
    }

    /// The event a delivery row carries.
    static func decode(_ record: NotifyEventRecord) throws(NotifyError) -> AlertEvent {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(AlertEvent.self, from: Data(record.payload.utf8)) } catch {
            throw NotifyError(.catalog, "event \(record.id ?? 0) cannot be read: \(error)")
        }
    }

    // MARK: Stale restore points

    /// The newest restore point of each catalog VM in each tier (vault: only VMs any vault holds a
    /// snapshot of), for the staleness check and the age metric.
    public func newestRestorePoints() throws(NotifyError) -> [(vm: VMRecord, tier: RestorePointTier, newest: RestorePoint?)] {
        do {
            return try catalog.read { db in
                var out: [(vm: VMRecord, tier: RestorePointTier, newest: RestorePoint?)] = []
                for vm in try db.allVMs() {
                    let local = try db.newestReadySnapshot(vmUUID: vm.uuid).map { RestorePoint(id: $0.id, name: $0.name, time: $0.createdAt) }
                    out.append((vm, .local, local))
                    if try db.hasVaultSends(vmUUID: vm.uuid) {
                        let vault = try db.newestVaultSnapshot(vmUUID: vm.uuid).map { RestorePoint(id: $0.id, name: $0.name, time: $0.createdAt) }
                        out.append((vm, .vault, vault))
                    }
                }
                return out
            }
        } catch { throw NotifyError(.catalog, error.message) }
    }

    /// Checks every stale-restore-point rule against every VM it covers (`run-due` calls this) and
    /// records an event per rule, VM and tier that is stale; the dedup key (rule, VM, tier, newest
    /// restore point) makes a staleness episode alert once however often the check runs.
    /// Returns how many new events were recorded.
    @discardableResult
    public func checkStaleness(now: Date, vms: Set<String>? = nil) throws(NotifyError) -> Int {
        let rules = try rules().filter { $0.event == .staleRestorePoint }
        guard !rules.isEmpty else { return 0 }
        var recorded = 0
        for point in try newestRestorePoints() where vms?.contains(point.vm.uuid) ?? true {
            for rule in rules where rule.covers(vm: point.vm.name, uuid: point.vm.uuid) {
                let threshold = rule.olderThanSeconds ?? AlertRuleSpec.defaultStaleSeconds
                guard let finding = Staleness.decide(tier: point.tier, newest: point.newest, now: now, thresholdSeconds: threshold) else { continue }
                let event = AlertEvent.stale(finding, vm: point.vm.name, vmUUID: point.vm.uuid, host: Self.hostName, time: now)
                let key = AlertDedupKey.stale(ruleID: rule.id, vmUUID: point.vm.uuid, finding: finding)
                if !(try record(event, dedupKey: key, targets: [rule.target])).isEmpty { recorded += 1 }
            }
        }
        return recorded
    }
}

extension Outbox {
    /// The recorded event's title (nil when its payload cannot be read).
    public static func title(of record: NotifyEventRecord) -> String? { try? decode(record).title }
}
