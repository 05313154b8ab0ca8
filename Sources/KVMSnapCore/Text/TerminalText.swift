/// Text from users, the catalog or other programs, made safe to print on a terminal.
///
/// Descriptions, names, hook commands and error messages that echo input may hold ESC
/// sequences (which recolour, move the cursor or retitle the terminal), newlines (which forge
/// extra table rows or error lines) and other control characters. Human output shows them as
/// visible escapes instead; JSON output escapes them itself.
public enum TerminalText {
    /// `text` with every control character shown as an escape: `\n`, `\r`, `\t`, `\e` (ESC) and
    /// `\xNN` / `\u{NNNN}` for the rest (C0, DEL, C1, line/paragraph separators and the bidi
    /// overrides that reorder what is shown). Returns `text` itself when nothing needs escaping.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else { out.append(scalar); continue }
            let shown: String =
                switch scalar.value {
                case 0x0A: "\\n"
                case 0x0D: "\\r"
                case 0x09: "\\t"
                case 0x1B: "\\e"
                case ..<0x100: "\\x" + hex(scalar.value, width: 2)
                default: "\\u{" + hex(scalar.value, width: 4) + "}"
                }
            out.append(contentsOf: shown.unicodeScalars)
        }
        return String(out)
    }

    /// True for the scalars ``escape(_:)`` replaces.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F..<0xA0: true  // C0, DEL, C1
        case 0x2028, 0x2029: true  // line and paragraph separators
        case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: true  // bidi controls
        default: false
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: false)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
