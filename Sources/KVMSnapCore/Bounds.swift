import Foundation

/// The ranges of dates and durations kvmsnap accepts from users, timelines and its catalog.
///
/// Anything outside is refused on input (exit 64), so no arithmetic on these values can
/// overflow (a trap, exit 132) and every stored date stays readable:
/// - durations (`--keep-within`, `--expires 14d`, `--grace`, `--timeout`): at most 100 years;
/// - instants in retention timelines and `--now`: years 0000...9999 (UTC), what ISO 8601's
///   four-digit year can say;
/// - dates stored in the catalog (`--expires`): years 1970...9999 (UTC).
public enum Bounds {
    /// 100 years of 365 days, in seconds.
    public static let maxDurationSeconds: Int64 = 100 * 365 * 86_400
    /// Human text for error messages.
    public static let maxDurationText = "100 years"

    /// 0000-01-01T00:00:00Z.
    public static let earliestInstant = Date(timeIntervalSince1970: -62_167_219_200)
    /// 9999-12-31T23:59:59.999Z (a Double this large has no microseconds left to give).
    public static let latestInstant = Date(timeIntervalSince1970: 253_402_300_799.999)
    /// 1970-01-01T00:00:00Z: the earliest date kvmsnap stores.
    public static let earliestStoredDate = Date(timeIntervalSince1970: 0)

    /// The longest free text taken from an option and stored or run (a cron schedule, a guest
    /// command), in bytes: beyond it the text is a mistake or an attack, never a setting.
    public static let maxOptionText = 1024

    /// Why `text`, given as `option`, is refused (longer than ``maxOptionText`` bytes); nil when it is not.
    public static func optionTextProblem(_ text: String, option: String) -> String? {
        let bytes = text.utf8.count
        return bytes > maxOptionText ? "\(option) is \(bytes) bytes long: at most \(maxOptionText) are accepted" : nil
    }

    /// True for a finite instant in years 0000...9999 (UTC).
    public static func isSupportedInstant(_ date: Date) -> Bool {
        let t = date.timeIntervalSince1970
        return t.isFinite && t >= earliestInstant.timeIntervalSince1970 && t <= latestInstant.timeIntervalSince1970
    }

    /// True for a date kvmsnap may store in its catalog: years 1970...9999 (UTC).
    public static func isStorableDate(_ date: Date) -> Bool {
        isSupportedInstant(date) && date >= earliestStoredDate
    }

    /// `text` cut to `limit` characters (with `…`), for echoing input in a one-line error.
    public static func clip(_ text: String, _ limit: Int = 40) -> String {
        text.count > limit ? String(text.prefix(limit)) + "…" : text
    }

    /// `base` plus `seconds`, or nil when the result leaves years 0000...9999 (or either is not finite).
    public static func instant(_ base: Date, plus seconds: Double) -> Date? {
        guard seconds.isFinite, isSupportedInstant(base) else { return nil }
        let result = base.addingTimeInterval(seconds)
        return isSupportedInstant(result) ? result : nil
    }
}
