import Foundation

@testable import KVMSnapCore

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
