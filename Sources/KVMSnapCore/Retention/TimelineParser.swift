import Foundation

/// A streaming JSON reader for timelines (RFC 8259): pulls 64 KiB at a time through `read`,
/// turns each array element into a candidate as soon as its object ends, and keeps nothing else.
/// Values nested inside an entry are checked and skipped (only their type matters, for messages),
/// at most `maxDepth` deep, so no input can exhaust the stack.
struct TimelineParser {
    /// A field's value as far as the timeline needs it.
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case null, number, array, object

        var typeName: String {
            switch self {
            case .string: "a string"
            case .bool(let b): b ? "true" : "false"
            case .null: "null"
            case .number: "a number"
            case .array: "an array"
            case .object: "an object"
            }
        }
    }

    static let maxDepth = 64

    private let read: (UnsafeMutableBufferPointer<UInt8>) throws -> Int
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var position = 0, end = 0
    /// Bytes consumed before `buffer`'s contents (for error positions).
    private var consumed = 0
    private var finished = false
    private var scratch: [UInt8] = []

    init(read: @escaping (UnsafeMutableBufferPointer<UInt8>) throws -> Int) {
        self.read = read
    }

    // MARK: Bytes

    private mutating func peek() throws -> UInt8? {
        if position < end { return buffer[position] }
        guard !finished else { return nil }
        consumed += end
        position = 0
        end = try buffer.withUnsafeMutableBufferPointer { try read($0) }
        if end <= 0 { end = 0; finished = true; return nil }
        return buffer[0]
    }

    private mutating func next() throws -> UInt8? {
        guard let byte = try peek() else { return nil }
        position += 1
        return byte
    }

    private var offset: Int { consumed + position }

    private func invalid(_ what: String) -> TimelineError { .invalidJSON("\(what) at byte \(offset)") }

    private mutating func unexpected() throws -> TimelineError {
        guard let byte = try peek() else { return .invalidJSON("unexpected end of input at byte \(offset)") }
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : String(format: "byte 0x%02x", byte)
        return invalid("unexpected \(shown)")
    }

    private mutating func skipWhitespace() throws {
        while let b = try peek(), b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else { throw try unexpected() }
        position += 1
    }

    // MARK: Document

    /// The whole document: an array of entry objects, then only whitespace.
    mutating func timeline() throws -> [RetentionCandidate] {
        try skipWhitespace()
        guard try peek() == UInt8(ascii: "[") else {
            if try peek() == nil { throw TimelineError.invalidJSON("the file is empty") }
            let found = try value(depth: 0)
            try endOfDocument()
            throw TimelineError.notAnArray(found: found.typeName)
        }
        position += 1
        var candidates: [RetentionCandidate] = []
        try skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            position += 1
        } else {
            while true {
                try skipWhitespace()
                let index = candidates.count
                guard try peek() == UInt8(ascii: "{") else {
                    let found = try value(depth: 1)
                    throw TimelineError.malformedEntry(index: index, name: nil, problem: "expected an object, found \(found.typeName)")
                }
                candidates.append(try Timeline.candidate(try object(depth: 1), index: index))
                try skipWhitespace()
                guard let b = try next() else { throw try unexpected() }
                if b == UInt8(ascii: "]") { break }
                guard b == UInt8(ascii: ",") else { position -= 1; throw try unexpected() }
            }
        }
        try endOfDocument()
        return candidates
    }

    private mutating func endOfDocument() throws {
        try skipWhitespace()
        guard try peek() == nil else { throw try unexpected() }
    }

    /// An object's fields (a later duplicate key wins); nested values only by type.
    private mutating func object(depth: Int) throws -> [String: Value] {
        try expect(UInt8(ascii: "{"))
        var fields: [String: Value] = [:]
        try skipWhitespace()
        if try peek() == UInt8(ascii: "}") { position += 1; return fields }
        while true {
            try skipWhitespace()
            guard try peek() == UInt8(ascii: "\"") else { throw try unexpected() }
            let key = try string()
            try skipWhitespace()
            try expect(UInt8(ascii: ":"))
            try skipWhitespace()
            fields[key] = try value(depth: depth + 1)
            try skipWhitespace()
            guard let b = try next() else { throw try unexpected() }
            if b == UInt8(ascii: "}") { return fields }
            guard b == UInt8(ascii: ",") else { position -= 1; throw try unexpected() }
        }
    }

    /// Any value; arrays and objects are checked and skipped.
    private mutating func value(depth: Int) throws -> Value {
        guard depth <= Self.maxDepth else { throw invalid("nested more than \(Self.maxDepth) levels deep") }
        guard let first = try peek() else { throw try unexpected() }
        switch first {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            _ = try object(depth: depth)
            return .object
        case UInt8(ascii: "["):
            position += 1
            try skipWhitespace()
            if try peek() == UInt8(ascii: "]") { position += 1; return .array }
            while true {
                try skipWhitespace()
                _ = try value(depth: depth + 1)
                try skipWhitespace()
                guard let b = try next() else { throw try unexpected() }
                if b == UInt8(ascii: "]") { return .array }
                guard b == UInt8(ascii: ",") else { position -= 1; throw try unexpected() }
            }
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(); return .number
        default: throw try unexpected()
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        for byte in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard try peek() == byte else { throw try unexpected() }
            position += 1
        }
    }

    private mutating func digits() throws -> Int {
        var count = 0
        while let b = try peek(), b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { position += 1; count += 1 }
        return count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws {
        if try peek() == UInt8(ascii: "-") { position += 1 }
        if try peek() == UInt8(ascii: "0") { position += 1 } else if try digits() == 0 { throw try unexpected() }
        if try peek() == UInt8(ascii: ".") {
            position += 1
            if try digits() == 0 { throw try unexpected() }
        }
        if let b = try peek(), b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
            position += 1
            if let s = try peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { position += 1 }
            if try digits() == 0 { throw try unexpected() }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let b = try next() else { throw try unexpected() }
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = v << 4 | UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = v << 4 | UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = v << 4 | UInt32(b - UInt8(ascii: "A") + 10)
            default: position -= 1; throw invalid("bad \\u escape")
            }
        }
        return v
    }

    /// A string (the opening quote is next), escapes decoded, UTF-8 checked.
    private mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        scratch.removeAll(keepingCapacity: true)
        while true {
            // Copy the run of plain bytes in one go.
            if position < end {
                var i = position
                while i < end, buffer[i] != 0x22, buffer[i] != 0x5C, buffer[i] >= 0x20 { i += 1 }
                if i > position { scratch.append(contentsOf: buffer[position..<i]); position = i }
            }
            guard let b = try next() else { throw try unexpected() }
            switch b {
            case 0x22:
                guard let text = String(validating: scratch, as: UTF8.self) else { throw invalid("invalid UTF-8 in a string") }
                return text
            case 0x5C:
                guard let e = try next() else { throw try unexpected() }
                switch e {
                case 0x22, 0x5C, 0x2F: scratch.append(e)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if code >= 0xD800 && code < 0xDC00 {
                        guard try next() == 0x5C, try next() == UInt8(ascii: "u") else { throw invalid("unpaired surrogate in a \\u escape") }
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw invalid("unpaired surrogate in a \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = UnicodeScalar(code) else { throw invalid("unpaired surrogate in a \\u escape") }
                    scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    position -= 1
                    throw invalid("bad escape")
                }
            case 0x20...:
                scratch.append(b)  // a plain byte just after a buffer refill
            default:
                position -= 1
                throw invalid("control character in a string")
            }
        }
    }
}
