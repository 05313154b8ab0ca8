import Testing

@testable import Libvirt

@Suite struct ConnectionTests {
    @Test func connectionReportsItsURIVersionsAndCapabilities() throws {
        let connection = try Connection(uri: Fixture.uri)
        #expect(try connection.uri == "test:///default")
        let library = try connection.libraryVersion()
        #expect(library >= LibvirtVersion(major: 9, minor: 0, release: 0))
        #expect(library == (try Connection.localLibraryVersion()))
        #expect(try connection.hypervisorVersion() > LibvirtVersion(major: 0, minor: 0, release: 0))
        #expect(try connection.capabilities().contains("<capabilities>"))
        #expect(try !connection.hostname().isEmpty)
        #expect(try connection.isAlive)
    }

    @Test func readOnlyConnectionRefusesChanges() throws {
        let connection = try Connection(uri: Fixture.uri, readOnly: true)
        let error = Fixture.libvirtError { _ = try connection.defineDomain(xml: Fixture.domainXML(name: "ro")) }
        #expect(error?.code == .operationDenied)
    }

    @Test func versionDecodesLibvirtsPackedNumberAndOrders() {
        #expect(LibvirtVersion(packed: 9_000_000) == LibvirtVersion(major: 9, minor: 0, release: 0))
        #expect(LibvirtVersion(packed: 7_002_001).description == "7.2.1")
        #expect(LibvirtVersion(major: 9, minor: 1, release: 0) > LibvirtVersion(major: 9, minor: 0, release: 99))
        #expect(LibvirtVersion(major: 8, minor: 9, release: 9) < LibvirtVersion(major: 9, minor: 0, release: 0))
    }

    @Test func malformedURIThrowsLibvirtError() {
        let parse = Fixture.libvirtError { _ = try Connection(uri: "::not a uri") }
        #expect(parse?.message.contains("Unable to parse URI") == true)
        let noDriver = Fixture.libvirtError { _ = try Connection(uri: "nosuchdriver:///x") }
        #expect(noDriver?.code == .noConnect)
        #expect(noDriver?.description.contains("nosuchdriver") == true)
    }

    @Test func errorDescriptionIsOneLine() {
        let error = LibvirtError(code: .operationFailed, domain: .qemu, message: "first\nsecond")
        #expect(error.description == "first second")
        #expect(LibvirtError(code: .noDomain, domain: .none, message: "").description == "libvirt error noDomain")
    }
}
