import Foundation

// Retention policy model: rules, durations, errors.
//
// The planning algorithm is borg 1.2's `prune` (borg/helpers/misc.py: `prune_within`,
// `prune_split`, `PRUNING_PATTERNS`); see `RetentionPlanner` for the exact semantics.

/// One retention rule. The raw value is the label used in decision reasons
/// (`within 7d`, `last #2`, `daily #3`, `weekly[oldest] #4`, ...).
///
/// `last` is borg's `--keep-last` (a.k.a. `--keep-secondly`): a period rule whose period is
/// one local-time second, so snapshots with equal timestamps share one period.
public enum RetentionRule: String, CaseIterable, Sendable, Codable, Hashable, CustomStringConvertible {
    case within, last, hourly, daily, weekly, monthly, yearly

    /// The period rules in the order they are applied (after `within`).
    public static let periodRules: [RetentionRule] = [.last, .hourly, .daily, .weekly, .monthly, .yearly]

    public var description: String { rawValue }

    /// The command-line spelling, e.g. `--keep-daily`.
    public var optionName: String { "--keep-\(rawValue)" }
}

/// Errors from validating a policy, parsing a duration, or planning.
public enum RetentionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No rule at all (no keep-within and every count is 0). borg refuses this too.
    case emptyPolicy
    /// A count below -1 (only -1, "unlimited", may be negative).
    case negativeCount(rule: RetentionRule, value: Int)
    /// A duration that cannot be parsed; `reason` says why.
    case badDuration(String, reason: String)
    /// An instant outside years 0000...9999 (or not finite); `what` names it (`now`, a snapshot).
    case dateOutOfRange(what: String)

    public var description: String {
        switch self {
        case .emptyPolicy:
            return "the retention policy is empty: set at least one of --keep-within, --keep-last, "
                + "--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly or --keep-yearly "
                + "(refusing to prune everything)"
        case .negativeCount(let rule, let value):
            return "\(rule.optionName) \(value) is invalid: the count must be 0 (off), a positive number, or -1 (unlimited)"
        case .badDuration(let text, let reason):
            return "invalid duration \"\(Bounds.clip(text))\": \(reason)"
        case .dateOutOfRange(let what):
            return "\(what) is outside the supported years 0000-9999"
        }
    }
}

/// A keep-within duration: a positive integer and a unit.
///
/// Units (borg 1.2 compatible, plus minutes):
/// - `min` minutes (kvmsnap extension; borg has no minutes),
/// - `h` (or borg's `H`) hours,
/// - `d` days (24 h), `w` weeks (7 d),
/// - `m` **months of exactly 31 days** (as borg: `m` is *not* minutes),
/// - `y` years of exactly 365 days.
///
/// Examples: `90min`, `36h`, `7d`, `2w`, `1m` (= 31 d), `1y` (= 365 d).
public struct RetentionDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Unit: String, Sendable, CaseIterable, Codable {
        case minutes = "min"
        case hours = "h"
        case days = "d"
        case weeks = "w"
        case months = "m"
        case years = "y"

