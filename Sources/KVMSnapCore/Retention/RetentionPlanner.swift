import Foundation

/// Lifecycle state of a snapshot as far as retention is concerned.
public enum CandidateState: String, Sendable, Codable, CaseIterable {
    /// Complete and usable: takes part in retention.
    case ready
    /// A capture job is still running: left alone.
    case pending
    /// The capture failed: always pruned (unless pinned).
    case failed
    /// A delete/merge job is running: left alone.
    case deleting
}

/// One snapshot offered to the planner.
public struct RetentionCandidate: Sendable, Equatable {
    /// Opaque identity (snapshot id or name); echoed in the decision.
    public var id: String
    public var name: String
    public var createdAt: Date
    public var pinned: Bool
    public var expiresAt: Date?
    public var state: CandidateState

    public init(
        id: String, name: String, createdAt: Date, pinned: Bool = false, expiresAt: Date? = nil,
        state: CandidateState = .ready
    ) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.pinned = pinned
        self.expiresAt = expiresAt
        self.state = state
    }

    /// Convenience: `id` = `name`.
    public init(name: String, createdAt: Date, pinned: Bool = false, expiresAt: Date? = nil, state: CandidateState = .ready) {
        self.init(id: name, name: name, createdAt: createdAt, pinned: pinned, expiresAt: expiresAt, state: state)
    }
}

/// The planner's verdict on one candidate.
public struct RetentionDecision: Sendable, Equatable {
    public enum Action: String, Sendable, Codable {
        case keep, prune
        /// A job is running on it (`pending`/`deleting`): neither kept by policy nor pruned.
        case leaveAlone
    }

    public var id: String
    public var name: String
    public var action: Action
    /// Why: `pinned`, `expires <date>`, `expired <date>`, `failed`, `in progress`,
    /// `within <duration>`, `<rule> #k`, `<rule>[oldest] #k`; nil for a snapshot no rule kept.
    public var reason: String?
    /// The tier rule that kept it (nil for overrides and pruned snapshots).
    public var rule: RetentionRule?
    /// `k` in `<rule> #k` (nil for `within` and overrides).
    public var ordinal: Int?
    /// True when kept by a rule's oldest-snapshot fallback (`<rule>[oldest] #k`).
    public var isOldestFallback: Bool

    public var keep: Bool { action == .keep }

    public init(
        id: String, name: String, action: Action, reason: String?, rule: RetentionRule? = nil,
        ordinal: Int? = nil, isOldestFallback: Bool = false
    ) {
        self.id = id
        self.name = name
        self.action = action
        self.reason = reason
        self.rule = rule
        self.ordinal = ordinal
        self.isOldestFallback = isOldestFallback
    }
}

/// A complete plan: one decision per candidate, in input order.
public struct RetentionPlan: Sendable, Equatable {
    public var decisions: [RetentionDecision]
    /// How many snapshots each tier rule kept (the `[oldest]` fallback counts for its rule).
    public var keptByRule: [RetentionRule: Int]

    public var kept: [RetentionDecision] { decisions.filter { $0.action == .keep } }
    public var pruned: [RetentionDecision] { decisions.filter { $0.action == .prune } }
    public var leftAlone: [RetentionDecision] { decisions.filter { $0.action == .leaveAlone } }
}

