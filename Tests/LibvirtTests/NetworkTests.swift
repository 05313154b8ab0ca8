import Testing

@testable import Libvirt

@Suite struct NetworkTests {
    @Test func transientNetworkIsCreatedFoundAndGoneOnceDestroyed() throws {
        let connection = try Connection(uri: Fixture.uri)
        let name = Fixture.uniqueName("net")
        let network = try connection.createTransientNetwork(
            xml: "<network><name>\(name)</name><bridge name='tb\(name.suffix(6))'/></network>")
        defer { try? network.destroy() }
        #expect(network.name == name)
        #expect(try network.isActive)
        #expect(try !network.isPersistent)
        #expect(try connection.allNetworks().map(\.name).contains(name))
        let found = try connection.lookupNetwork(name: name)
        #expect(try found.xml().contains("<name>\(name)</name>"))
        #expect(try !found.xml().contains("<forward"))
        try network.destroy()
        let error = #expect(throws: LibvirtError.self) { try connection.lookupNetwork(name: name) }
        #expect(error?.code == .noNetwork)
        #expect(error?.message.contains("'\(name)'") == true)
    }

    @Test func screenshotIsReadFromTheStreamToTheEnd() throws {
        // The test driver sends a fixed PNG image through the stream.
        let connection = try Connection(uri: Fixture.uri)
        let shot = try connection.lookupDomain(name: "test").screenshot()
        #expect(shot.mimeType == "image/png")
        #expect(shot.bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(Array(shot.bytes.suffix(8)) == [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82], "IEND is the last chunk: read to the end")
    }
}
