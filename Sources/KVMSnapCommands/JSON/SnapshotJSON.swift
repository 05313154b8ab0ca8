import Foundation
import SnapshotEngine

/// The JSON shape of a snapshot (`list --json`, `show --json`, `create --json`).
public struct SnapshotJSON: Encodable {
    public var id: String
    public var name: String
    public var description: String
    public var kind: String
    public var parent: String?
    public var createdAt: Date
    public var hasMemory: Bool
    public var diskBytes: Int64
    public var memoryBytes: Int64
    public var pinned: Bool
    public var expiresAt: Date?
    public var state: String
    public var labels: [String]
    public var guestPauseMs: Int64?
    public var layers: [String: String]?

    public init(_ info: SnapshotInfo, withLayers: Bool = false) {
        let r = info.record
        id = r.id; name = r.name; description = r.description; kind = r.kind.rawValue; parent = info.parentName
        createdAt = r.createdAt; hasMemory = r.hasMemory; diskBytes = r.diskBytes; memoryBytes = r.memoryBytes
        pinned = r.pinned; expiresAt = r.expiresAt; state = r.state.rawValue; labels = r.labels; guestPauseMs = r.guestPauseMs
        layers = withLayers ? info.layers : nil
    }

    // Keep explicit nulls for parent and expiresAt: scripts test for them.
    enum CodingKeys: String, CodingKey {
        case id, name, description, kind, parent, createdAt, hasMemory, diskBytes, memoryBytes, pinned, expiresAt, state, labels, guestPauseMs, layers
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(name, forKey: .name); try c.encode(description, forKey: .description)
        try c.encode(kind, forKey: .kind); try c.encode(parent, forKey: .parent); try c.encode(createdAt, forKey: .createdAt)
        try c.encode(hasMemory, forKey: .hasMemory); try c.encode(diskBytes, forKey: .diskBytes); try c.encode(memoryBytes, forKey: .memoryBytes)
        try c.encode(pinned, forKey: .pinned); try c.encode(expiresAt, forKey: .expiresAt); try c.encode(state, forKey: .state)
        try c.encode(labels, forKey: .labels); try c.encode(guestPauseMs, forKey: .guestPauseMs)
        try c.encodeIfPresent(layers, forKey: .layers)
    }

    /// A list of snapshots as ``Output/encode(_:)`` prints `[SnapshotJSON]` (plus the final
    /// newline), streamed as `produce` hands snapshots over: `list --json`'s fast path.
    static func writeList<E: Error>(to w: inout JSONText, _ produce: ((SnapshotInfo) -> Void) throws(E) -> Void) throws(E) {
        var count = 0
        w.raw("[")
        try produce { info in
            w.raw(count == 0 ? "\n" : ",\n")
            SnapshotJSON(info).writeListElement(to: &w)
            count += 1
            w.flush()
        }
        w.raw(count == 0 ? "\n\n]\n" : "\n]\n")
        w.flush(threshold: 0)
    }

    /// What `list --json` prints for `infos`, built in memory by the streaming writer (for tests
    /// that hold it against ``Output/encode(_:)``).
    public static func streamedList(_ infos: [SnapshotInfo]) -> Data {
        var w = JSONText()
        writeList(to: &w) { emit in infos.forEach(emit) }
        return Data(w.bytes)
    }

    /// The object as JSONEncoder with `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`
    /// prints it as an element of a top-level array (keys in sorted order; empty arrays as
    /// `[\n\n<indent>]`). Every key with its punctuation is one literal: no per-key work.
    func writeListElement(to w: inout JSONText) {
        w.raw("  {\n    \"createdAt\" : "); w.date(createdAt)
        w.raw(",\n    \"description\" : "); w.string(description)
        w.raw(",\n    \"diskBytes\" : "); w.integer(diskBytes)
        w.raw(",\n    \"expiresAt\" : "); if let expiresAt { w.date(expiresAt) } else { w.raw("null") }
        w.raw(",\n    \"guestPauseMs\" : "); if let guestPauseMs { w.integer(guestPauseMs) } else { w.raw("null") }
        w.raw(",\n    \"hasMemory\" : "); w.raw(hasMemory ? "true" : "false")
        w.raw(",\n    \"id\" : "); w.string(id)
        w.raw(",\n    \"kind\" : "); w.string(kind)
        w.raw(",\n    \"labels\" : ")
        if labels.isEmpty {
            w.raw("[\n\n    ]")
        } else {
            w.raw("[\n")
            for (i, label) in labels.enumerated() { w.raw("      "); w.string(label); w.raw(i == labels.count - 1 ? "\n" : ",\n") }
            w.raw("    ]")
        }
        if let layers {
            w.raw(",\n    \"layers\" : ")
            let keys = layers.keys.sorted()
            if keys.isEmpty {
                w.raw("{\n\n    }")
            } else {
                w.raw("{\n")
                for (i, k) in keys.enumerated() {
                    w.raw("      "); w.string(k); w.raw(" : "); w.string(layers[k]!); w.raw(i == keys.count - 1 ? "\n" : ",\n")
                }
                w.raw("    }")
            }
        }
        w.raw(",\n    \"memoryBytes\" : "); w.integer(memoryBytes)
        w.raw(",\n    \"name\" : "); w.string(name)
        w.raw(",\n    \"parent\" : "); if let parent { w.string(parent) } else { w.raw("null") }
        w.raw(",\n    \"pinned\" : "); w.raw(pinned ? "true" : "false")
        w.raw(",\n    \"state\" : "); w.string(state)
        w.raw("\n  }")
    }
}
