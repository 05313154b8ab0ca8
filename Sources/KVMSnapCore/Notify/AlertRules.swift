import Foundation

/// A rule as the decisions need it: which event, for which VM (nil: every VM), and for
/// `stale-restore-point` the age threshold.
public struct AlertRuleSpec: Sendable, Equatable {
    public var id: Int64
    public var target: String
    public var event: AlertEventType
    public var vm: String?
    public var olderThanSeconds: Double?
    public init(id: Int64, target: String, event: AlertEventType, vm: String?, olderThanSeconds: Double?) {
        self.id = id; self.target = target; self.event = event; self.vm = vm; self.olderThanSeconds = olderThanSeconds
    }

    /// The threshold a stale-restore-point rule uses when none was given.
    public static let defaultStaleSeconds: Double = 36 * 3600

    /// True when `event` is what this rule asks for: the same type and, when the rule names a VM,
    /// that VM (by name or UUID, case-insensitive for the UUID).
    public func matches(_ event: AlertEvent) -> Bool {
        guard event.type == self.event else { return false }
        guard let vm else { return true }
        return event.vm == vm || (event.vmUUID != nil && event.vmUUID?.lowercased() == vm.lowercased())
    }

    /// True when this rule covers VM `name`/`uuid` (no VM named: every VM).
    public func covers(vm name: String, uuid: String) -> Bool {
        guard let vm else { return true }
        return vm == name || vm.lowercased() == uuid.lowercased()
    }
}

/// The key that makes an event happen once in the catalog (a unique column): a failed job once
/// per job id; a stale restore point once per rule, VM, tier and newest restore point (a
/// staleness episode ends when a newer restore point appears); a verify failure once per vault
/// and verify run.
public enum AlertDedupKey {
    public static func failedJob(jobID: Int64) -> String { "failed-job:\(jobID)" }

    public static func stale(ruleID: Int64, vmUUID: String, finding: StaleFinding) -> String {
        "stale-restore-point:\(ruleID):\(vmUUID.lowercased()):\(finding.tier.rawValue):\(finding.newestID ?? "none")"
    }

    public static func vaultVerify(vault: String, at time: Date) -> String {
        "vault-verify-failed:\(vault):\(Int64(time.timeIntervalSince1970 * 1000))"
    }

    public static func drill(vmUUID: String, passed: Bool, runID: String) -> String {
        "drill-\(passed ? "passed" : "failed"):\(vmUUID.lowercased()):\(runID)"
    }
}

/// What ``Staleness/decide(tier:newest:now:thresholdSeconds:)`` found: the tier is stale.
public struct StaleFinding: Sendable, Equatable {
    public var tier: RestorePointTier
    /// The newest restore point (nil: there is none).
    public var newestID: String?
    public var newestName: String?
    /// Its age at the check (nil: there is none).
    public var ageSeconds: Double?
    public var thresholdSeconds: Double
    public init(tier: RestorePointTier, newestID: String?, newestName: String?, ageSeconds: Double?, thresholdSeconds: Double) {
        self.tier = tier; self.newestID = newestID; self.newestName = newestName; self.ageSeconds = ageSeconds; self.thresholdSeconds = thresholdSeconds
    }
}

/// The newest restore point of one VM in one tier, as the check reads it from the catalog.
public struct RestorePoint: Sendable, Equatable {
    public var id: String
    public var name: String
    public var time: Date
    public init(id: String, name: String, time: Date) { self.id = id; self.name = name; self.time = time }
}

/// The staleness decision, pure.
public enum Staleness {
    /// Stale when there is no restore point, or the newest is older than the threshold
    /// (strictly: exactly the threshold is not stale yet). Nil: fresh.
    public static func decide(tier: RestorePointTier, newest: RestorePoint?, now: Date, thresholdSeconds: Double) -> StaleFinding? {
        guard let newest else {
            return StaleFinding(tier: tier, newestID: nil, newestName: nil, ageSeconds: nil, thresholdSeconds: thresholdSeconds)
        }
        let age = now.timeIntervalSince(newest.time)
        guard age > thresholdSeconds else { return nil }
        return StaleFinding(tier: tier, newestID: newest.id, newestName: newest.name, ageSeconds: age, thresholdSeconds: thresholdSeconds)
    }

    /// `36h`, `2d 3h`, `45min`, `12s`: a person's reading of an age.
    public static func describe(seconds: Double) -> String {
        let s = Int64(max(0, seconds.rounded()))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)min" }
        if s < 3 * 86_400 { return "\(s / 3600)h" }
        let hours = s % 86_400 / 3600
        return hours == 0 ? "\(s / 86_400)d" : "\(s / 86_400)d \(hours)h"
    }
}

/// When a failed delivery is tried again: exponential backoff from 30 s, doubling, capped at
/// one hour; after ``maxAttempts`` it is given up (and shown as failed, never dropped).
public enum DeliveryBackoff {
    public static let maxAttempts = 12
    public static let firstDelay: Double = 30
    public static let maxDelay: Double = 3600

    /// The delay after the `attempts`-th failed attempt (1-based).
    public static func delay(afterAttempt attempts: Int) -> Double {
        let exponent = min(max(attempts - 1, 0), 20)
        return min(firstDelay * pow(2, Double(exponent)), maxDelay)
    }

    /// Nil when the delivery is given up after `attempts` failed attempts.
    public static func nextAttempt(after attempts: Int, now: Date) -> Date? {
        attempts >= maxAttempts ? nil : now.addingTimeInterval(delay(afterAttempt: attempts))
    }
}
