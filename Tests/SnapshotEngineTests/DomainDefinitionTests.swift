import Testing

@testable import SnapshotEngine

/// The one XML model of a domain: what it reads from libvirt's XML and how it edits it.
/// Pure: no libvirt needed.
@Suite struct DomainDefinitionTests {
    static let live = """
        <domain type='kvm'>
          <name>web</name>
          <uuid>6f1c1a7e-0000-4000-8000-000000000001</uuid>
          <os><type arch='x86_64' machine='pc'>hvm</type>
            <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
            <nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/s/top.qcow2'/>
              <backingStore type='file'><format type='qcow2'/><source file='/s/mid.qcow2'/>
                <backingStore type='file'><format type='raw'/><source file='/s/base.img'/><backingStore/></backingStore>
              </backingStore>
              <target dev='vda' bus='virtio'/>
            </disk>
            <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/iso/d.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
            <disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='rbd' name='pool/img'/><target dev='vdb' bus='virtio'/></disk>
            <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg/data'/><target dev='vdc' bus='virtio'/><shareable/></disk>
            <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>
            <channel type='unix'><source mode='bind'/><target type='virtio' name='org.kvmsnap.other.0' state='connected'/></channel>
            <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0' state='AGENT'/></channel>
          </devices>
        </domain>
        """

    @Test func readsDisksNVRAMChainsAndTheAgentChannel() throws {
        let d = try DomainDefinition(xml: Self.live.replacingOccurrences(of: "AGENT", with: "connected"))
        #expect(d.disks.map(\.target) == ["vda", "sda", "vdb", "vdc"])
        #expect(d.disks.map(\.skipReason) == [nil, "sda is a cdrom", "vdb is a network disk", "vdc is shareable"])
        #expect(d.disks[0].path == "/s/top.qcow2" && d.disks[0].format == "qcow2" && d.disks[3].path == "/dev/vg/data")
        #expect(d.nvramPath == "/var/lib/libvirt/qemu/nvram/web_VARS.fd")
        #expect(d.chainPaths.isSuperset(of: ["/s/top.qcow2", "/s/mid.qcow2", "/s/base.img"]))
        #expect(d.agentChannel == .connected)
        #expect(try DomainDefinition(xml: Self.live.replacingOccurrences(of: "AGENT", with: "disconnected")).agentChannel == .disconnected)
        let withoutAgent = Self.live.replacingOccurrences(of: "org.qemu.guest_agent.0", with: "org.example.other")
        #expect(try DomainDefinition(xml: withoutAgent).agentChannel == .absent, "another connected channel is not the agent")
    }

    @Test func editsKeepTheAnswersInStep() throws {
        var d = try DomainDefinition(xml: Self.live)
        try d.setDiskSource(target: "vda", path: "/store/new.qcow2", format: "qcow2")
        #expect(d.disks[0].path == "/store/new.qcow2")
        #expect(!d.chainPaths.contains("/s/mid.qcow2"), "the backing chain is read from the image after a source change")
        #expect(throws: EngineError.self) { try d.setDiskSource(target: "vdz", path: "/x", format: "raw") }
        try d.makeClone(name: "web-copy", nvramPath: "/store/web-copy.fd")
        #expect(d.xml.contains("<name>web-copy</name>") && !d.xml.contains("<uuid>") && !d.xml.contains("52:54:00:aa:bb:cc"))
        #expect(d.nvramPath == "/store/web-copy.fd")
        // Malformed or foreign XML is refused, not silently recovered into a partial document.
        for bad in ["<domain><name>broken", "<domain><name>x</nam></domain>", "", "<network><name>n</name></network>"] {
            #expect(throws: EngineError.self, "\(bad.debugDescription)") { try DomainDefinition(xml: bad) }
        }
    }
}
