import Foundation
import Testing

@testable import KVMSnapCommands

/// The panel's pieces that need no server: path checks, `--listen`, the token file, sessions
/// and the login rate limit, HTML escaping.
@Suite struct PanelPureTests {
    @Test func pathSegmentsAreDecodedAndTraversalIsRefused() throws {
        #expect(try PanelResponder.components("/api/v1/vms/web%20one/snapshots") == ["api", "v1", "vms", "web one", "snapshots"])
        #expect(try PanelResponder.components("/") == [])
        #expect(try PanelResponder.components("/jobs/") == ["jobs"])
        for bad in ["/vms/../x", "/vms/./x", "/vms/%2e%2e/x", "/vms/a%2Fb", "/vms/a%5Cb", "/vms//x", "/vms/a%00b", "/vms/%ZZ", "/vms/a%0Ab"] {
            #expect(throws: PanelError.self, "\(bad)") { try PanelResponder.components(bad) }
        }
    }

    @Test func listenAddressesAndLoopback() throws {
        #expect(try ServeCommand.parseListen("127.0.0.1:8470") == ("127.0.0.1", 8470))
        #expect(try ServeCommand.parseListen("[::1]:9000") == ("::1", 9000))
        #expect(try ServeCommand.parseListen(":0") == ("127.0.0.1", 0))
        for bad in ["localhost", "127.0.0.1:", "127.0.0.1:70000", "1.2.3.4:-1"] {
            #expect(throws: (any Error).self, "\(bad)") { try ServeCommand.parseListen(bad) }
        }
        #expect(ServeCommand.isLoopback("127.0.0.1") && ServeCommand.isLoopback("::1") && ServeCommand.isLoopback("localhost"))
        #expect(!ServeCommand.isLoopback("0.0.0.0") && !ServeCommand.isLoopback("192.0.2.1"))
        #expect(ServeCommand.isLoopback("127.8.9.10"))
        // Names are not addresses: one that starts like a loopback address resolves to whatever its DNS says.
        for host in ["127.0.0.1.nip.io", "127.example.com", "localhost.example", "::2", "::ffff:8.8.8.8", "1.127.0.0", ""] {
            #expect(!ServeCommand.isLoopback(host), "\(host)")
        }
    }

    @Test func tokenFileIsCreatedOnce0600AndARedableOneIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = PanelTokenFile(store: dir + "/store")
        let (token, created) = try file.loadOrCreate()
        #expect(created && token.count == 64)
        var info = stat()
        #expect(stat(file.path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let again = try file.loadOrCreate()
        #expect(again.token == token && !again.created)
        chmod(file.path, 0o644)
        #expect(throws: (any Error).self) { try file.read() }
    }

    @Test func sessionsCSRFAndTheLoginRateLimit() throws {
        let sessions = PanelSessions(token: String(repeating: "a", count: 64))
        guard case .session(let id, let csrf) = sessions.login(token: String(repeating: "a", count: 64), client: "10.0.0.1") else {
            Issue.record("the right token did not log in")
            return
        }
        #expect(sessions.session(id)?.csrf == csrf && csrf.count == 64)
        #expect(sessions.session("forged") == nil)
        for _ in 0..<PanelSessions.maxFailures {
            guard case .wrongToken = sessions.login(token: "b", client: "10.0.0.2") else { Issue.record("a wrong token logged in"); return }
        }
        guard case .tooManyAttempts = sessions.login(token: String(repeating: "a", count: 64), client: "10.0.0.2") else {
            Issue.record("no rate limit after \(PanelSessions.maxFailures) failures")
            return
        }
        guard case .session = sessions.login(token: String(repeating: "a", count: 64), client: "10.0.0.3") else {
            Issue.record("another address was limited too")
            return
        }
        sessions.logout(id)
        #expect(sessions.session(id) == nil)
    }

    @Test func htmlEscapingAndCookieParsing() {
        #expect(PanelPages.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(PanelPages.shell(page: "vm", title: "VM <b>", vm: "a\"<b>", csrf: "c").contains("data-vm=\"a&quot;&lt;b&gt;\""))
        #expect(PanelResponder.formValue("token", in: "x=1&token=ab%2Bc+d") == "ab+c d")
    }

    @Test func theServedOpenAPIDocumentIsTheCommittedOne() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let committed = try String(contentsOfFile: root.path + "/docs/openapi.json", encoding: .utf8)
        #expect(PanelOpenAPI.document == committed)
        let parsed = try JSONSerialization.jsonObject(with: Data(PanelOpenAPI.document.utf8)) as? [String: Any]
        #expect(parsed?["openapi"] as? String == "3.1.0")
        #expect((parsed?["paths"] as? [String: Any])?.keys.contains("/vms/{vm}/restore") == true)
        for path in ["/vms/{vm}/prune", "/vms/{vm}/send", "/vms/{vm}/drill", "/vaults", "/vaults/{vault}/snapshots", "/drills"] {
            #expect((parsed?["paths"] as? [String: Any])?.keys.contains(path) == true, "\(path)")
        }
    }

    /// The policy a PUT body stands for is the one `policy set` builds from the same options; a
    /// value that would be an option of its own (`-1`, a name starting with `-`) stays a value.
    @Test func aPolicyBodyIsPolicySetsOptions() throws {
        let json = #"{"keepWithin":"2d","keepLast":3,"keepDaily":-1,"schedule":"0 3 * * *","vault":"nas","vaultKeep":["keep-weekly 4"],"fullEvery":7}"#
        let body = try JSONDecoder().decode(PanelAPI.PolicyBody.self, from: Data(json.utf8))
        let arguments = try body.arguments(vm: "-odd")
        #expect(arguments.suffix(2) == ["--", "-odd"])
        let command = try PolicySetCommand.parse(arguments)
        #expect(command.target.vm == "-odd")
        let policy = try command.policy()
        #expect(policy.retention.keepLast == 3 && policy.retention.keepDaily == -1 && policy.retention.keepWithin.map { "\($0)" } == "2d")
        #expect(policy.schedule == "0 3 * * *" && policy.vault == "nas" && policy.vaultRetention?.keepWeekly == 4 && policy.fullEvery == 7)
        let malformed = PanelAPI.PolicyBody(keepLast: 1, vaultKeep: ["weekly four"])
        #expect(throws: PanelError.self) { try malformed.arguments(vm: "vm") }
    }
}
