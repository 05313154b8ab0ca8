import ArgumentParser
import SnapshotEngine

// Options with a fixed set of values are parsed straight into these enums, once. A value
// outside the set is refused while parsing (exit 64, before anything is opened) with
// ArgumentParser's message, which names the option and lists the accepted values.

/// `revert --start`.
extension StartMode: ExpressibleByArgument {}

/// `guard --on-failure`.
extension GuardFailurePolicy: ExpressibleByArgument {}

/// `hook add --phase`.
extension HookPhase: ExpressibleByArgument {}

/// `policy set --quiesce`.
extension QuiesceMode: ExpressibleByArgument {
    public static var allValueStrings: [String] { [QuiesceMode.off, .auto, .required].map(\.rawValue) }
}

/// `export-disk --format`: the image formats qemu-img writes for an exported disk.
enum DiskImageFormat: String, CaseIterable, ExpressibleByArgument {
    case qcow2, raw
}
