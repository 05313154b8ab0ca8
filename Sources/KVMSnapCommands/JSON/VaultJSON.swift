import Foundation
import SnapshotCatalog
import SnapshotEngine
import Vault

/// A registered vault (`vault list --json`, `vault add --json`).
struct VaultRecordJSON: Encodable {
    var name: String
    var location: String
    var encrypted: Bool
    var keyFile: String?
    var addedAt: Date
    /// Remote vaults: endpoint, region, credentials file path, jobs.
    var options: VaultOptions?
    /// Only from `vault add` of a new encrypted vault: the paper key, shown this once.
    var paperKey: String?
    var created: Bool?
    init(_ record: VaultRecord, created: Bool? = nil, paperKey: String? = nil) {
        name = record.name; location = record.location; encrypted = record.encrypted; keyFile = record.keyFile
        addedAt = record.addedAt; self.created = created; self.paperKey = paperKey; options = record.options
    }
}

/// One vault snapshot (`vault snapshots --json`).
struct VaultSnapshotJSON: Encodable {
    var vm: String
    var vmUUID: String
    var snapshot: String
    var host: String
    var hostID: String?
    var createdAt: Date
    var kind: String
    var hasMemory: Bool
    var logicalBytes: Int64
    var storedBytes: Int64
    var baseSnapshot: String?
    var pinned: Bool
    init(_ s: VaultSnapshotSummary) {
        vm = s.vm; vmUUID = s.vmUUID; snapshot = s.snapshot; host = s.host; hostID = s.hostID; createdAt = s.createdAt; kind = s.kind
        hasMemory = s.hasMemory; logicalBytes = s.logicalBytes; storedBytes = s.storedBytes; baseSnapshot = s.baseSnapshot; pinned = s.pinned
    }
    enum CodingKeys: String, CodingKey { case vm, vmUUID, snapshot, host, hostID, createdAt, kind, hasMemory, logicalBytes, storedBytes, baseSnapshot, pinned }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vm, forKey: .vm); try c.encode(vmUUID, forKey: .vmUUID); try c.encode(snapshot, forKey: .snapshot)
        try c.encode(host, forKey: .host); try c.encode(hostID, forKey: .hostID); try c.encode(createdAt, forKey: .createdAt); try c.encode(kind, forKey: .kind)
        try c.encode(hasMemory, forKey: .hasMemory); try c.encode(logicalBytes, forKey: .logicalBytes)
        try c.encode(storedBytes, forKey: .storedBytes); try c.encode(baseSnapshot, forKey: .baseSnapshot); try c.encode(pinned, forKey: .pinned)
    }
}

/// One problem `vault verify` found, naming the object.
struct VaultProblemJSON: Encodable {
    var kind: String
    var object: String
    var detail: String
    var referencedBy: [String]
    init(_ p: VaultProblem) { kind = p.kind.rawValue; object = p.object; detail = p.detail; referencedBy = p.referencedBy }
}

/// `vault verify --json`.
struct VaultVerifyJSON: Encodable {
    var vault: String
    var ok: Bool
    var problems: [VaultProblemJSON]
    var manifestsChecked: Int
    var chunksChecked: Int
    var dataChecked: Bool
    init(vault: String, _ r: VaultVerifyReport) {
        self.vault = vault; ok = r.ok; problems = r.problems.map(VaultProblemJSON.init); manifestsChecked = r.manifestsChecked
        chunksChecked = r.chunksChecked; dataChecked = r.dataChecked
    }
}

/// `vault gc --json`.
struct VaultGCJSON: Encodable {
    var vault: String
    var deletedChunks: Int
    var deletedBytes: Int64
    var keptYoung: Int
    var referencedChunks: Int
    /// Marks of running sends that made gc delete nothing this time.
    var deferredBy: [String]
    var dryRun: Bool
    init(vault: String, _ r: VaultGCReport) {
        self.vault = vault; deletedChunks = r.deletedChunks; deletedBytes = r.deletedBytes; keptYoung = r.keptYoung
        referencedChunks = r.referencedChunks; deferredBy = r.deferredBy; dryRun = r.dryRun
    }
}

/// One decision of `vault prune --json`.
struct VaultPruneJSON: Encodable {
    var vm: String
    var vmUUID: String
    var snapshot: String
    var createdAt: Date?
    var action: String
    var reason: String?
    enum CodingKeys: String, CodingKey { case vm, vmUUID, snapshot, createdAt, action, reason }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vm, forKey: .vm); try c.encode(vmUUID, forKey: .vmUUID); try c.encode(snapshot, forKey: .snapshot)
        try c.encode(createdAt, forKey: .createdAt); try c.encode(action, forKey: .action); try c.encode(reason, forKey: .reason)
    }
    static func items(_ result: VaultPruneResult) -> [VaultPruneJSON] {
        result.plan.decisions.map { d in
            VaultPruneJSON(
                vm: result.vm, vmUUID: result.vmUUID, snapshot: d.name, createdAt: result.snapshots[d.id]?.createdAt,
                action: d.action.rawValue, reason: d.reason)
        }
    }
}

/// `send --json`: the engine's report as is.
struct SendJSON: Encodable {
    var report: SendReport
    enum CodingKeys: String, CodingKey {
        case vm, vmUUID, snapshot, vault, baseSnapshot, fullReadReason, resumed, bytesRead, bytesStored, chunksNew, chunksReused, logicalBytes, seconds
    }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let r = report
        try c.encode(r.vm, forKey: .vm); try c.encode(r.vmUUID, forKey: .vmUUID); try c.encode(r.snapshot, forKey: .snapshot)
        try c.encode(r.vault, forKey: .vault); try c.encode(r.baseSnapshot, forKey: .baseSnapshot)
        try c.encode(r.fullReadReason, forKey: .fullReadReason); try c.encode(r.resumed, forKey: .resumed)
        try c.encode(r.bytesRead, forKey: .bytesRead); try c.encode(r.bytesStored, forKey: .bytesStored)
        try c.encode(r.chunksNew, forKey: .chunksNew); try c.encode(r.chunksReused, forKey: .chunksReused)
        try c.encode(r.logicalBytes, forKey: .logicalBytes); try c.encode(r.seconds, forKey: .seconds)
    }
}
