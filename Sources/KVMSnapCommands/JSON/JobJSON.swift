import Foundation
import SnapshotCatalog
import SnapshotEngine

/// The JSON shape of a job of the journal (`jobs --json`).
struct JobJSON: Encodable {
    var id: Int64?
    var kind: String
    var vm: String?
    var vmUUID: String?
    var snapshot: String?
    var state: String
    var stage: String?
    var startedAt: Date
    var endedAt: Date?
    var durationSeconds: Double?
    var error: String?
    var note: String?
    /// The job's journal (JSON text): for guard, the command, its status and the rollback.
    var details: String?

    init(_ job: JobRecord) {
        id = job.id; kind = job.kind; vm = job.vmName; vmUUID = job.vmUUID; snapshot = job.snapshotName
        state = job.state.rawValue; stage = job.stage; startedAt = job.startedAt; endedAt = job.endedAt
        durationSeconds = Self.duration(job); error = job.error; note = job.note; details = job.journal
    }

    static func duration(_ job: JobRecord) -> Double? { job.endedAt.map { $0.timeIntervalSince(job.startedAt) } }
}
