/// The stages of a restore, in order. Pure: which stages run depends only on the options.
public enum RestoreStage: String, Sendable, CaseIterable, Codable {
    case validate
    case safetySnapshot = "safety-snapshot"
    case stop
    case revert
    case start
    case verify
}

/// What the VM should look like when the restore is done.
public enum RestoreTarget: String, Sendable, Codable {
    case running, paused, off
}

/// The plan of one restore: its stages and the state the VM must end in.
public struct RestorePlan: Sendable, Equatable {
    public var stages: [RestoreStage]
    public var target: RestoreTarget
    /// True when the snapshot's memory is loaded (it has memory and the VM is started).
    public var restoresMemory: Bool

    public init(safetySnapshot: Bool, target: RestoreTarget, snapshotHasMemory: Bool) {
        self.target = target
        restoresMemory = snapshotHasMemory && target != .off
        var stages: [RestoreStage] = [.validate]
        if safetySnapshot { stages.append(.safetySnapshot) }
        stages += [.stop, .revert]
        if target != .off { stages.append(.start) }
        stages.append(.verify)
        self.stages = stages
    }

    /// The typed confirmation must equal the VM's name exactly (case-sensitive, no trimming
    /// beyond the line ending the terminal adds).
    public static func confirmationMatches(typed: String, vmName: String) -> Bool {
        // Work on scalars: "\r\n" is one Character, so hasSuffix("\n") would miss it.
        var scalars = Substring(typed).unicodeScalars
        while let last = scalars.last, last == "\n" || last == "\r" { scalars.removeLast() }
        return String(scalars) == vmName
    }
}
