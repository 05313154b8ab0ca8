import KVMSnapCore
import Testing

/// Issue 10 items 11, 14, 19: the pure rules behind names, connection URIs and terminal output.
@Suite struct HardeningInputCoreTests {
    @Test(arguments: [
        ".", "..", " ", "\t", "   ", "\u{3000}", "a\nb", "esc\u{1B}[31m", "del\u{7F}", "c1\u{9B}x",
        "bidi\u{202E}txt", "ls\u{2028}", "", "a/b", "-x", String(repeating: "n", count: 65),
    ])
    func badNamesAreRefused(name: String) {
        #expect(NameRules.problem(with: name, what: "VM name") != nil, "\(name.debugDescription)")
        #expect(NameRules.problem(with: name, what: "snapshot name")?.hasPrefix("snapshot name") == true)
    }

    @Test(arguments: ["a", "...", ".hidden", "a.b", "before-change-20260101-120000", "名前", "with space", String(repeating: "n", count: 64)])
    func goodNamesPass(name: String) {
        #expect(NameRules.problem(with: name, what: "VM name") == nil, "\(name.debugDescription)")
    }

    @Test func controlCharactersAreShownEscaped() {
        #expect(TerminalText.escape("plain ünïcode 名") == "plain ünïcode 名")
        #expect(TerminalText.escape("a\nb\rc\td") == "a\\nb\\rc\\td")
        #expect(TerminalText.escape("\u{1B}[2J\u{07}\u{00}\u{7F}\u{9B}") == "\\e[2J\\x07\\x00\\x7f\\x9b")
        #expect(TerminalText.escape("x\u{202E}y\u{2028}") == "x\\u{202e}y\\u{2028}")
        let escaped = TerminalText.escape(String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }))
        #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
    }

    @Test(arguments: [
        "qemu+ext:///system?command=/tmp/x",
        "QEMU+EXT:///system?command=/tmp/x",
        "qemu+ssh://localhost/system?command=/tmp/x",
        "qemu+ssh://localhost/system?netcat=/tmp/nc",
        "qemu+ssh://localhost/system?keyfile=/k&comm%61nd=/tmp/x",
        "qemu+ssh://localhost/system?keyfile=/k;command=/tmp/x",
        "qemu+ssh://localhost/system?proxy=netcat",
        "qemu:///system?name=qemu+ext:///system",
        "qemu:///system\nx", "qemu:///sys tem", "", "hail", "://x",
    ])
    func urisThatRunProgramsOrCannotBeCheckedAreRefused(uri: String) {
        #expect(HypervisorURI(uri).refusal != nil, "\(uri.debugDescription)")
    }

    @Test(arguments: [
        "qemu:///system", "qemu:///session", "test:///default", "qemu+unix:///system?socket=/run/libvirt/libvirt-sock",
        "qemu+ssh://root@host2/system?keyfile=/k&no_verify=1", "qemu+tls://10.0.0.5/system?pkipath=/p",
    ])
    func ordinaryURIsPass(uri: String) {
        #expect(HypervisorURI(uri).refusal == nil, "\(uri)")
    }
}
