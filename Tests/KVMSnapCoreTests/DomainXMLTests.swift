import KVMSnapCore
import Testing

/// The core's domain XML model reports its own errors: unreadable documents and edits of
/// disks the domain lacks (the engine maps them to its error type).
@Suite struct DomainXMLTests {
    static let xml = """
        <domain type='qemu'><name>m</name><devices>
          <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/s/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
        </devices></domain>
        """

    @Test func unreadableDocumentsAndMissingDisksHaveTheirOwnCodes() throws {
        for bad in ["", "<domain><name>x</nam></domain>", "<network><name>n</name></network>"] {
            do {
                _ = try DomainXML(xml: bad)
                Issue.record("\(bad.debugDescription) was accepted")
            } catch {
                #expect(error.code == .malformed && error.message.hasPrefix("cannot parse domain XML"), "\(error)")
            }
        }
        var document = try DomainXML(xml: Self.xml)
        do {
            try document.setDiskSource(target: "vdz", path: "/x", format: "raw")
            Issue.record("an edit of a missing disk succeeded")
        } catch {
            #expect(error.code == .noSuchDisk && error.message == "domain has no disk vdz", "\(error)")
        }
        #expect(document.disks.map(\.path) == ["/s/a.qcow2"], "a refused edit changed the document")
    }
}
