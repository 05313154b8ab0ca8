import Libvirt
import Testing

/// Opening a connection that cannot work: no libvirtd is involved (a missing socket, an
/// unknown transport, an unparsable URI), so these need no daemon.
@Suite struct ConnectionURIErrorTests {
    /// libvirt 9.0's answers: a missing socket is a system error naming the socket, an unknown
    /// transport an invalid argument, an unparsable URI an internal error.
    @Test(arguments: [
        ("qemu+unix:///system?socket=/nonexistent/libvirt-sock", LibvirtError.Code.systemError, "/nonexistent/libvirt-sock"),
        ("qemu+nosuchtransport:///system", LibvirtError.Code.invalidArgument, "transport"),
        ("::not a uri::", LibvirtError.Code.internalError, "::not a uri::"),
    ])
    func unreachableOrMalformedURIThrowsOneLine(uri: String, code: LibvirtError.Code, mentions: String) throws {
        do {
            _ = try Connection(uri: uri)
            Issue.record("opening \(uri) succeeded")
        } catch {
            let text = error.description
            #expect(!text.isEmpty)
            #expect(!text.contains("\n"), "multi-line description: \(text)")
            #expect(error.code == code, "[\(error.code)] \(text)")
            #expect(text.contains(mentions), "[\(error.code)] \(text)")
        }
    }
}
