import Foundation

/// JSON codec for the retention simulator.
///
/// Input: a JSON array, any order, of objects
/// `{"name": String, "createdAt": ISO 8601, "pinned"?: Bool, "expiresAt"?: ISO 8601 | null,
///   "id"?: String, "state"?: "ready"|"pending"|"failed"|"deleting"}`.
/// Timestamps may have fractional seconds and need `Z` or an offset. Unknown keys are refused
/// (a typo such as `"pined"` would otherwise silently change the plan). `id` defaults to `name`.
///
/// The input is parsed as a stream (`decode(reading:)`): bytes go straight into candidates, one
/// entry's fields at a time, so memory is the candidates' plus one buffer, never the file's text
/// or a tree of JSON objects (1M entries took 3.2 GB through JSONSerialization).
///
/// Output (`--json`): an array with one object per input snapshot, in input order:
/// `{"name": String, "keep": Bool, "reason": String | null}`.
public enum Timeline {
    static let allowedKeys: Set<String> = ["name", "createdAt", "pinned", "expiresAt", "id", "state"]

    /// Decodes a whole timeline held in memory.
    public static func decode(_ data: Data) throws(TimelineError) -> [RetentionCandidate] {
        var offset = 0
        do {
            return try decode { buffer in
                let n = min(buffer.count, data.count - offset)
                data.copyBytes(to: buffer, from: data.startIndex + offset..<data.startIndex + offset + n)
                offset += n
                return n
            }
        } catch let error as TimelineError { throw error } catch { throw .invalidJSON("\(error)") }
    }

    /// Decodes a timeline pulled through `read`, which fills the buffer it is given and returns
    /// how many bytes it put there (0 at the end). Errors are `TimelineError`s or what `read` throws.
    public static func decode(reading read: (UnsafeMutableBufferPointer<UInt8>) throws -> Int) throws -> [RetentionCandidate] {
        try withoutActuallyEscaping(read) { read in
            var parser = TimelineParser(read: read)
            return try parser.timeline()
        }
    }

    /// One entry's fields, checked in a fixed order so the message does not depend on key order.
    static func candidate(_ fields: [String: TimelineParser.Value], index: Int) throws(TimelineError) -> RetentionCandidate {
        let name: String?
        if case .string(let s)? = fields["name"] { name = s } else { name = nil }
        func fail(_ problem: String) -> TimelineError {
            .malformedEntry(index: index, name: name, problem: problem)
        }
        if let unknown = fields.keys.filter({ !allowedKeys.contains($0) }).sorted().first {
            throw fail("unknown key \"\(Bounds.clip(unknown))\" (allowed: name, createdAt, pinned, expiresAt, id, state)")
        }
        guard let nameValue = fields["name"] else { throw fail("missing \"name\"") }
        guard let name, !name.isEmpty else { throw fail("\"name\" must be a non-empty string, found \(nameValue.typeName)") }
        guard let createdValue = fields["createdAt"] else { throw fail("missing \"createdAt\"") }
        guard case .string(let createdText) = createdValue else {
            throw fail("\"createdAt\" must be an ISO 8601 string, found \(createdValue.typeName)")
        }
        let createdAt: Date
        switch Timestamp.parse(createdText) {
        case .success(let d): createdAt = d
        case .failure(let e): throw fail("createdAt: \(e)")
        }
        var pinned = false
        if let p = fields["pinned"], p != .null {
            guard case .bool(let b) = p else { throw fail("\"pinned\" must be true or false, found \(p.typeName)") }
            pinned = b
        }
        var expiresAt: Date? = nil
        if let e = fields["expiresAt"], e != .null {
            guard case .string(let text) = e else { throw fail("\"expiresAt\" must be an ISO 8601 string or null, found \(e.typeName)") }
            switch Timestamp.parse(text) {
            case .success(let d): expiresAt = d
            case .failure(let err): throw fail("expiresAt: \(err)")
            }
        }
        var id = name
        if let v = fields["id"], v != .null {
            guard case .string(let s) = v else { throw fail("\"id\" must be a string, found \(v.typeName)") }
            id = s
        }
        var state = CandidateState.ready
        if let v = fields["state"], v != .null {
            guard case .string(let s) = v, let st = CandidateState(rawValue: s) else {
                throw fail("\"state\" must be one of ready, pending, failed, deleting")
            }
            state = st
        }
        return RetentionCandidate(id: id, name: name, createdAt: createdAt, pinned: pinned, expiresAt: expiresAt, state: state)
    }

    /// The `--json` output: `[{"name": ..., "keep": ..., "reason": ...}, ...]` in input order.
    public static func encode(_ plan: RetentionPlan) -> Data {
        var data = Data()
        encode(plan) { data.append(contentsOf: $0) }
        return data
    }

    /// The same bytes, handed to `write` in chunks of about 1 MiB (for a million entries).
    public static func encode(_ plan: RetentionPlan, to write: (UnsafeRawBufferPointer) -> Void) {
        var out = "[\n"
        func flush(_ threshold: Int) {
            guard out.utf8.count >= threshold else { return }
            out.withUTF8 { write(UnsafeRawBufferPointer($0)) }
            out.removeAll(keepingCapacity: true)
        }
        for (k, d) in plan.decisions.enumerated() {
            out += "  {\"name\": \(jsonString(d.name)), \"keep\": \(d.keep), \"reason\": \(d.reason.map(jsonString) ?? "null")}"
            out += k + 1 < plan.decisions.count ? ",\n" : "\n"
            flush(1 << 20)
        }
        out += "]\n"
        flush(0)
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
        case .malformedEntry(let index, let name, let problem):
            let which = name.map { "snapshot #\(index + 1) (\"\(Bounds.clip($0))\")" } ?? "snapshot #\(index + 1)"
            return "timeline \(which): \(problem)"
        }
    }
}
