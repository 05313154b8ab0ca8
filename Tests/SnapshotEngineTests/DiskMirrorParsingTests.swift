import KVMSnapCore
import Testing

@testable import SnapshotEngine

/// The `<mirror>` of a disk in live XML: how kvmsnap tells whose block job it is.
@Suite struct DiskMirrorParsingTests {
    @Test func copyAndActiveCommitDestinationsAreRead() throws {
        func xml(_ mirror: String) -> String {
            """
            <domain type='qemu'><name>m</name><devices>
              <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/s/top.qcow2'/>\(mirror)<target dev='vda' bus='virtio'/></disk>
              <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/s/b.qcow2'/><target dev='vdb' bus='virtio'/></disk>
            </devices></domain>
            """
        }
        let copy = try DomainDefinition(
            xml: xml(
                "<mirror type='file' file='/x/dest.qcow2' format='qcow2' job='copy' ready='yes'><format type='qcow2'/><source file='/x/dest.qcow2'/></mirror>"))
        #expect(copy.disks[0].mirror == DiskMirror(job: "copy", path: "/x/dest.qcow2"))
        #expect(copy.disks[1].mirror == nil)
        #expect(copy.chainPaths.contains("/x/dest.qcow2"), "a copy's target counts as in use")
        let commit = try DomainDefinition(
            xml: xml("<mirror type='file' job='active-commit' ready='yes'><format type='qcow2'/><source file='/s/base.qcow2'/></mirror>"))
        #expect(commit.disks[0].mirror == DiskMirror(job: "active-commit", path: "/s/base.qcow2"))
        let legacy = try DomainDefinition(xml: xml("<mirror file='/x/old.qcow2' format='qcow2' job='copy'/>"))
        #expect(legacy.disks[0].mirror == DiskMirror(job: "copy", path: "/x/old.qcow2"))
    }
}