        public var seconds: Int64 {
            switch self {
            case .minutes: 60
            case .hours: 3600
            case .days: 86_400
            case .weeks: 7 * 86_400
            case .months: 31 * 86_400
            case .years: 365 * 86_400
            }
        }
    }

    public let value: Int64
    public let unit: Unit

    /// The length in seconds.
    public var seconds: Int64 { value * unit.seconds }

    /// Normalised text, e.g. `36h`, `1m`, `90min`.
    public var description: String { "\(value)\(unit.rawValue)" }

    /// The longest duration old versions stored (any that fits in Int64 microseconds): stored
    /// policies are read with this limit so they stay readable; input is held to `Bounds`.
    static let storedMaximumSeconds = Int64.max / 1_000_000

    public init(_ value: Int64, _ unit: Unit) throws(RetentionError) {
        try self.init(value, unit, text: "\(value)\(unit.rawValue)", maximumSeconds: Bounds.maxDurationSeconds)
    }

    init(_ value: Int64, _ unit: Unit, text: String, maximumSeconds: Int64) throws(RetentionError) {
        guard value > 0 else { throw .badDuration(text, reason: "the number must be an integer greater than 0") }
        guard value <= maximumSeconds / unit.seconds else {
            throw .badDuration(
                text,
                reason: maximumSeconds == Bounds.maxDurationSeconds
                    ? "the duration is too long (at most \(Bounds.maxDurationText))" : "the duration is too long")
        }
        self.value = value
        self.unit = unit
    }

    static let unitHelp =
        "expected a positive integer followed by one of min (minutes), h (hours), d (days), "
        + "w (weeks), m (months of 31 days), y (years of 365 days), e.g. 90min, 36h, 7d, 2w, 1m, 1y"

    /// Parses user input: at most `Bounds.maxDurationSeconds` (100 years).
    public init(parsing text: String) throws(RetentionError) {
        try self.init(parsing: text, maximumSeconds: Bounds.maxDurationSeconds)
    }

    init(parsing text: String, maximumSeconds: Int64) throws(RetentionError) {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { throw .badDuration(text, reason: "empty duration; " + Self.unitHelp) }
        let digits = s.prefix(while: { $0.isASCII && $0.isNumber })
        let suffix = String(s.dropFirst(digits.count))
        guard !digits.isEmpty else {
            throw .badDuration(text, reason: "it must start with a positive integer; " + Self.unitHelp)
        }
        let unit: Unit
        switch suffix {
        case "min": unit = .minutes
        case "h", "H": unit = .hours
        case "d": unit = .days
        case "w": unit = .weeks
        case "m": unit = .months
        case "y": unit = .years
        case "":
            throw .badDuration(text, reason: "missing unit; " + Self.unitHelp)
        case "M", "mo", "mon", "month", "months":
            throw .badDuration(text, reason: "unknown unit \"\(suffix)\"; months are written m (31 days), minutes min")
        default:
            if suffix.first == "." || suffix.first == "," {
                throw .badDuration(text, reason: "the number must be an integer; " + Self.unitHelp)
            }
            throw .badDuration(text, reason: "unknown unit \"\(suffix)\"; " + Self.unitHelp)
        }
        guard let value = Int64(digits) else {
            throw .badDuration(text, reason: "the number is too large")
        }
        try self.init(value, unit, text: text, maximumSeconds: maximumSeconds)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try RetentionDuration(parsing: text, maximumSeconds: Self.storedMaximumSeconds)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What to keep. Counts: 0 = rule off, N > 0 = keep N periods, -1 = unlimited.
public struct RetentionPolicy: Sendable, Equatable, Codable {
    public var keepWithin: RetentionDuration?
    public var keepLast: Int
    public var keepHourly: Int
    public var keepDaily: Int
    public var keepWeekly: Int
    public var keepMonthly: Int
    public var keepYearly: Int

    public init(
        keepWithin: RetentionDuration? = nil, keepLast: Int = 0, keepHourly: Int = 0, keepDaily: Int = 0,
        keepWeekly: Int = 0, keepMonthly: Int = 0, keepYearly: Int = 0
    ) {
        self.keepWithin = keepWithin
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
    }

    /// The count for a period rule (0 for `.within`).
    public func count(for rule: RetentionRule) -> Int {
        switch rule {
        case .within: 0
        case .last: keepLast
        case .hourly: keepHourly
        case .daily: keepDaily
        case .weekly: keepWeekly
        case .monthly: keepMonthly
        case .yearly: keepYearly
        }
    }

    /// No rule at all: no keep-within and every count 0.
    public var isEmpty: Bool {
        keepWithin == nil && RetentionRule.periodRules.allSatisfy { count(for: $0) == 0 }
    }

    /// Refuses counts below -1 and the empty policy.
    public func validate() throws(RetentionError) {
        for rule in RetentionRule.periodRules {
            let n = count(for: rule)
            if n < -1 { throw .negativeCount(rule: rule, value: n) }
        }
        if isEmpty { throw .emptyPolicy }
    }

    enum CodingKeys: String, CodingKey {
        case keepWithin, keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keepWithin = try c.decodeIfPresent(RetentionDuration.self, forKey: .keepWithin)
        keepLast = try c.decodeIfPresent(Int.self, forKey: .keepLast) ?? 0
        keepHourly = try c.decodeIfPresent(Int.self, forKey: .keepHourly) ?? 0
        keepDaily = try c.decodeIfPresent(Int.self, forKey: .keepDaily) ?? 0
        keepWeekly = try c.decodeIfPresent(Int.self, forKey: .keepWeekly) ?? 0
        keepMonthly = try c.decodeIfPresent(Int.self, forKey: .keepMonthly) ?? 0
        keepYearly = try c.decodeIfPresent(Int.self, forKey: .keepYearly) ?? 0
    }
}
