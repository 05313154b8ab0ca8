import SnapshotEngine
import Testing

/// The engine's view of domain XML errors: XML libvirt gave that cannot be read is a libvirt
/// failure, an edit of a disk the domain lacks is "not found" (exit statuses follow these codes).
@Suite struct DomainDefinitionErrorTests {
    @Test func unreadableXMLIsALibvirtFailureAndAMissingDiskIsNotFound() throws {
        do {
            _ = try DomainDefinition(xml: "<domain><name>broken")
            Issue.record("malformed XML was accepted")
        } catch {
            #expect(error.code == .libvirt && error.message.hasPrefix("cannot parse domain XML: not well-formed"), "\(error)")
        }
        var definition = try DomainDefinition(xml: "<domain type='qemu'><name>m</name><devices/></domain>")
        do {
            try definition.setDiskSource(target: "vda", path: "/x", format: "raw")
            Issue.record("an edit of a missing disk succeeded")
        } catch {
            #expect(error.code == .notFound && error.message == "domain has no disk vda", "\(error)")
        }
    }
}
