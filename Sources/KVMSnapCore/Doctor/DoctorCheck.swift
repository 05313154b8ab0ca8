/// One line of `kvmsnap doctor`: what was checked, how it stands, and what to do about it.
public struct DoctorCheck: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, Comparable, CaseIterable {
        case ok, warn, fail

        public static func < (lhs: Status, rhs: Status) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// A short, stable key (`libvirt`, `qemu-img`, `catalog`, …); scripts match on it.
    public var name: String
    public var status: Status
    /// What was found, e.g. "libvirt 9.0.0".
    public var detail: String
    /// What to do about a warn or fail; nil when there is nothing to do.
    public var hint: String?

    public init(_ name: String, _ status: Status, _ detail: String, hint: String? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.hint = hint
    }
}

/// A dotted version (`9.0.0`, `7.2.22`), compared numerically.
public struct SoftwareVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var release: Int

    public init(_ major: Int, _ minor: Int, _ release: Int = 0) {
        self.major = major
        self.minor = minor
        self.release = release
    }

    /// The first `N.N[.N]` in `text` (e.g. from `qemu-img version 7.2.22 (Debian …)`).
    public init?(firstIn text: String) {
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "(" }) {
            let parts = word.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 2, parts.count <= 4 else { continue }
            let numbers = parts.prefix(3).map { Int($0) }
            guard numbers.allSatisfy({ $0 != nil }) else { continue }
            self.init(numbers[0]!, numbers[1]!, numbers.count > 2 ? numbers[2]! : 0)
            return
        }
        return nil
    }

    public var description: String { "\(major).\(minor).\(release)" }

    public static func < (lhs: SoftwareVersion, rhs: SoftwareVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.release) < (rhs.major, rhs.minor, rhs.release)
    }
}
