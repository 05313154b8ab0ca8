import Foundation
@testable import KVMSnapCore

/// Deterministic RNG for reproducible random cases (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func utc(_ text: String) -> Date {
    switch Timestamp.parse(text) {
    case .success(let d): return d
    case .failure(let e): fatalError("bad test timestamp: \(e)")
    }
}

func tz(_ id: String) -> TimeZone {
    guard let z = TimeZone(identifier: id) else { fatalError("unknown time zone \(id)") }
    return z
}

extension RetentionPlan {
    /// name → reason for kept snapshots.
    var keptReasons: [String: String] {
        Dictionary(uniqueKeysWithValues: decisions.filter(\.keep).map { ($0.name, $0.reason ?? "") })
    }
    var keptNames: Set<String> { Set(decisions.filter(\.keep).map(\.name)) }
}
