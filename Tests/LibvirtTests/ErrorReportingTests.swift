import Testing

@testable import Libvirt

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ErrorReportingTests {
    /// libvirt prints every error to stderr by default ("libvirt: ... error : ...");
    /// the module silences that, so callers decide what to show.
    @Test func failingCallPrintsNothingToStderr() throws {
        let connection = try Connection(uri: Fixture.uri)
        let name = Fixture.uniqueName("stderr-probe")

        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let savedStderr = dup(STDERR_FILENO)
        dup2(pipeEnds[1], STDERR_FILENO)
        let error = Fixture.libvirtError { _ = try connection.lookupDomain(name: name) }
        dup2(savedStderr, STDERR_FILENO)
        close(savedStderr)
        close(pipeEnds[1])

        var captured: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count <= 0 { break }
            captured += buffer[0..<count]
        }
        close(pipeEnds[0])

        #expect(error?.code == .noDomain)
        // Unsilenced, libvirt would print "libvirt: Test Driver error : Domain not found".
        #expect(!String(decoding: captured, as: UTF8.self).contains("libvirt:"))
    }

    /// The error is read on the failing thread right away and then cleared,
    /// so a later success on the same thread does not see a stale error.
    @Test func errorIsClearedAfterBeingThrown() throws {
        let connection = try Connection(uri: Fixture.uri)
        _ = Fixture.libvirtError { _ = try connection.lookupDomain(name: "missing-for-reset") }
        #expect(pendingLibvirtErrorCode() == nil)
    }
}
