import Foundation
import Testing

@testable import Libvirt

@Suite struct DomainTests {
    @Test func listsTheTestDriversRunningDomain() throws {
        let connection = try Connection(uri: Fixture.uri)
        let names = try connection.allDomains().map(\.name)
        #expect(names.contains("test"))
        let running = try connection.allDomains(flags: .active).map(\.name)
        #expect(running.contains("test"))
        let test = try connection.lookupDomain(name: "test")
        #expect(try test.isActive)
        #expect(test.id != nil)
    }

    @Test func lookupByNameAndByUUIDFindTheSameDomain() throws {
        let connection = try Connection(uri: Fixture.uri)
        let byName = try connection.lookupDomain(name: "test")
        let uuid = try byName.uuidString
        #expect(uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        let byUUID = try connection.lookupDomain(uuid: uuid)
        #expect(byUUID.name == "test")
        #expect(try byUUID.uuidString == uuid)
    }

    @Test func missingDomainThrowsNoDomainNamingIt() throws {
        let connection = try Connection(uri: Fixture.uri)
        let error = Fixture.libvirtError { _ = try connection.lookupDomain(name: "no-such-vm") }
        #expect(error?.code == .noDomain)
        #expect(error?.message.contains("no-such-vm") == true)
        #expect(error?.description.contains("\n") == false)
        let byUUID = Fixture.libvirtError {
            _ = try connection.lookupDomain(uuid: "00000000-0000-0000-0000-000000000001")
        }
        #expect(byUUID?.code == .noDomain)
    }

    @Test func definedDomainGoesThroughItsStates() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection) { domain in
            #expect(try domain.isPersistent)
            #expect(try !domain.isActive)
            #expect(try domain.state().state == .shutoff)
            #expect(domain.id == nil)

            try domain.start()
            #expect(try domain.state().state == .running)
            #expect(domain.id != nil)
            try domain.suspend()
            #expect(try domain.state().state == .paused)
            try domain.resume()
            #expect(try domain.state().state == .running)
            try domain.destroy()
            #expect(try domain.state().state == .shutoff)
        }
    }

    @Test func startingARunningDomainIsRefused() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain throws in
            let error = Fixture.libvirtError { try domain.start() }
            // QEMU says operationInvalid; libvirt 9.0's test driver says internalError.
            #expect(error?.code == .operationInvalid || error?.code == .internalError)
            #expect(error?.message.contains("running") == true)
            #expect(try domain.state().state == .running)
        }
    }

    @Test func undefinedDomainCanNoLongerBeFound() throws {
        let connection = try Connection(uri: Fixture.uri)
        let name = Fixture.uniqueName("undef")
        let domain = try connection.defineDomain(xml: Fixture.domainXML(name: name))
        #expect(try connection.lookupDomain(name: name).uuidString == domain.uuidString)
        #expect(try domain.xml(flags: .inactive).contains("<name>\(name)</name>"))
        try domain.undefine(flags: .snapshotsMetadata)
        let error = Fixture.libvirtError { _ = try connection.lookupDomain(name: name) }
        #expect(error?.code == .noDomain)
    }

    @Test func transientDomainVanishesWhenDestroyed() throws {
        let connection = try Connection(uri: Fixture.uri)
        let name = Fixture.uniqueName("transient")
        let domain = try connection.createTransientDomain(xml: Fixture.domainXML(name: name))
        #expect(try domain.isActive)
        #expect(try !domain.isPersistent)
        try domain.destroy()
        #expect(Fixture.libvirtError { _ = try connection.lookupDomain(name: name) }?.code == .noDomain)
    }

    @Test func shutdownWithTimeoutReturnsOnceShutOff() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            try domain.shutdown(timeout: .seconds(5))
            #expect(try domain.state().state == .shutoff)
            // Already off: returns at once instead of failing.
            try domain.shutdown(timeout: .seconds(1))
        }
    }

    @Test func saveThenRestoreBringsTheDomainBack() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let path = FileManager.default.temporaryDirectory
                .appendingPathComponent(Fixture.uniqueName("save")).path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try domain.save(to: path)
            #expect(try domain.state().state == .shutoff)
            #expect(FileManager.default.fileExists(atPath: path))

            let savedXML = try connection.saveImageXML(path: path)
            #expect(savedXML.contains("<name>\(domain.name)</name>"))
            try connection.defineSaveImageXML(path: path, xml: savedXML)

            // The test driver refuses an alternate XML ("xml modification unsupported").
            try connection.restoreDomain(from: path)
            #expect(try domain.state().state == .running)
        }
    }

    @Test func fsFreezeAndThawReportTheSameFileSystems() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let frozen = try domain.fsFreeze()
            #expect(frozen > 0)
            #expect(try domain.fsThaw() == frozen)
        }
    }

    @Test func blockInfoReportsTheDisksSize() throws {
        let connection = try Connection(uri: Fixture.uri)
        let info = try connection.lookupDomain(name: "test").blockInfo(disk: "/guest/diskimage1")
        #expect(info.capacity > 0)
        #expect(info.physical >= info.allocation)
    }

    /// The test driver implements no block or domain jobs: the calls must
    /// surface libvirt's noSupport error rather than crash or return junk.
    @Test func unsupportedCallsSurfaceNoSupport() throws {
        let connection = try Connection(uri: Fixture.uri)
        let domain = try connection.lookupDomain(name: "test")
        let disk = "/guest/diskimage1"
        #expect(Fixture.libvirtError { _ = try domain.blockJobInfo(disk: disk) }?.code == .noSupport)
        #expect(Fixture.libvirtError { try domain.blockCommit(disk: disk, flags: [.active, .shallow]) }?.code == .noSupport)
        #expect(Fixture.libvirtError { try domain.blockPull(disk: disk) }?.code == .noSupport)
        #expect(Fixture.libvirtError { _ = try domain.jobStats() }?.code == .noSupport)
        let copy = Fixture.libvirtError {
            try domain.blockCopy(
                disk: disk, destinationXML: "<disk type='file'><source file='/tmp/copy.img'/></disk>",
                parameters: [blockCopyBandwidth: .ullong(1 << 20)], flags: .transientJob)
        }
        #expect(copy?.code == .noSupport)
        #expect(copy?.message.contains("virDomainBlockCopy") == true)
    }
}

/// libvirt's VIR_DOMAIN_BLOCK_COPY_BANDWIDTH typed-parameter name.
private let blockCopyBandwidth = "bandwidth"

@Suite struct DomainWaitTests {
    @Test func listingWithStateShowsEachDomainsState() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            try domain.suspend()
            let listed = try connection.allDomainsWithState()
            #expect(listed.first { $0.domain.name == domain.name }?.state == .paused)
            #expect(listed.first { $0.domain.name == "test" }?.state != nil)
        }
    }
}
