import Foundation
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
    }

    public func metrics() throws(EngineError) -> Metrics {
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
        return Metrics(vms: rows, failedJobs: failedJobs)
    }
}
