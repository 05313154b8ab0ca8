/// Rules for the names users give snapshots and VMs (`create --name`, `rename`, `guard --name`,
/// `restore --as`).
///
/// Snapshot names become path segments (the HTTP API) and VM names reach libvirt, which uses
/// them in file names under its state directories: `.` and `..` there name directories, and
/// libvirt itself refuses '/' and newlines. Names are also printed in tables and typed on
/// command lines, so control characters, whitespace-only names and a leading '-' are refused.
public enum NameRules {
    public static let maxLength = 64

    /// Why `name` is not acceptable as a `what` ("snapshot name", "VM name"), or nil when it is.
    public static func problem(with name: String, what: String) -> String? {
        if name.isEmpty { return "\(what) must not be empty" }
        if name.count > maxLength { return "\(what) is longer than \(maxLength) characters" }
        if name.contains("/") { return "\(what) must not contain '/'" }
        if name == "." || name == ".." { return "\(what) must not be '.' or '..'" }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || TerminalText.needsEscape($0) }) {
            return "\(what) must not contain control characters"
        }
        if name.unicodeScalars.allSatisfy({ $0.properties.isWhitespace || $0.properties.isDefaultIgnorableCodePoint }) {
            return "\(what) must not be only whitespace"
        }
        if name.hasPrefix("-") { return "\(what) must not start with '-'" }
        return nil
    }
}
