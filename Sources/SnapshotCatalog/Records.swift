import Foundation
import GRDB
import KVMSnapCore

/// A VM kvmsnap knows about, keyed by libvirt's UUID (names can change; UUIDs don't).
public struct VMRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "vm"
    public var uuid: String
    public var name: String
    public var createdAt: Date
    /// The snapshot the VM's current state descends from (parent of the next snapshot).
    public var currentSnapshotID: String?
    /// Set when the VM was declared a disposable lab VM (`kvmsnap lab mark`).
    public var labBaselineID: String?

    public init(uuid: String, name: String, createdAt: Date, currentSnapshotID: String? = nil, labBaselineID: String? = nil) {
        self.uuid = uuid; self.name = name; self.createdAt = createdAt
        self.currentSnapshotID = currentSnapshotID; self.labBaselineID = labBaselineID
    }
}

public enum SnapshotKind: String, Codable, Sendable, CaseIterable { case full, incremental }

/// `pending` while its create job runs; then `ready`, or the row is removed when the create is
/// rolled back. `failed`: the create job ended without doing either (its recovery could not
/// finish it, e.g. the VM is no longer defined, or the rollback's catalog write failed);
/// recovery marks such leftovers failed, and prune deletes them with their files.
public enum SnapshotState: String, Codable, Sendable, CaseIterable { case pending, ready, failed }

public struct SnapshotRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "snapshot"
    /// Opaque id; all files of the snapshot are named after it, never after `name`.
    public var id: String
    public var vmUUID: String
    public var name: String
    public var description: String
    public var kind: SnapshotKind
    public var parentID: String?
    public var createdAt: Date
    public var state: SnapshotState
    /// True when the VM was running and its memory was saved.
    public var hasMemory: Bool
    public var memoryPath: String?
    public var memoryBytes: Int64
    /// Bytes of disk data this snapshot owns (its frozen layers' allocation).
    public var diskBytes: Int64
    /// Inactive domain XML at capture time.
    public var configXML: String
    public var nvramPath: String?
    public var pinned: Bool
    public var expiresAt: Date?
    /// Comma-free labels such as `before-change`, stored as a JSON array.
    public var labels: [String]
    /// How long the guest was paused during capture, when known.
    public var guestPauseMs: Int64?
    public var jobID: Int64?

    public init(
        id: String, vmUUID: String, name: String, description: String = "", kind: SnapshotKind,
        parentID: String?, createdAt: Date, state: SnapshotState = .pending, hasMemory: Bool,
        memoryPath: String? = nil, memoryBytes: Int64 = 0, diskBytes: Int64 = 0, configXML: String,
        nvramPath: String? = nil, pinned: Bool = false, expiresAt: Date? = nil, labels: [String] = [],
        guestPauseMs: Int64? = nil, jobID: Int64? = nil
    ) {
        self.id = id; self.vmUUID = vmUUID; self.name = name; self.description = description
        self.kind = kind; self.parentID = parentID; self.createdAt = createdAt; self.state = state
        self.hasMemory = hasMemory; self.memoryPath = memoryPath; self.memoryBytes = memoryBytes
        self.diskBytes = diskBytes; self.configXML = configXML; self.nvramPath = nvramPath
        self.pinned = pinned; self.expiresAt = expiresAt; self.labels = labels
        self.guestPauseMs = guestPauseMs; self.jobID = jobID
    }

    /// `labels` as stored (a JSON array of strings, as Codable writes it); `[]` without a JSONDecoder.
    static func decodeLabels(_ text: String, id: String) throws -> [String] {
        if text == "[]" { return [] }
        do { return try JSONDecoder().decode([String].self, from: Data(text.utf8)) } catch {
            throw DatabaseError(message: "snapshot \(id): bad labels '\(text)'")
        }
    }

    /// A stored date, or a short error naming the row (never a dump of it): a far-future or
    /// damaged value (an older version stored years past 9999) is an error about this snapshot,
    /// with the way to clear an expiry, instead of a page of GRDB's row description.
    static func date(_ value: DatabaseValue, column: String, id: String, name: String) throws -> Date {
        if let date = Date.fromDatabaseValue(value), Bounds.isSupportedInstant(date) { return date }
        let shown: String
        if case .string(let text) = value.storage { shown = Bounds.clip(text) } else { shown = Bounds.clip("\(value)") }
        let fix = column == "expiresAt" ? "; clear it with: kvmsnap edit VM '\(name)' --expires never" : ""
        throw DatabaseError(message: "snapshot '\(name)' (id \(id)): stored \(column) \(shown.debugDescription) is not a date in years 0000-9999\(fix)")
    }

    /// Decodes a row directly instead of through Codable: GRDB's Codable row decoder (and a
    /// JSONDecoder per row for `labels`) made listing 100,000 snapshots take seconds.
    /// Writing still goes through Codable (`encode(to:)`), so the stored format is unchanged.
    public init(row: Row) throws {
        id = try row.decode(forColumn: "id"); vmUUID = try row.decode(forColumn: "vmUUID")
        name = try row.decode(forColumn: "name"); description = try row.decode(forColumn: "description")
        let kindText: String = try row.decode(forColumn: "kind")
        guard let kind = SnapshotKind(rawValue: kindText) else { throw DatabaseError(message: "snapshot \(id): unknown kind '\(kindText)'") }
        self.kind = kind
        parentID = try row.decode(forColumn: "parentID")
        createdAt = try Self.date(row["createdAt"], column: "createdAt", id: id, name: name)
        let stateText: String = try row.decode(forColumn: "state")
        guard let state = SnapshotState(rawValue: stateText) else { throw DatabaseError(message: "snapshot \(id): unknown state '\(stateText)'") }
        self.state = state
        hasMemory = try row.decode(forColumn: "hasMemory"); memoryPath = try row.decode(forColumn: "memoryPath")
        memoryBytes = try row.decode(forColumn: "memoryBytes"); diskBytes = try row.decode(forColumn: "diskBytes")
        configXML = try row.decode(forColumn: "configXML"); nvramPath = try row.decode(forColumn: "nvramPath")
        pinned = try row.decode(forColumn: "pinned")
        let expiry: DatabaseValue = row["expiresAt"]
        expiresAt = expiry.isNull ? nil : try Self.date(expiry, column: "expiresAt", id: id, name: name)
        labels = try Self.decodeLabels(try row.decode(forColumn: "labels"), id: id)
        guestPauseMs = try row.decode(forColumn: "guestPauseMs"); jobID = try row.decode(forColumn: "jobID")
    }
}

