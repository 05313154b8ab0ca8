import Testing
@testable import Libvirt

@Suite struct DescriptionTests {
    /// Shaped like libvirt 9.0's live XML of a QEMU domain after an external snapshot.
    static let liveQemuXML = """
        <domain type='kvm' id='3'>
          <name>web1</name>
          <uuid>0590727f-5bb3-457b-99a5-381851e9d138</uuid>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/var/lib/libvirt/images/web1.snap1.qcow2' index='2'/>
              <backingStore type='file' index='1'>
                <format type='qcow2'/>
                <source file='/var/lib/libvirt/images/web1.qcow2'/>
                <backingStore/>
              </backingStore>
              <target dev='vda' bus='virtio'/>
            </disk>
            <disk type='file' device='cdrom'>
              <driver name='qemu' type='raw'/>
              <target dev='sda' bus='sata'/>
              <readonly/>
            </disk>
            <disk type='volume' device='disk'>
              <driver name='qemu' type='raw'/>
              <source pool='data' volume='web1-data.img'/>
              <target dev='vdb' bus='virtio'/>
            </disk>
          </devices>
        </domain>
        """

    @Test func domainDescriptionReadsDisksAndBackingChain() throws {
        let description = try DomainDescription(xml: Self.liveQemuXML)
        #expect(description.type == "kvm")
        #expect(description.name == "web1")
        #expect(description.uuid == "0590727f-5bb3-457b-99a5-381851e9d138")
        #expect(description.disks.map(\.target) == ["vda", "sda", "vdb"])
        let vda = description.disks[0]
        #expect(vda.format == "qcow2")
        #expect(vda.source == "/var/lib/libvirt/images/web1.snap1.qcow2")
        #expect(vda.backingChain == [
            .init(type: "file", format: "qcow2", source: "/var/lib/libvirt/images/web1.qcow2")
        ])
        let cdrom = description.disks[1]
        #expect(cdrom.device == "cdrom")
        #expect(cdrom.source == nil)
        #expect(cdrom.readOnly)
        #expect(description.disks[2].source == "web1-data.img")
        #expect(description.disks[2].sourcePool == "data")
    }

    @Test func snapshotDescriptionReadsExternalSnapshot() throws {
        let xml = """
            <domainsnapshot>
              <name>nightly-1</name>
              <description>before upgrade</description>
              <state>running</state>
              <parent><name>nightly-0</name></parent>
              <creationTime>1763784000</creationTime>
              <memory snapshot='external' file='/var/lib/kvmsnap/web1/nightly-1.mem'/>
              <disks>
                <disk name='vda' snapshot='external' type='file'>
                  <driver type='qcow2'/>
                  <source file='/var/lib/libvirt/images/web1.nightly-1.qcow2'/>
                </disk>
                <disk name='sda' snapshot='no'/>
              </disks>
              \(Self.liveQemuXML)
            </domainsnapshot>
            """
        let snapshot = try SnapshotDescription(xml: xml)
        #expect(snapshot.name == "nightly-1")
        #expect(snapshot.description == "before upgrade")
        #expect(snapshot.state == "running")
        #expect(snapshot.parent == "nightly-0")
        #expect(snapshot.creationTime == 1_763_784_000)
        #expect(snapshot.memorySnapshot == "external")
        #expect(snapshot.memoryFile == "/var/lib/kvmsnap/web1/nightly-1.mem")
        #expect(snapshot.disks.map(\.name) == ["vda", "sda"])
        #expect(snapshot.disks[0].source == "/var/lib/libvirt/images/web1.nightly-1.qcow2")
        #expect(snapshot.disks[0].format == "qcow2")
        #expect(snapshot.disks[1].snapshot == "no")
        #expect(snapshot.domain?.name == "web1")
    }

    @Test func malformedOrForeignXMLThrowsXMLError() {
        #expect(Fixture.libvirtError { _ = try DomainDescription(xml: "<domain><name>x") }?.code == .xmlError)
        let foreign = Fixture.libvirtError { _ = try SnapshotDescription(xml: "<domain/>") }
        #expect(foreign?.code == .xmlError)
        #expect(foreign?.message.contains("domainsnapshot") == true)
    }

    @Test func descriptionsOfLiveTestDriverObjects() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let description = try domain.parsedXML()
            #expect(description.name == domain.name)
            #expect(description.type == "test")
            #expect(description.disks.map(\.target) == ["vda"])
            let snapshot = try domain.createSnapshot(xml: "<domainsnapshot><name>d1</name></domainsnapshot>")
            let parsed = try snapshot.parsedXML()
            #expect(parsed.name == "d1")
            #expect(parsed.parent == nil)
            #expect(parsed.state == "running")
            #expect(parsed.domain?.name == domain.name)
            #expect(parsed.creationTime != nil)
        }
    }
}
