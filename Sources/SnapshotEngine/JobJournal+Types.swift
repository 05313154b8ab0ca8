import Foundation
import KVMSnapCore
import SnapshotCatalog

/// What a job does. The catalog stores the raw value in `job.kind`, exactly as before.
public enum JobKind: String, Sendable, CaseIterable, Codable {
    case create, delete, restore, revert, forget
    case `guard`
    case runDue = "run-due"
    /// A copy of a snapshot into a vault (`kvmsnap send`).
    case send
    /// `restore --from-vault`: materialize, import, define or restore.
    case vaultRestore = "vault-restore"
    /// `kvmsnap drill`: a throwaway clone on an isolated network, checked, then removed.
    case drill
    /// `kvmsnap prune` of one VM (not a dry run): its deletes run nested in it.
    case prune
}

extension JobRecord {
    /// The job's kind, decoded once from the stored string; nil for a kind this version does
    /// not know (a newer kvmsnap wrote it).
    var jobKind: JobKind? { JobKind(rawValue: kind) }

    init(
        kind: JobKind, vmUUID: String?, vmName: String?, snapshotID: String? = nil, snapshotName: String? = nil,
        state: JobState, startedAt: Date, pid: Int32
    ) {
        self.init(
            kind: kind.rawValue, vmUUID: vmUUID, vmName: vmName, snapshotID: snapshotID, snapshotName: snapshotName,
            state: state, startedAt: startedAt, pid: pid)
    }
}

/// What a restore job's `stage` column holds: the pipeline stage it is in, or `finishing` once
/// the restore was verified (a crash from then on must not roll it back).
enum RestoreJobStage: Equatable, Sendable {
    case pipeline(RestoreStage)
    case finishing

    init?(rawValue: String) {
        if rawValue == "finishing" { self = .finishing; return }
        guard let stage = RestoreStage(rawValue: rawValue) else { return nil }
        self = .pipeline(stage)
    }

    var rawValue: String {
        switch self {
        case .pipeline(let stage): stage.rawValue
        case .finishing: "finishing"
        }
    }
}

/// The stages a `guard` job goes through, as stored in its `stage` column.
enum GuardStage: String, Sendable {
    case snapshot, command, done, rollback, failed
    case rolledBack = "rolled back"
}

/// The points where a test can make the engine fail or stall (`KVMSNAP_TEST_FAIL_AT`,
/// `KVMSNAP_TEST_STALL_AT` and ``SnapshotEngine/faultInjector`` see the raw value).
public enum FaultPoint: String, Sendable, CaseIterable {
    case createBeforeCapture = "create.beforeCapture"
    case createAfterCapture = "create.afterCapture"
    case createFrozen = "create.frozen"
    case createFullPartial = "create.full.partial"
    case createFullCopying = "create.full.copying"
    case createFullPivoted = "create.full.pivoted"
    case createRollbackReadDisks = "create.rollback.readDisks"
    case cloneAfterStart = "clone.afterStart"
    case deleteStarted = "delete.started"
    case deleteAfterCatalog = "delete.afterCatalog"
    case reclaimDelete = "reclaim.delete"
    case reclaimAfterMerge = "reclaim.afterMerge"
    case restoreRevert = "restore.revert"
    case restoreStart = "restore.start"
    case restoreVerify = "restore.verify"
    case restoreVerifyAgent = "restore.verify.agent"
    case revertOverlaysMade = "revert.overlaysMade"
    case revertBeforeStop = "revert.beforeStop"
    case revertBeforeStart = "revert.beforeStart"
    case revertAfterStart = "revert.afterStart"
    case revertRollbackDestroy = "revert.rollback.destroy"
    case runDueLocked = "run-due:locked"
    case runDueStarted = "run-due.started"
    /// After a batch of disk chunks was stored and the send's checkpoint written.
    case sendDiskChunk = "send.diskChunk"
    /// The first disk checkpoint after half of the disk bytes to read were read.
    case sendDiskHalf = "send.diskHalf"
    /// After a batch of memory-image chunks was stored and the checkpoint written.
    case sendMemoryChunk = "send.memoryChunk"
    case sendBeforeManifest = "send.beforeManifest"
    /// The manifest is written; the catalog has not recorded the send yet.
    case sendAfterManifest = "send.afterManifest"
    /// A vault restore wrote its first file (a `.partial`) and goes on with the next.
    case vaultRestoreMaterialize = "vault-restore.materialize"
    /// A drill's clone is defined and started; its checks have not run yet.
    case drillCloneStarted = "drill.cloneStarted"
}

/// What recovering an interrupted job did. Mapped to the job's error and note in one place
/// (``journalEntry``): every outcome but ``stands`` marks the job failed, as before.
enum RecoveryOutcome: Sendable, Equatable {
    /// The operation was finished from the journal (the job still counts as failed: it was interrupted).
    case completed(String)
    /// The operation was undone, or never touched anything.
    case rolledBack(String)
    /// Nothing could be finished or undone; the message says what is left.
    case abandoned(String)
    /// Recovery itself failed (not retried).
    case failed(EngineError)
    /// The operation had taken effect and stands: the job succeeds with this note.
    case stands(note: String)

    /// The job's error and note for this outcome.
    var journalEntry: (error: EngineError?, note: String?) {
        switch self {
        case .completed(let message), .rolledBack(let message), .abandoned(let message):
            (EngineError(.external, message), nil)
        case .failed(let error): (error, nil)
        case .stands(let note): (nil, note)
        }
    }
}

extension JobRecord {
    /// The job's journal decoded as `T`; nil when it has none or it does not decode (recovery
    /// then says the journal is unreadable).
    func decodedJournal<T: Decodable>(_ type: T.Type) -> T? {
        journal.flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    /// A restore job's stage, decoded once.
    var restoreStage: RestoreJobStage? { stage.flatMap(RestoreJobStage.init(rawValue:)) }
}
