import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Campaign finding 10: inputs that were stored or acted on although they cannot work. Each is
/// refused with exit 64 (bad input) and one error line, and changes nothing: no policy, no job,
/// no drill report, no catalog row.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct InputRefusalTests {
    /// What a refusal must leave as it was: the catalog's VMs, policies, jobs and drill reports.
    static func catalogState(_ cli: CLI, _ f: EngineFixture, vm: String) throws -> [String] {
        let vms = try Catalog(path: f.catalogPath).read { try $0.allVMs() }.map { "\($0.uuid) \($0.name)" }.sorted()
        return vms + [
            try cli.run(["policy", "show", vm, "--json"]).stdout, try cli.run(["policy", "show", "--default", "--json"]).stdout,
            try cli.run(["jobs", "--json"]).stdout, try cli.run(["drill", "report", "--json"]).stdout,
        ]
    }

    /// One `kvmsnap: error:` line, no `Usage:` line (not a usage error) unless `usage`.
    static func isOneLine(_ result: CLI.Result, usage: Bool = false) -> Bool {
        let lines = result.stderr.split(separator: "\n")
        return lines.first?.hasPrefix("kvmsnap: error: ") == true && lines.count == (usage ? 2 : 1) && (!usage || lines[1].hasPrefix("Usage: "))
    }

    @Test func policyAndDrillRefuseWhatCannotWorkAndStoreNothing() throws {
        let f = try EngineFixture(tag: "inrefuse", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "base", "--disk-only"]).status == 0)
        let before = try Self.catalogState(cli, f, vm: vm)
        let longCron = Array(repeating: "1", count: 20_000).joined(separator: ",") + " * * * *"
        let longCommand = String(repeating: "true; ", count: 400)
        let cases: [([String], String)] = [
            (["policy", "set", vm, "--keep-last", "1", "--vault", "nosuch"], "no vault named 'nosuch'"),
            (["policy", "set", "--default", "--keep-last", "1", "--vault", "nosuch"], "nothing was stored"),
            (["policy", "set", vm, "--keep-last", "1", "--schedule", longCron], "at most 1024"),
            (["policy", "set", vm, "--keep-last", "1", "--schedule", "@daily", "--drill", longCron], "at most 1024"),
            (["drill", vm, "base", "--check-cmd", ""], "--check-cmd is empty"),
            (["drill", vm, "base", "--check-cmd", " \t "], "--check-cmd is empty"),
            (["drill", vm, "base", "--check-cmd", longCommand], "at most 1024"),
        ]
        for (args, message) in cases {
            let result = try cli.run(args)
            #expect(result.status == 64 && result.stderr.contains(message), "\(args.map { Bounds.clip($0, 60) }): \(result.status) \(result.stderr)")
            #expect(Self.isOneLine(result, usage: args[0] == "drill"), "\(result.stderr)")
            #expect(try Self.catalogState(cli, f, vm: vm) == before, "\(args.map { Bounds.clip($0, 60) }) changed the catalog")
        }
        // A schedule of normal length is still taken.
        #expect(try cli.run(["policy", "set", vm, "--keep-last", "1", "--schedule", "0 3 * * *"]).status == 0)
    }

    @Test func serveSaysWhatIsWrongInOneLine() throws {
        let dir = NSTemporaryDirectory() + "kvmsnap-inrefuse-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = CLI(catalog: dir + "/catalog.sqlite", store: dir + "/store")
        for listen in ["[::1", "[::1]8470", "[nonsense]:8470", "a b:8470", "::1:8470", "host_name:8470"] {
            let result = try cli.run(["serve", "--listen", listen], timeout: 30)
            #expect(
                result.status == 64 && result.stderr.contains("is not an address") && Self.isOneLine(result), "\(listen): \(result.status) \(result.stderr)")
        }
        let badPort = try cli.run(["serve", "--listen", "127.0.0.1:99999"], timeout: 30)
        #expect(badPort.status == 64 && badPort.stderr.contains("is not a port") && Self.isOneLine(badPort), "\(badPort.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/store"), "a refused serve made the store")

        // A port in use: the bind error, in one balanced sentence, without the usage line.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let busy = try cli.run(["serve", "--listen", "127.0.0.1:\(port)"], timeout: 30)
        #expect(busy.status == 1 && Self.isOneLine(busy), "\(busy.status) \(busy.stderr)")
        #expect(busy.stderr.contains("cannot listen on 127.0.0.1:\(port): Address already in use; nothing was started"), "\(busy.stderr)")
        #expect(busy.stderr.filter { $0 == "(" }.count == busy.stderr.filter { $0 == ")" }.count, "\(busy.stderr)")
    }
}
