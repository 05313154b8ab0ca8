import ArgumentParser
import KVMSnapCore
import SnapshotEngine

/// An option with a fixed set of values, parsed straight into an enum, once. A value outside
/// the set is refused while parsing (exit 64, before anything is opened); the message is
/// ArgumentParser's, which names the option, followed by kvmsnap's own, e.g.
/// `--start must be running, paused or off`.
protocol OptionChoice: ExpressibleByArgument, RawRepresentable<String> {}

extension OptionChoice {
    /// The `transform` for `@Option`: `option` is the flag as the user types it (`--start`).
    static func parser(_ option: String) -> @Sendable (String) throws -> Self {
        { text in
            guard let value = Self(rawValue: text) else { throw ValidationError("\(option) must be \(alternatives)") }
            return value
        }
    }

    /// `a, b or c`.
    static var alternatives: String {
        let values = allValueStrings
        return values.count < 2 ? values.joined() : values.dropLast().joined(separator: ", ") + " or " + values[values.count - 1]
    }
}

/// `revert --start`.
extension StartMode: OptionChoice {}

/// `guard --on-failure`.
extension GuardFailurePolicy: OptionChoice {}

/// `hook add --phase`.
extension HookPhase: OptionChoice {}

/// `policy set --quiesce`.
extension QuiesceMode: OptionChoice {
    public static var allValueStrings: [String] { [QuiesceMode.off, .auto, .required].map(\.rawValue) }
}

/// `export-disk --format`: the image formats qemu-img writes for an exported disk.
enum DiskImageFormat: String, CaseIterable, OptionChoice {
    case qcow2, raw
}

/// `notify rule add --on`: every event but `test` (that one is `notify test`).
extension AlertEventType: OptionChoice {
    public static var allValueStrings: [String] { allCases.filter { $0 != .test }.map(\.rawValue) }
}
