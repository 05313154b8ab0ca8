import Foundation

/// What an alert is about: the closed set of events a rule can name (`notify rule add --on`).
public enum AlertEventType: String, Sendable, CaseIterable, Codable {
    /// A job of any kind ended failed (create, delete, restore, run-due, send, ...).
    case failedJob = "failed-job"
    /// A restore drill failed a check (emitted by drills).
    case drillFailed = "drill-failed"
    /// A restore drill passed every check (emitted by drills).
    case drillPassed = "drill-passed"
    /// `vault verify` found errors (or could not read the vault).
    case vaultVerifyFailed = "vault-verify-failed"
    /// A VM's newest restore point (local snapshot or vault copy) is older than a rule's threshold.
    case staleRestorePoint = "stale-restore-point"
    /// `notify test`: no rule names it.
    case test
}

/// Where a restore point lives, for staleness and the age metric.
public enum RestorePointTier: String, Sendable, CaseIterable, Codable {
    case local
    case vault
}

/// One event to tell someone about: the values every payload is rendered from
/// (``AlertRendering``). Stored as JSON in the catalog's outbox, so a delivery after a crash
/// sends exactly what was recorded.
public struct AlertEvent: Sendable, Equatable, Codable {
    /// The failed job, for `failed-job`.
    public struct Job: Sendable, Equatable, Codable {
        public var id: Int64
        public var kind: String
        public var stage: String?
        public var error: String?
        public init(id: Int64, kind: String, stage: String?, error: String?) {
            self.id = id; self.kind = kind; self.stage = stage; self.error = error
        }
    }

    public var type: AlertEventType
    public var vm: String?
    public var vmUUID: String?
    public var snapshot: String?
    public var job: Job?
    /// The vault, for `vault-verify-failed` (and vault staleness).
    public var vault: String?
    /// The tier and age, for `stale-restore-point` (age nil: the VM has no restore point there).
    public var tier: RestorePointTier?
    public var ageSeconds: Double?
    /// The machine kvmsnap runs on.
    public var host: String
    public var time: Date
    /// One line for a subject or notification title, e.g. `job failed: create on web01`.
    public var title: String
    /// The whole text for a person (several lines).
    public var message: String

    public init(type: AlertEventType, host: String, time: Date, title: String, message: String) {
        self.type = type; self.host = host; self.time = time; self.title = title; self.message = message
    }

    /// A failed job: title `job failed: KIND on VM`, the message names the snapshot, stage and error.
    public static func failedJob(_ job: Job, vm: String?, vmUUID: String?, snapshot: String?, host: String, time: Date) -> AlertEvent {
        let on = vm.map { " on \($0)" } ?? ""
        var lines = ["kvmsnap job \(job.id) (\(job.kind))\(on) failed on host \(host)."]
        if let snapshot { lines.append("Snapshot: \(snapshot)") }
        if let stage = job.stage { lines.append("Stage: \(stage)") }
        lines.append("Error: \(job.error ?? "unknown")")
        var event = AlertEvent(type: .failedJob, host: host, time: time, title: "job failed: \(job.kind)\(on)", message: lines.joined(separator: "\n"))
        event.vm = vm; event.vmUUID = vmUUID; event.snapshot = snapshot; event.job = job
        return event
    }

    /// A stale restore point found by ``Staleness``.
    public static func stale(_ finding: StaleFinding, vm: String, vmUUID: String, host: String, time: Date) -> AlertEvent {
        let threshold = Staleness.describe(seconds: finding.thresholdSeconds)
        let kindOfPoint = finding.tier == .local ? "local snapshot" : "vault copy"
        let detail: String
        if let age = finding.ageSeconds, let newest = finding.newestName {
            detail = "The newest \(kindOfPoint) of \(vm) is '\(newest)', \(Staleness.describe(seconds: age)) old (threshold \(threshold))."
        } else {
            detail = "\(vm) has no ready \(kindOfPoint) at all (threshold \(threshold))."
        }
        var event = AlertEvent(
            type: .staleRestorePoint, host: host, time: time, title: "stale restore point: \(vm) (\(finding.tier.rawValue))",
            message: detail + "\nHost: \(host)")
        event.vm = vm; event.vmUUID = vmUUID; event.snapshot = finding.newestName
        event.tier = finding.tier; event.ageSeconds = finding.ageSeconds
        return event
    }

    /// `vault verify NAME` reported errors.
    public static func vaultVerifyFailed(vault: String, errors: [String], host: String, time: Date) -> AlertEvent {
        let shown = errors.prefix(20).map { "- \($0)" }
        let more = errors.count > 20 ? ["... and \(errors.count - 20) more"] : []
        var event = AlertEvent(
            type: .vaultVerifyFailed, host: host, time: time, title: "vault verify failed: \(vault)",
            message: (["vault verify of '\(vault)' on host \(host) found \(errors.count) error(s):"] + shown + more).joined(separator: "\n"))
        event.vault = vault
        return event
    }

    /// A drill's result (for the drills to emit): `drill passed: VM` / `drill failed: VM`.
    public static func drill(passed: Bool, vm: String, vmUUID: String?, snapshot: String?, detail: String, host: String, time: Date) -> AlertEvent {
        var event = AlertEvent(
            type: passed ? .drillPassed : .drillFailed, host: host, time: time,
            title: "drill \(passed ? "passed" : "failed"): \(vm)", message: detail)
        event.vm = vm; event.vmUUID = vmUUID; event.snapshot = snapshot
        return event
    }

    /// `notify test TARGET`.
    public static func test(target: String, host: String, time: Date) -> AlertEvent {
        AlertEvent(
            type: .test, host: host, time: time, title: "test notification",
            message: "This is a test from kvmsnap on \(host) to target '\(target)'. If you read this, alerts reach you.")
    }
}
