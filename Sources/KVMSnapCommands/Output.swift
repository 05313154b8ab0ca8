import Foundation
import KVMSnapCore
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

    /// Snapshot lists (`list --json`): the same bytes as `json(_:)` would print (pretty, sorted
    /// keys, unescaped slashes), written directly. JSONEncoder's generic boxing took seconds for
    /// 100,000 snapshots.
    /// Streams as `produce` hands snapshots over (no array of 100,000 rows in between).
    public static func jsonSnapshots<E: Error>(_ produce: ((SnapshotInfo) -> Void) throws(E) -> Void) throws(E) {
        var w = JSONText()
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

    /// One line for people: control characters in it (from names, descriptions, commands,
    /// messages) are shown escaped, so they can neither drive the terminal nor forge lines.
    public static func line(_ text: String = "") { print(TerminalText.escape(text)) }

    /// Notices go to stderr so stdout stays parseable.
    public static func notice(_ text: String) {
        FileHandle.standardError.write(Data("kvmsnap: \(TerminalText.escape(text))\n".utf8))
    }

    /// A table for people; every cell escaped as in ``line(_:)`` (a newline cannot add a row).
    public static func table(_ headers: [String], _ rows: [[String]]) {
        let rows = rows.map { $0.map(TerminalText.escape) }
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        print(tableLine(headers, widths: widths))
        for row in rows { print(tableLine(row, widths: widths)) }
    }

    /// One line of a table: each cell but the last padded to its column's width, two spaces apart.
    /// (A table too large to hold as rows computes its widths first and writes line by line.)
    public static func tableLine(_ cells: [String], widths: [Int]) -> String {
        cells.enumerated().map { i, cell in
            i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }

    /// `2026-11-22T04:14:22Z` (whole seconds, truncated), as ISO8601DateFormatter's
    /// `.withInternetDateTime` in UTC prints it, but with libc's `gmtime_r`: creating an ICU
    /// formatter per call cost ~0.1 ms, which dominated `list --json` on large catalogs.
    public static func isoUTC(_ date: Date) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(20)
        guard appendISOUTC(date, to: &out) else {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            formatter.timeZone = TimeZone(identifier: "UTC")
            return formatter.string(from: date)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `isoUTC(date)`'s bytes; false (nothing appended) outside years 0...9999.
    static func appendISOUTC(_ date: Date, to out: inout [UInt8]) -> Bool {
        // Years 0...9999 only (a corrupt catalog value must not trap in the conversion).
        let interval = date.timeIntervalSince1970
        guard interval.isFinite, interval > -62_200_000_000, interval < 253_500_000_000 else { return false }
        var seconds = time_t(interval.rounded(.down))
        var t = tm()
        guard gmtime_r(&seconds, &t) != nil, t.tm_year + 1900 >= 0, t.tm_year + 1900 <= 9999 else { return false }
        func put(_ value: Int32, _ width: Int) {
            var divisor: Int32 = width == 4 ? 1000 : 10
            var v = value
            while divisor > 0 { out.append(UInt8(ascii: "0") + UInt8(v / divisor)); v %= divisor; divisor /= 10 }
        }
        put(t.tm_year + 1900, 4); out.append(UInt8(ascii: "-")); put(t.tm_mon + 1, 2); out.append(UInt8(ascii: "-")); put(t.tm_mday, 2)
        out.append(UInt8(ascii: "T")); put(t.tm_hour, 2); out.append(UInt8(ascii: ":")); put(t.tm_min, 2); out.append(UInt8(ascii: ":"))
        put(t.tm_sec, 2); out.append(UInt8(ascii: "Z"))
        return true
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
            let stage = TerminalText.escape(stage)
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
        if labels.isEmpty { w.raw("[\n\n    ]") } else {
            w.raw("[\n")
            for (i, label) in labels.enumerated() { w.raw("      "); w.string(label); w.raw(i == labels.count - 1 ? "\n" : ",\n") }
            w.raw("    ]")
        }
        if let layers {
            w.raw(",\n    \"layers\" : ")
            let keys = layers.keys.sorted()
            if keys.isEmpty { w.raw("{\n\n    }") } else {
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

/// A UTF-8 buffer with JSON string escaping as JSONEncoder does it (`/` unescaped), flushed to
/// stdout in 1 MiB chunks.
struct JSONText {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(1 << 21) }
    mutating func raw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    mutating func integer(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: enough for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var i = buffer.count
            repeat { i -= 1; buffer[i] = UInt8(ascii: "0") + UInt8(magnitude % 10); magnitude /= 10 } while magnitude > 0
            bytes.append(contentsOf: buffer[i...])
        }
    }
    /// A date as a JSON string, the way `Output.json` encodes dates.
    mutating func date(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        if Output.appendISOUTC(date, to: &bytes) { bytes.append(UInt8(ascii: "\"")) } else {
            bytes.removeLast()
            string(Output.isoUTC(date))
        }
    }
    mutating func string(_ s: String) {
        var s = s
        bytes.append(UInt8(ascii: "\""))
        s.withUTF8 { buffer in
            if !buffer.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { bytes.append(contentsOf: buffer); return }
            for b in buffer {
                switch b {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0x00..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                default: bytes.append(b)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
    /// Writes what is buffered when it exceeds `threshold` bytes (all of it with 0).
    mutating func flush(threshold: Int = 1 << 20) {
        guard bytes.count > threshold else { return }
        bytes.withUnsafeBytes { FileHandle.standardOutput.write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0.baseAddress!), count: $0.count, deallocator: .none)) }
        bytes.removeAll(keepingCapacity: true)
    }
}
