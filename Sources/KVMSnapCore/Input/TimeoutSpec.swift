import Foundation

/// Command timeouts: `90` or `90s`, `10min`, `2h` (`m` is refused: in retention it means months);
/// at most `Bounds.maxDurationSeconds` (100 years).
public enum TimeoutSpec {
    public static func parse(_ text: String) throws(SpecError) -> Double {
        let s = text.trimmingCharacters(in: .whitespaces)
        let digits = s.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        let unit = s.dropFirst(digits.count)
        guard let value = Double(digits), value > 0 else {
            throw SpecError("bad duration '\(Bounds.clip(text))': expected a positive number with s, min or h, e.g. 30s, 10min, 2h")
        }
        let seconds: Double
        switch unit {
        case "", "s": seconds = value
        case "min": seconds = value * 60
        case "h": seconds = value * 3600
        default:
            throw SpecError("bad duration '\(Bounds.clip(text))': unit must be s, min or h (e.g. 30s, 10min, 2h)")
        }
        try validate(seconds, what: "duration '\(Bounds.clip(text))'")
        return seconds
    }

    /// ``parse(_:)`` as a `Duration`, for the engine's timeouts.
    public static func duration(_ text: String) throws(SpecError) -> Duration {
        .seconds(try parse(text))
    }

    /// Refuses a timeout that is not positive or longer than 100 years.
    public static func validate(_ timeout: Duration, what: String = "timeout") throws(SpecError) {
        guard timeout > .zero else { throw SpecError("\(what) must be positive") }
        guard timeout <= .seconds(Bounds.maxDurationSeconds) else {
            throw SpecError("\(what) is too long (at most \(Bounds.maxDurationText))")
        }
    }

    /// Refuses a timeout that is not positive, not finite or longer than 100 years.
    public static func validate(_ seconds: Double, what: String = "timeout") throws(SpecError) {
        guard seconds > 0, seconds.isFinite else { throw SpecError("\(what) must be positive") }
        guard seconds <= Double(Bounds.maxDurationSeconds) else {
            throw SpecError("\(what) is too long (at most \(Bounds.maxDurationText))")
        }
    }
}
