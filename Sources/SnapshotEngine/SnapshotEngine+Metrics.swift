import Foundation
import Notify
import SnapshotCatalog

extension SnapshotEngine {
    /// What the Prometheus textfile reports.
    public struct Metrics: Sendable {
        public struct VM: Sendable {
            public var name: String
            public var uuid: String
            /// Ready snapshots.
            public var snapshots: Int
            /// `usage`'s total: memory files plus every layer file the catalog holds.
            public var bytes: Int64
            /// Creation time of the newest ready snapshot.
            public var lastSnapshotAt: Date?
            /// End of the newest passing drill, and its measured recovery time.
            public var lastDrillSuccessAt: Date? = nil
            public var drillRecoverySeconds: Double? = nil
        }
        public var vms: [VM]
        /// Failed jobs in the journal, by kind.
        public var failedJobs: [String: Int]
        /// Age of each VM's newest restore point per tier (`local`; `vault` for VMs a vault holds);
        /// a VM with none in a tier has no entry.
        public var restorePointAges: [(vm: String, tier: String, seconds: Double)] = []
    }

    /// `now`: the time ages are measured at (run-due's `--now`; default the engine's clock).
    public func metrics(now: Date? = nil) throws(EngineError) -> Metrics {
        let usage = try usage(vm: nil)
        let bytes = Dictionary(usage.map { ($0.uuid, $0.totalBytes) }, uniquingKeysWith: { a, _ in a })
        let (vms, snapshots, failedJobs, drills) = try db { () throws(CatalogError) in
            try catalog.read { db in
                let vms = try db.allVMs()
                return (vms, try vms.map { try db.snapshots(vmUUID: $0.uuid) }, try db.failedJobCounts(), try db.latestPassedDrills())
            }
        }
        let drillByVM = Dictionary(drills.map { ($0.vmUUID, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = zip(vms, snapshots).map { vm, snaps in
            let ready = snaps.filter { $0.state == .ready }
            return Metrics.VM(
                name: vm.name, uuid: vm.uuid, snapshots: ready.count, bytes: bytes[vm.uuid] ?? 0,
                lastSnapshotAt: ready.map(\.createdAt).max(), lastDrillSuccessAt: drillByVM[vm.uuid]?.endedAt,
                drillRecoverySeconds: drillByVM[vm.uuid]?.recoverySeconds)
        }
        var result = Metrics(vms: rows, failedJobs: failedJobs)
        let at = now ?? clock.now()
        do {
            result.restorePointAges = try Outbox(catalog: catalog).newestRestorePoints().compactMap { point in
                point.newest.map { (point.vm.name, point.tier.rawValue, max(0, at.timeIntervalSince($0.time))) }
            }
        } catch { throw EngineError(.catalog, error.message) }
        return result
    }
}
