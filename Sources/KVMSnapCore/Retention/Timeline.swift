import Foundation

/// JSON codec for the retention simulator.
///
/// Input: a JSON array, any order, of objects
/// `{"name": String, "createdAt": ISO 8601, "pinned"?: Bool, "expiresAt"?: ISO 8601 | null,
///   "id"?: String, "state"?: "ready"|"pending"|"failed"|"deleting"}`.
/// Timestamps may have fractional seconds and need `Z` or an offset. Unknown keys are refused
/// (a typo such as `"pined"` would otherwise silently change the plan). `id` defaults to `name`.
///
/// Output (`--json`): an array with one object per input snapshot, in input order:
/// `{"name": String, "keep": Bool, "reason": String | null}`.
public enum Timeline {
    static let allowedKeys: Set<String> = ["name", "createdAt", "pinned", "expiresAt", "id", "state"]

    public static func decode(_ data: Data) throws(TimelineError) -> [RetentionCandidate] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let ns = error as NSError
            let detail = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
            throw .invalidJSON(detail)
        }
        guard let array = root as? [Any] else {
            throw .notAnArray(found: typeName(root))
        }
        var result = [RetentionCandidate]()
        result.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            guard let object = element as? [String: Any] else {
                throw .malformedEntry(index: index, name: nil, problem: "expected an object, found \(typeName(element))")
            }
            let name = object["name"] as? String
            func fail(_ problem: String) -> TimelineError {
                .malformedEntry(index: index, name: name, problem: problem)
            }
            if let unknown = object.keys.filter({ !allowedKeys.contains($0) }).sorted().first {
                throw fail("unknown key \"\(unknown)\" (allowed: name, createdAt, pinned, expiresAt, id, state)")
            }
            guard let nameValue = object["name"] else { throw fail("missing \"name\"") }
            guard let name, !name.isEmpty else { throw fail("\"name\" must be a non-empty string, found \(typeName(nameValue))") }
            guard let createdValue = object["createdAt"] else { throw fail("missing \"createdAt\"") }
            guard let createdText = createdValue as? String else {
                throw fail("\"createdAt\" must be an ISO 8601 string, found \(typeName(createdValue))")
            }
            let createdAt: Date
            switch Timestamp.parse(createdText) {
            case .success(let d): createdAt = d
            case .failure(let e): throw fail("createdAt: \(e)")
            }
            var pinned = false
            if let p = object["pinned"], !(p is NSNull) {
                guard let b = p as? Bool, isBool(p) else { throw fail("\"pinned\" must be true or false, found \(typeName(p))") }
                pinned = b
            }
            var expiresAt: Date? = nil
            if let e = object["expiresAt"], !(e is NSNull) {
                guard let text = e as? String else { throw fail("\"expiresAt\" must be an ISO 8601 string or null, found \(typeName(e))") }
                switch Timestamp.parse(text) {
                case .success(let d): expiresAt = d
                case .failure(let err): throw fail("expiresAt: \(err)")
                }
            }
            var id = name
            if let v = object["id"], !(v is NSNull) {
                guard let s = v as? String else { throw fail("\"id\" must be a string, found \(typeName(v))") }
                id = s
            }
            var state = CandidateState.ready
            if let v = object["state"], !(v is NSNull) {
                guard let s = v as? String, let st = CandidateState(rawValue: s) else {
                    throw fail("\"state\" must be one of ready, pending, failed, deleting")
                }
                state = st
            }
            result.append(RetentionCandidate(id: id, name: name, createdAt: createdAt, pinned: pinned, expiresAt: expiresAt, state: state))
        }
        return result
    }

    /// The `--json` output: `[{"name": ..., "keep": ..., "reason": ...}, ...]` in input order.
    public static func encode(_ plan: RetentionPlan) -> Data {
        var out = "[\n"
        for (k, d) in plan.decisions.enumerated() {
            out += "  {\"name\": \(jsonString(d.name)), \"keep\": \(d.keep), \"reason\": \(d.reason.map(jsonString) ?? "null")}"
            out += k + 1 < plan.decisions.count ? ",\n" : "\n"
        }
        out += "]\n"
        return Data(out.utf8)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// JSONSerialization hands booleans out as NSNumber (`__NSCFBoolean`); 1 must not pass as true.
    static func isBool(_ v: Any) -> Bool {
        if let n = v as? NSNumber { return String(cString: n.objCType) == "c" }
        return v is Bool
    }

    static func typeName(_ v: Any) -> String {
        switch v {
        case is NSNull: return "null"
        case is String: return "a string"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case let b as Bool where isBool(v): return b ? "true" : "false"
        case is NSNumber, is Int, is Double: return "a number"
        default: return "\(type(of: v))"
        }
    }
}

public enum TimelineError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidJSON(String)
    case notAnArray(found: String)
    /// `index` is 0-based; `name` when the entry has one.
    case malformedEntry(index: Int, name: String?, problem: String)

    public var description: String {
        switch self {
        case .invalidJSON(let detail):
            return "the timeline is not valid JSON: \(detail)"
        case .notAnArray(let found):
            return "the timeline must be a JSON array of snapshots, found \(found)"
        case let .malformedEntry(index, name, problem):
            let which = name.map { "snapshot #\(index + 1) (\"\($0)\")" } ?? "snapshot #\(index + 1)"
            return "timeline \(which): \(problem)"
        }
    }
}