/// The retention planner: borg 1.2's `prune` algorithm plus kvmsnap's overrides. Pure and
/// deterministic; O(n log n).
///
/// ## Overrides (decided first, in this precedence)
/// 1. `pending` / `deleting` → `.leaveAlone` (`in progress`): a job owns it.
/// 2. pinned → keep (`pinned`), whatever its state or expiry.
/// 3. `failed` → prune (`failed`).
/// 4. `expiresAt` set: in the future (> `now`) → keep (`expires <date>`); otherwise → prune
///    (`expired <date>`).
///
/// Snapshots decided by an override are **excluded from the tier walk**: they neither count
/// toward any rule nor occupy a period. The tiers therefore behave exactly like borg's prune over
/// the remaining snapshots (ready, unpinned, without explicit expiry) — "the tier set".
///
/// ## Tiers (borg 1.2, `borg/helpers/misc.py`)
/// The tier set is sorted newest first. Timestamps are compared at microsecond resolution
/// (borg stores archive times with microseconds). **Ties** (equal timestamps) are ordered by
/// name *descending*, then id descending (code-point order, as Python compares strings), then
/// input position descending (only for exact duplicates): this is exactly what borg does for a repository whose
/// manifest lists the archives in ascending name order, because `Archives.list(sort_by=['ts'],
/// reverse=True)` sorts ascending (stable) and then reverses the list, and `prune_split` re-sorts
/// stably. With names that grow with creation time this means "the later-created one counts as
/// newer". Input order never matters.
///
/// - `keep-within D`: keeps every snapshot with `createdAt > now − D` (strictly), reason
///   `within D`. It runs first.
/// - then `last` (one-second periods), `hourly`, `daily`, `weekly` (ISO `%G-%V`), `monthly`,
///   `yearly`, in this order, each with N ≠ 0: walk newest → oldest computing the period of each
///   snapshot in local time (`timeZone`). A snapshot starts a new period when its key differs from
///   the *previous snapshot's* key (borg compares with the last key only). The first snapshot of a
///   new period is kept (`<rule> #k`) and counted unless an earlier rule already kept it — then the
///   period is skipped, uncounted. The walk stops once N are kept (-1: never).
/// - Oldest fallback: if the walk ran to the end with fewer than N kept (N > 0), the oldest
///   snapshot of the tier set is kept as `<rule>[oldest] #k` unless something already kept it.
/// - Everything else in the tier set is pruned (reason nil).
///
/// Local time: each instant is converted with the offset valid at that instant, so during a DST
/// fall-back the repeated hour maps to the same `hourly` period (as in borg, via `localtime`).
public enum RetentionPlanner {
    // Long on purpose: the steps above share a handful of flat arrays indexed by sorted position
    // (micros, local time, kept rule and ordinal), tuned for 100k-snapshot timelines; split up,
    // each piece would take and return all of them. The property tests and the borg oracle
    // test cover it as a whole.
    public static func plan(
        _ candidates: [RetentionCandidate], policy: RetentionPolicy, now: Date,
        timeZone: TimeZone = .current
    ) throws(RetentionError) -> RetentionPlan {
        try policy.validate()
        // Every instant in years 0000...9999: their microseconds, period keys and differences
        // then fit in Int64 with room to spare (no arithmetic below can trap).
        guard Bounds.isSupportedInstant(now) else { throw .dateOutOfRange(what: "now") }
        for c in candidates {
            guard Bounds.isSupportedInstant(c.createdAt) else { throw .dateOutOfRange(what: "snapshot \"\(c.name)\" createdAt") }
            if let e = c.expiresAt, !Bounds.isSupportedInstant(e) { throw .dateOutOfRange(what: "snapshot \"\(c.name)\" expiresAt") }
        }
        let nowMicros = microseconds(now)

        var decisions = [RetentionDecision]()
        decisions.reserveCapacity(candidates.count)
        var tierIndices = [Int]()
        tierIndices.reserveCapacity(candidates.count)

        for (i, c) in candidates.enumerated() {
            if c.state == .pending || c.state == .deleting {
                decisions.append(.init(id: c.id, name: c.name, action: .leaveAlone, reason: "in progress"))
            } else if c.pinned {
                decisions.append(.init(id: c.id, name: c.name, action: .keep, reason: "pinned"))
            } else if c.state == .failed {
                decisions.append(.init(id: c.id, name: c.name, action: .prune, reason: "failed"))
            } else if let expiry = c.expiresAt {
                if microseconds(expiry) > nowMicros {
                    decisions.append(.init(id: c.id, name: c.name, action: .keep, reason: "expires \(Timestamp.format(expiry))"))
                } else {
                    decisions.append(.init(id: c.id, name: c.name, action: .prune, reason: "expired \(Timestamp.format(expiry))"))
                }
            } else {
                decisions.append(.init(id: c.id, name: c.name, action: .prune, reason: nil))
                tierIndices.append(i)
            }
        }

        var keptByRule: [RetentionRule: Int] = [:]
        let n = tierIndices.count
        guard n > 0 else { return RetentionPlan(decisions: decisions, keptByRule: keptByRule) }

        // Sort the tier set newest first (ties: name desc, id desc, input index desc).
        var micros = [Int64](repeating: 0, count: n)
        for (k, i) in tierIndices.enumerated() { micros[k] = microseconds(candidates[i].createdAt) }
        var order = Array(0..<n)
        micros.withUnsafeBufferPointer { m in
            order.sort { a, b in m[a] != m[b] ? m[a] > m[b] : a > b }
            // Runs of equal timestamps: name desc, then id desc, then input position desc.
            var start = 0
            while start < n {
                var end = start + 1
                while end < n && m[order[end]] == m[order[start]] { end += 1 }
                if end - start > 1 {
                    var run = order[start..<end].map { k in
                        let name = candidates[tierIndices[k]].name
                        return (prefix: utf8Prefix(name), name: name, k: k)
                    }
                    run.sort { x, y in
                        if x.prefix != y.prefix { return x.prefix > y.prefix }
                        if !x.name.utf8.elementsEqual(y.name.utf8) { return !x.name.utf8.lexicographicallyPrecedes(y.name.utf8) }
                        let ix = candidates[tierIndices[x.k]].id, iy = candidates[tierIndices[y.k]].id
                        if !ix.utf8.elementsEqual(iy.utf8) { return !ix.utf8.lexicographicallyPrecedes(iy.utf8) }
                        return x.k > y.k
                    }
                    for (offset, item) in run.enumerated() { order[start + offset] = item.k }
                }
                start = end
            }
        }

        // Local wall-clock seconds per sorted position (computed oldest first: one Foundation
        // call per time-zone transition).
        var local = [Int64](repeating: 0, count: n)
        var converter = LocalTimeConverter(timeZone: timeZone)
        for p in stride(from: n - 1, through: 0, by: -1) {
            let utc = CivilTime.floorDiv(micros[order[p]], 1_000_000)  // time.localtime floors
            local[p] = converter.localSeconds(atUTC: utc)
        }

        // keptRule[p]: index into RetentionRule.allCases, or -1.
        var keptRule = [Int8](repeating: -1, count: n)
        var keptOrdinal = [Int32](repeating: 0, count: n)
        var fallbackAt = [RetentionRule: Int]()
        let ruleIndex = Dictionary(uniqueKeysWithValues: RetentionRule.allCases.enumerated().map { ($1, Int8($0)) })

        if let within = policy.keepWithin {
            // A stored policy may hold a keep-within longer than `Bounds` allows: saturate.
            let (span, spanOverflow) = within.seconds.multipliedReportingOverflow(by: 1_000_000)
            let (difference, differenceOverflow) = nowMicros.subtractingReportingOverflow(span)
            let threshold = spanOverflow || differenceOverflow ? Int64.min : difference
            var count = 0
            for p in 0..<n where micros[order[p]] > threshold {
                count += 1
                keptRule[p] = ruleIndex[.within]!
                keptOrdinal[p] = Int32(truncatingIfNeeded: count)
            }
            if count > 0 { keptByRule[.within] = count }
        }

        for rule in RetentionRule.periodRules {
            let target = policy.count(for: rule)
            if target == 0 { continue }
            let ri = ruleIndex[rule]!
            var last: Int64? = nil
            var count = 0
            var reachedTarget = false
            for p in 0..<n {
                let key = PeriodKey.key(rule, localSeconds: local[p])
                if key != last {
                    last = key
                    if keptRule[p] < 0 {
                        count += 1
                        keptRule[p] = ri
                        keptOrdinal[p] = Int32(truncatingIfNeeded: count)
                        if count == target { reachedTarget = true; break }
                    }
                }
            }
            if !reachedTarget && count < target && keptRule[n - 1] < 0 {
                count += 1
                keptRule[n - 1] = ri
                keptOrdinal[n - 1] = Int32(truncatingIfNeeded: count)
                fallbackAt[rule] = n - 1
            }
            if count > 0 { keptByRule[rule] = count }
        }

        let rules = RetentionRule.allCases
        let withinText = policy.keepWithin.map { "within \($0)" }
        for p in 0..<n where keptRule[p] >= 0 {
            let i = tierIndices[order[p]]
            let rule = rules[Int(keptRule[p])]
            let ordinal = Int(keptOrdinal[p])
            if rule == .within {
                decisions[i].action = .keep
                decisions[i].reason = withinText
                decisions[i].rule = .within
            } else {
                let fallback = p == n - 1 && fallbackAt[rule] == p
                decisions[i].action = .keep
                decisions[i].reason = fallback ? "\(rule.rawValue)[oldest] #\(ordinal)" : "\(rule.rawValue) #\(ordinal)"
                decisions[i].rule = rule
                decisions[i].ordinal = ordinal
                decisions[i].isOldestFallback = fallback
            }
        }
        return RetentionPlan(decisions: decisions, keptByRule: keptByRule)
    }

    /// The first 8 UTF-8 bytes, big-endian: comparing these orders like the bytes themselves.
    @inline(__always)
    static func utf8Prefix(_ s: String) -> UInt64 {
        var v: UInt64 = 0
        var count = 0
        for byte in s.utf8 {
            v = v << 8 | UInt64(byte)
            count += 1
            if count == 8 { return v }
        }
        return v << (8 * UInt64(8 - count))
    }

    /// Microseconds since 1970, rounded to the nearest microsecond.
    @inline(__always)
    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}
