import Foundation

/// Where a stream (memory image, NVRAM) lives: its stream index chunk and its total size.
public struct VaultStreamRef: Sendable, Hashable, Codable {
    public var index: ChunkID
    public var size: Int64
    public init(index: ChunkID, size: Int64) {
        self.index = index
        self.size = size
    }
}

/// One disk of a vault snapshot: its disk index chunk and sizes.
public struct VaultDiskRef: Sendable, Hashable, Codable {
    /// The disk's target in the domain XML (`vda`).
    public var target: String
    /// Image format the disk had on the source host (`qcow2`, `raw`).
    public var format: String
    public var virtualSize: Int64
    public var index: ChunkID
    /// Bytes of non-zero slots in the index (what a restore writes).
    public var allocatedBytes: Int64

    public init(target: String, format: String, virtualSize: Int64, index: ChunkID, allocatedBytes: Int64) {
        self.target = target
        self.format = format
        self.virtualSize = virtualSize
        self.index = index
        self.allocatedBytes = allocatedBytes
    }
}

/// One vault snapshot (format version 1). Every vault snapshot is logically full: its disks,
/// memory and NVRAM are complete through their indexes; `chunkRefs` lists every chunk it needs
/// (indexes included) so verify and gc work from manifests alone.
public struct VaultManifest: Sendable, Hashable, Codable {
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var vm: String
    public var vmUUID: String
    public var snapshot: String
    public var localSnapshotID: String?
    public var kind: String
    public var createdAt: Date
    public var host: String
    /// The source host's stable id (`<store>/host-id`); absent in manifests of older writers.
    /// Optional and ignored by older readers, so the format version stays 1.
    public var hostID: String?
    public var kvmsnapVersion: String
    public var hasMemory: Bool
    public var domainXML: String
    public var nvram: VaultStreamRef?
    public var disks: [VaultDiskRef]
    public var memory: VaultStreamRef?
    /// Bytes the snapshot represents (disk virtual sizes + memory + NVRAM sizes).
    public var logicalBytes: Int64
    /// Bytes this send added to the vault (new chunk objects, as stored).
    public var storedBytes: Int64
    /// The vault snapshot this send was incremental to (nil: read everything).
    public var baseSnapshot: String?
    /// Every chunk the snapshot references, sorted, without duplicates.
    public var chunkRefs: [ChunkID]

    public init(
        vm: String, vmUUID: String, snapshot: String, localSnapshotID: String? = nil, kind: String,
        createdAt: Date, host: String, kvmsnapVersion: String, hasMemory: Bool, domainXML: String,
        nvram: VaultStreamRef? = nil, disks: [VaultDiskRef] = [], memory: VaultStreamRef? = nil,
        logicalBytes: Int64 = 0, storedBytes: Int64 = 0, baseSnapshot: String? = nil, chunkRefs: [ChunkID] = []
    ) {
        self.formatVersion = Self.currentFormatVersion
        self.vm = vm
        self.vmUUID = vmUUID
        self.snapshot = snapshot
        self.localSnapshotID = localSnapshotID
        self.kind = kind
        self.createdAt = createdAt
        self.host = host
        self.kvmsnapVersion = kvmsnapVersion
        self.hasMemory = hasMemory
        self.domainXML = domainXML
        self.nvram = nvram
        self.disks = disks
        self.memory = memory
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.baseSnapshot = baseSnapshot
        self.chunkRefs = chunkRefs
    }

    /// The manifest's JSON: sorted keys, ISO 8601 dates with fractional seconds, no whitespace.
    public func canonicalJSON() throws -> Data {
        try VaultJSON.encoder.encode(self)
    }

    public static func decodeJSON(_ data: Data) throws -> VaultManifest {
        try VaultJSON.decoder.decode(VaultManifest.self, from: data)
    }
}

/// The vault's JSON coders (one place, so every object is written the same way).
public enum VaultJSON {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, enc in
            var c = enc.singleValueContainer()
            try c.encode(Self.formatDate(date))
        }
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { dec in
            let c = try dec.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = Self.parseDate(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 date: \(s.prefix(40))")
            }
            return date
        }
        return d
    }

    static func formatDate(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func parseDate(_ s: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s))
            ?? (try? Date.ISO8601FormatStyle().parse(s))
    }
}

/// Keys of the vault's objects (the same on every backend).
public enum VaultLayout {
    public static let config = "config"
    public static let wrappedKey = "keys/wrapped"
    public static let chunksPrefix = "chunks/"
    public static let snapshotsPrefix = "snapshots/"
    public static let marksPrefix = "marks/"
    public static let pinsPrefix = "pins/"
    /// Checkpoints of unfinished sends (`partial/<vmUUID>/<snapshot>`), read by a resumed send.
    public static let partialsPrefix = "partial/"
    public static let manifestSuffix = ".manifest"

    public static func chunk(_ id: ChunkID) -> String {
        let hex = id.hex
        return "chunks/\(hex.prefix(2))/\(hex)"
    }

    /// The id named by a chunk key, nil for anything else.
    public static func chunkID(fromKey key: String) -> ChunkID? {
        guard key.hasPrefix(chunksPrefix), let name = key.split(separator: "/").last else { return nil }
        return ChunkID(hex: String(name))
    }

    public static func manifest(vmUUID: String, snapshot: String) -> String {
        "snapshots/\(vmUUID)/\(snapshot)\(manifestSuffix)"
    }

    public static func pin(vmUUID: String, snapshot: String) -> String { "pins/\(vmUUID)/\(snapshot)" }
    public static func mark(_ id: String) -> String { "marks/\(id)" }
    public static func partial(vmUUID: String, snapshot: String) -> String { "partial/\(vmUUID)/\(snapshot)" }

    /// A name usable as one path component: non-empty, no `/`, no NUL, not `.`/`..`, ≤ 255 bytes.
    public static func isSafeComponent(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 200 && !s.contains("/") && !s.contains("\0") && s != "." && s != ".."
            && !s.hasPrefix(".")
    }
}
