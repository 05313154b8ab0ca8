import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine

/// The one output formatter: tables for people, JSON for scripts, progress bars on a TTY.
public enum Output {
    /// Prints `value` as JSON (``encode(_:)``) and a newline. Every `--json` output goes through
    /// here, except `list --json`'s stream (``jsonSnapshots(_:)``), which prints the same bytes.
    public static func json<T: Encodable>(_ value: T) {
        let data = (try? encode(value)) ?? Data("null".utf8)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// The one JSON encoding of kvmsnap's models (``SnapshotJSON``, ``JobJSON``, ``UsageJSON``,
    /// ``PlanJSON``, ...): pretty-printed, keys sorted, slashes unescaped, dates as ``isoUTC(_:)``.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(isoUTC(date))
        }
        return try encoder.encode(value)
    }

    /// Snapshot lists (`list --json`): the same bytes as `json(_:)` would print (pretty, sorted
    /// keys, unescaped slashes), written directly. JSONEncoder's generic boxing took seconds for
    /// 100,000 snapshots.
    /// Streams as `produce` hands snapshots over (no array of 100,000 rows in between).
    public static func jsonSnapshots<E: Error>(_ produce: ((SnapshotInfo) -> Void) throws(E) -> Void) throws(E) {
        var w = JSONText(to: FileHandle.standardOutput)
        try SnapshotJSON.writeList(to: &w, produce)
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
                text =
                    "\r\(stage.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                    + "[\(String(repeating: "#", count: filled))\(String(repeating: "-", count: max(0, width - filled)))] \(Int(fraction * 100))%"
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