/// One qcow2 (or raw base) file in a VM's layer tree.
public struct LayerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "layer"
    public enum Role: String, Codable, Sendable {
        /// The VM's own image from before its first snapshot; kvmsnap did not create it.
        case original
        /// An overlay kvmsnap created (frozen by a snapshot, or the VM's active layer).
        case overlay
        /// A standalone copy written by a `--full` snapshot.
        case fullCopy
    }
    public var id: String
    public var vmUUID: String
    /// libvirt's target name, e.g. `vda`.
    public var diskTarget: String
    public var path: String
    public var format: String
    /// The layer this one is backed by; nil for a standalone image.
    public var parentLayerID: String?
    public var role: Role
    public var createdAt: Date

    public init(id: String, vmUUID: String, diskTarget: String, path: String, format: String, parentLayerID: String?, role: Role, createdAt: Date) {
        self.id = id; self.vmUUID = vmUUID; self.diskTarget = diskTarget; self.path = path
        self.format = format; self.parentLayerID = parentLayerID; self.role = role; self.createdAt = createdAt
    }
}

/// Which layer holds disk `diskTarget` as it was when snapshot `snapshotID` was taken.
public struct SnapshotDiskRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "snapshotDisk"
    public var snapshotID: String
    public var diskTarget: String
    public var layerID: String
    public init(snapshotID: String, diskTarget: String, layerID: String) {
        self.snapshotID = snapshotID; self.diskTarget = diskTarget; self.layerID = layerID
    }
    /// Direct decoding (see `SnapshotRecord.init(row:)`): two of these per snapshot in a listing.
    public init(row: Row) throws {
        snapshotID = try row.decode(forColumn: "snapshotID"); diskTarget = try row.decode(forColumn: "diskTarget")
        layerID = try row.decode(forColumn: "layerID")
    }
}

public enum JobState: String, Codable, Sendable, CaseIterable { case pending, running, succeeded, failed }

/// One entry of the job journal: every operation that changes anything is a job.
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job"
    public var id: Int64?
    public var kind: String
    public var vmUUID: String?
    public var vmName: String?
    public var snapshotID: String?
    public var snapshotName: String?
    public var state: JobState
    public var startedAt: Date
    public var endedAt: Date?
    public var error: String?
    /// 0...1
    public var progress: Double
    /// Current stage, e.g. `capture` or `merge vda`.
    public var stage: String?
    /// Free-form JSON the engine needs to finish or roll back an interrupted job.
    public var journal: String?
    public var pid: Int32
    /// Things the user should know about a finished job, e.g. a failed post-hook.
    public var note: String?

    public init(
        kind: String, vmUUID: String?, vmName: String?, snapshotID: String? = nil, snapshotName: String? = nil,
        state: JobState = .running, startedAt: Date, pid: Int32
    ) {
        self.kind = kind; self.vmUUID = vmUUID; self.vmName = vmName; self.snapshotID = snapshotID
        self.snapshotName = snapshotName; self.state = state; self.startedAt = startedAt
        self.progress = 0; self.pid = pid
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A retention policy (and later schedule) for one VM, or the default one (`scope == "default"`).
public struct PolicyRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "policy"
    public var scope: String
    /// The policy as JSON, owned by the engine.
    public var json: String
    public var updatedAt: Date
    public init(scope: String, json: String, updatedAt: Date) { self.scope = scope; self.json = json; self.updatedAt = updatedAt }
}

/// A command kvmsnap runs at a phase of an operation (`kvmsnap hook add`).
public struct HookRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "hook"
    public var id: Int64?
    /// `pre-snapshot`, `post-snapshot`, `pre-restore`, `post-restore` or `on-failure`.
    public var phase: String
    /// VM name or UUID as given; nil for every VM.
    public var vm: String?
    /// Program and arguments (no shell).
    public var command: [String]
    public var timeoutSeconds: Double
    public var createdAt: Date

    public init(phase: String, vm: String?, command: [String], timeoutSeconds: Double, createdAt: Date) {
        self.phase = phase; self.vm = vm; self.command = command; self.timeoutSeconds = timeoutSeconds; self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
