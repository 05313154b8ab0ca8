import Foundation
import SnapshotEngine
import Testing

/// Fault injection is compiled into test (debug) builds only (`KVMSNAP_TESTING`, Package.swift):
/// the same `KVMSNAP_TEST_FAIL_AT` that makes the debug binary fail is ignored by the release
/// binary. The release binary is `KVMSNAP_RELEASE_BINARY` (scripts/test.sh builds it the way
/// scripts/install.sh does, so an install afterwards reuses it), else .build/release/kvmsnap.
@Suite(.enabled(if: IntegrationEnvironment.available)) struct ReleaseBinaryTests {
    static let releaseBinary =
        ProcessInfo.processInfo.environment["KVMSNAP_RELEASE_BINARY"]
        ?? IntegrationEnvironment.packageRoot + "/.build/release/kvmsnap"

    @Test func releaseBinaryIgnoresTheFaultInjectionVariables() throws {
        let release = Self.releaseBinary
        try #require(
            FileManager.default.isExecutableFile(atPath: release),
            "no release binary at \(release) (scripts/test.sh builds it: swift build -c release --static-swift-stdlib)")
        // run-due opens libvirt: the daemon must stay up meanwhile (a test may restart it exclusively).
        let gate = try LibvirtdGate.shared()
        defer { withExtendedLifetime(gate) {} }
        try FileManager.default.createDirectory(atPath: IntegrationEnvironment.scratchRoot, withIntermediateDirectories: true)
        let dir = IntegrationEnvironment.scratchRoot + "/release-faults-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fault = ["KVMSNAP_TEST_FAIL_AT": FaultPoint.runDueLocked.rawValue]

        func runDue(_ binary: String, _ label: String, environment: [String: String]) throws -> CLI.Result {
            let outcome = try ExternalProcess.run(
                binary,
                [
                    "run-due", "--connect", IntegrationEnvironment.uri,
                    "--catalog", "\(dir)/\(label).sqlite", "--store", "\(dir)/\(label)-store",
                ],
                environment: environment, timeout: .seconds(60))
            return CLI.Result(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
        }

        // The debug binary fails where it is told to, and runs normally without the variable.
        let debugFaulted = try runDue(CLI.binary, "debug-fault", environment: fault)
        #expect(debugFaulted.status != 0)
        #expect(debugFaulted.stderr.contains("injected failure at run-due:locked"), "\(debugFaulted.stderr)")
        let debugPlain = try runDue(CLI.binary, "debug-plain", environment: [:])
        #expect(debugPlain.status == 0, "\(debugPlain.stderr)")

        // The release binary does not read it: the same run succeeds.
        let releaseFaulted = try runDue(release, "release-fault", environment: fault)
        #expect(releaseFaulted.status == 0, "\(releaseFaulted.stderr)")
        #expect(!releaseFaulted.stderr.contains("injected"), "\(releaseFaulted.stderr)")
        // A stall request is ignored too (the debug binary would sleep at the point for 600 s).
        let releaseStall = try runDue(
            release, "release-stall",
            environment: ["KVMSNAP_TEST_STALL_AT": FaultPoint.runDueLocked.rawValue])
        #expect(releaseStall.status == 0, "\(releaseStall.stderr)")
    }
}
