import Foundation
import SnapshotCatalog
import SnapshotEngine

/// The one output formatter: tables for people, JSON for scripts, progress bars on a TTY.
public enum Output {
    public static func json<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(isoUTC(date))
        }
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    public static func line(_ text: String = "") { print(text) }

    /// Notices go to stderr so stdout stays parseable.
    public static func notice(_ text: String) {
        FileHandle.standardError.write(Data("kvmsnap: \(text)\n".utf8))
    }

    public static func table(_ headers: [String], _ rows: [[String]]) {
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(render(headers))
        for row in rows { print(render(row)) }
    }

    public static func isoUTC(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    public static func localTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = .current
        return formatter.string(from: date)
    }

    public static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(value)
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(value) B" : String(format: "%.1f %@", v, units[i])
    }

    /// A progress handler drawing a bar on stderr when it is a TTY and JSON is off; else nil.
    public static func progressBar(json: Bool) -> ProgressHandler? {
        guard !json, isatty(STDERR_FILENO) == 1 else { return nil }
        return { stage, fraction in
            let width = 30
            let text: String
            if let fraction {
                let filled = Int((fraction * Double(width)).rounded())
                text = "\r\(stage.padding(toLength: 16, withPad: " ", startingAt: 0)) [\(String(repeating: "#", count: filled))\(String(repeating: "-", count: max(0, width - filled)))] \(Int(fraction * 100))%"
            } else {
                text = "\r\(stage.padding(toLength: 16, withPad: " ", startingAt: 0)) ..." + String(repeating: " ", count: width)
            }
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Ends a progress line so the next output starts clean.
    public static func endProgress(_ handler: ProgressHandler?) {
        if handler != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

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
}
