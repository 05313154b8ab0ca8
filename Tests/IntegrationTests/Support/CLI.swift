import Foundation
import SnapshotEngine
import Testing

/// Runs the built `kvmsnap` binary the way a user or script does.
struct CLI {
    static var binary: String { IntegrationEnvironment.packageRoot + "/.build/debug/kvmsnap" }

    let catalog: String
    let store: String

    init(_ fixture: EngineFixture) { catalog = fixture.catalogPath; store = fixture.storePath }
    init(catalog: String, store: String) { self.catalog = catalog; self.store = store }

    /// Runs the binary with exactly `args` (no --connect/--catalog/--store): for pure commands.
    static func runBare(_ args: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> Result {
        let outcome = try ExternalProcess.run(binary, args, environment: environment, timeout: .seconds(timeout))
        return Result(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    @discardableResult
    func run(_ args: [String], environment: [String: String] = [:], timeout: Double = 300) throws -> Result {
        let outcome = try ExternalProcess.run(
            Self.binary, args + ["--connect", IntegrationEnvironment.uri, "--catalog", catalog, "--store", store],
            environment: environment, timeout: .seconds(timeout))
        return Result(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    /// Runs `args -- command` with the global options before the `--` (for guard, hook add).
    @discardableResult
    func run(_ args: [String], command: [String], environment: [String: String] = [:], timeout: Double = 300) throws -> Result {
        let outcome = try ExternalProcess.run(
            Self.binary, args + ["--connect", IntegrationEnvironment.uri, "--catalog", catalog, "--store", store, "--"] + command,
            environment: environment, timeout: .seconds(timeout))
        return Result(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    /// Starts kvmsnap in the background (for kill and concurrency tests); output goes to /dev/null,
    /// or with `captureOutput` to the outcome of the child's `wait`.
    func start(_ args: [String], environment: [String: String] = [:], captureOutput: Bool = false) throws -> ExternalProcess.Child {
        try ExternalProcess.start(
            Self.binary, args + ["--connect", IntegrationEnvironment.uri, "--catalog", catalog, "--store", store],
            environment: environment, captureOutput: captureOutput)
    }

    /// Runs kvmsnap with `args` until it reaches engine point `point` (KVMSNAP_TEST_STALL_AT),
    /// then kills it with SIGKILL, as a crash at exactly that step.
    func killAt(_ point: String, _ args: [String], marker: String) throws {
        let victim = try start(args, environment: ["KVMSNAP_TEST_STALL_AT": point, "KVMSNAP_TEST_STALL_MARKER": marker])
        defer { victim.signal(SIGKILL); victim.wait() }
        try waitForFile(marker)
    }

    /// Once `guest` counts, creates the snapshots `names` of `vm` one after another (each must exit
    /// 0), letting the guest count on between them so each holds changes of its own.
    func createWhileCounting(
        _ vm: String, _ names: [String], guest: TestGuest, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try guest.waitForCounter(atLeast: 1)
        for (index, name) in names.enumerated() {
            if index > 0 { try guest.waitUntilStillCounting() }
            #expect(try run(["create", vm, "--name", name]).status == 0, sourceLocation: sourceLocation)
        }
    }

    /// Runs `check` on `vm` and expects it to pass (exit 0); a failure shows `context`, then its output.
    func expectCheckPasses(_ vm: String, _ context: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let check = try run(["check", vm])
        #expect(check.status == 0, "\(context)\(check.stdout)", sourceLocation: sourceLocation)
    }

    /// Names of the VM's snapshots per `list --json`, with their states.
    func snapshotStates(_ vm: String) throws -> [String: String] {
        let result = try run(["list", vm, "--json"])
        guard result.status == 0, let array = result.json as? [[String: Any]] else {
            throw TestGuestError("list failed: \(result.stderr)")
        }
        return Dictionary(uniqueKeysWithValues: array.map { ($0["name"] as! String, $0["state"] as! String) })
    }
}

/// Waits until `path` exists.
func waitForFile(_ path: String, timeout: Double = 120) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !FileManager.default.fileExists(atPath: path) {
        if Date() > deadline { throw TestGuestError("\(path) did not appear within \(timeout) s") }
        usleep(100_000)
    }
}

/// Lists every file under a directory (recursively), for "nothing changed" checks.
func filesUnder(_ dir: String) -> Set<String> {
    guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
    return Set(e.compactMap { $0 as? String })
}
