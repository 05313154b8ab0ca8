import Testing

@testable import KVMSnapCore

@Suite struct DoctorRulesTests {
    /// A healthy Debian 12 host, as `kvmsnap doctor` reads it.
    static func healthy() -> HostFacts {
        HostFacts(
            effectiveUserID: 0, uri: "qemu:///system", daemon: .reachable,
            libvirtVersion: SoftwareVersion(9, 0, 0), clientLibraryVersion: SoftwareVersion(9, 0, 0),
            qemuVersion: SoftwareVersion(7, 2, 22),
            capabilities: HostCapabilities(kvm: true, liveMemory: true, externalSnapshotRevert: false, securityModels: ["dac"]),
            virtlogdSocketPresent: true,
            store: HostFacts.Store(
                path: "/var/lib/kvmsnap/store", examinedPath: "/var/lib/kvmsnap/store", filesystemType: "ext4",
                freeBytes: 80 << 30, totalBytes: 250 << 30),
            qemuImg: .found(path: "/usr/bin/qemu-img", output: "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright …"),
            appArmorEnabled: nil, seLinuxEnforce: nil, catalog: .intact(path: "/var/lib/kvmsnap/catalog.sqlite"))
    }

    static func line(_ name: String, _ facts: HostFacts) -> DoctorCheck? {
        DoctorRules.checks(facts).first { $0.name == name }
    }

    @Test func healthyHostIsAllOk() {
        let checks = DoctorRules.checks(Self.healthy())
        #expect(
            checks.map(\.name) == [
                "user", "daemon", "libvirt", "qemu", "kvm", "memory-snapshots", "virtlogd",
                "apparmor", "selinux", "store", "store-space", "qemu-img", "catalog",
            ])
        #expect(checks.allSatisfy { $0.status == .ok }, "\(checks.filter { $0.status != .ok })")
        #expect(DoctorRules.overall(checks) == .ok)
        #expect(Self.line("qemu-img", Self.healthy())?.detail == "/usr/bin/qemu-img 7.2.22")
    }

    @Test func unreachableDaemonFailsWithHintAndSkipsWhatOnlyItKnows() {
        var facts = Self.healthy()
        facts.daemon = .unreachable(error: "Failed to connect socket to '/var/run/libvirt/libvirt-sock': Connection refused")
        facts.libvirtVersion = nil; facts.qemuVersion = nil; facts.capabilities = nil
        let checks = DoctorRules.checks(facts)
        let daemon = checks.first { $0.name == "daemon" }
        #expect(daemon?.status == .fail)
        #expect(daemon?.hint?.contains("libvirtd") == true)
        #expect(checks.first { $0.name == "libvirt" }?.status == .warn)
        #expect(DoctorRules.overall(checks) == .fail)
        // Local checks still run.
        #expect(checks.first { $0.name == "qemu-img" }?.status == .ok)
        #expect(checks.first { $0.name == "catalog" }?.status == .ok)
    }

    @Test(arguments: [((3, 6, 0), DoctorCheck.Status.fail), ((3, 7, 0), .warn), ((8, 0, 0), .warn), ((9, 0, 0), .ok), ((11, 3, 0), .ok)])
    func libvirtVersionThresholds(version: (Int, Int, Int), expected: DoctorCheck.Status) {
        var facts = Self.healthy()
        facts.libvirtVersion = SoftwareVersion(version.0, version.1, version.2)
        #expect(Self.line("libvirt", facts)?.status == expected)
    }

    @Test(arguments: [((4, 1, 0), DoctorCheck.Status.fail), ((4, 2, 0), .warn), ((7, 2, 0), .ok), ((9, 2, 1), .ok)])
    func qemuVersionThresholds(version: (Int, Int, Int), expected: DoctorCheck.Status) {
        var facts = Self.healthy()
        facts.qemuVersion = SoftwareVersion(version.0, version.1, version.2)
        #expect(Self.line("qemu", facts)?.status == expected)
    }

    @Test func newerLibvirtSaysItCanRevertExternalSnapshotsToo() {
        var facts = Self.healthy()
        facts.libvirtVersion = SoftwareVersion(9, 9, 0)
        #expect(Self.line("libvirt", facts)?.detail.contains("libvirt also reverts external snapshots") == true)
        #expect(Self.line("libvirt", Self.healthy())?.detail.contains("revert done by kvmsnap") == true)
    }

    @Test func noKVMAndNoLiveMigrationWarn() {
        var facts = Self.healthy()
        facts.capabilities = HostCapabilities(kvm: false, liveMemory: false, externalSnapshotRevert: false, securityModels: [])
        #expect(Self.line("kvm", facts)?.status == .warn)
        #expect(Self.line("memory-snapshots", facts)?.status == .warn)
    }

    @Test(arguments: [
        ("ext4", DoctorCheck.Status.ok), ("xfs", .ok), ("btrfs", .warn), ("tmpfs", .fail), ("nfs4", .warn),
        ("fuse.sshfs", .warn), ("overlay", .warn), ("squashfs", .fail),
    ])
    func storeFilesystem(type: String, expected: DoctorCheck.Status) {
        var facts = Self.healthy()
        facts.store.filesystemType = type
        #expect(Self.line("store", facts)?.status == expected)
    }

    @Test func storeSpace() {
        var facts = Self.healthy()
        facts.store.freeBytes = 512 << 20
        #expect(Self.line("store-space", facts)?.status == .fail)
        facts.store.freeBytes = 5 << 30
        #expect(Self.line("store-space", facts)?.status == .warn)
        facts.store.freeBytes = 20 << 30  // 20 GiB of 250: under 10 %
        #expect(Self.line("store-space", facts)?.status == .warn)
        facts.store.freeBytes = 80 << 30
        #expect(Self.line("store-space", facts)?.detail == "80.0 GiB free of 250.0 GiB")
    }

    @Test func storeThatCannotBeReadFails() {
        var facts = Self.healthy()
        facts.store.error = "Permission denied"
        #expect(Self.line("store", facts)?.status == .fail)
    }

    @Test func qemuImgMissingOrBrokenFails() {
        var facts = Self.healthy()
        facts.qemuImg = .missing
        #expect(Self.line("qemu-img", facts)?.status == .fail)
        #expect(Self.line("qemu-img", facts)?.hint?.contains("qemu-utils") == true)
        facts.qemuImg = .broken(path: "/usr/bin/qemu-img", error: "exit 1")
        #expect(Self.line("qemu-img", facts)?.status == .fail)
    }

    @Test func appArmorAndSELinux() {
        var facts = Self.healthy()
        facts.appArmorEnabled = "Y\n"
        #expect(Self.line("apparmor", facts)?.status == .warn)  // enabled, libvirt uses only dac
        facts.capabilities?.securityModels = ["apparmor", "dac"]
        #expect(Self.line("apparmor", facts)?.status == .ok)
        facts.appArmorEnabled = "N\n"
        #expect(Self.line("apparmor", facts)?.detail == "disabled")
        facts.seLinuxEnforce = "1"
        #expect(Self.line("selinux", facts)?.status == .warn)
        #expect(Self.line("selinux", facts)?.hint?.contains("virt_image_t") == true)
        facts.seLinuxEnforce = "0"
        #expect(Self.line("selinux", facts)?.status == .ok)
    }

    @Test func catalogStates() {
        var facts = Self.healthy()
        facts.catalog = .missing(path: "/c")
        #expect(Self.line("catalog", facts)?.status == .ok)
        facts.catalog = .damaged(path: "/c", problems: ["*** in database main ***", "Page 7: btreeInitPage() returns error code 11", "a", "b"])
        let line = Self.line("catalog", facts)
        #expect(line?.status == .fail)
        #expect(line?.detail.contains("(4 problems)") == true)
        facts.catalog = .unreadable(path: "/c", error: "/c is an empty file, not a kvmsnap catalog")
        #expect(Self.line("catalog", facts)?.status == .fail)
    }

    @Test func notRootWarns() {
        var facts = Self.healthy()
        facts.effectiveUserID = 1000
        #expect(Self.line("user", facts)?.status == .warn)
    }

    @Test func capabilitiesParsedFromLibvirtXML() {
        let xml = """
            <capabilities><host><cpu><arch>x86_64</arch><model>kvm64</model></cpu>
            <migration_features>
              <live/>
              <uri_transports><uri_transport>tcp</uri_transport></uri_transports>
            </migration_features>
            <secmodel><model>none</model><doi>0</doi></secmodel>
            <secmodel><model>apparmor</model><doi>0</doi></secmodel>
            <secmodel><model>dac</model><doi>0</doi></secmodel></host>
            <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
            </capabilities>
            """
        #expect(
            HostCapabilities(xml: xml) == HostCapabilities(kvm: true, liveMemory: true, externalSnapshotRevert: false, securityModels: ["apparmor", "dac"]))
        let tcgOnly = xml.replacingOccurrences(of: "<domain type='kvm'/>", with: "").replacingOccurrences(of: "<live/>", with: "")
        #expect(HostCapabilities(xml: tcgOnly).kvm == false)
        #expect(HostCapabilities(xml: tcgOnly).liveMemory == false)
    }

    @Test func mountTableFindsTheLongestMountPoint() {
        let mountinfo = """
            21 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
            25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
            40 21 0:40 / /var/lib/kvm\\040snap rw - xfs /dev/vdb rw
            41 21 0:41 / /var/lib/kvm rw - nfs4 host:/x rw
            42 41 0:42 / /var/lib/kvm rw - btrfs /dev/vdc rw
            """
        #expect(MountTable.filesystemType(of: "/var/lib/kvmsnap/store", mountinfo: mountinfo) == "ext4")
        #expect(MountTable.filesystemType(of: "/dev/shm/x", mountinfo: mountinfo) == "tmpfs")
        #expect(MountTable.filesystemType(of: "/var/lib/kvm snap/store", mountinfo: mountinfo) == "xfs")
        #expect(MountTable.filesystemType(of: "/var/lib/kvm/a", mountinfo: mountinfo) == "btrfs")  // mounted over the nfs4
        #expect(MountTable.filesystemType(of: "/x", mountinfo: "garbage") == nil)
    }

    @Test func versionsFromToolOutput() {
        #expect(SoftwareVersion(firstIn: "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)") == SoftwareVersion(7, 2, 22))
        #expect(SoftwareVersion(firstIn: "qemu-img version 9.1") == SoftwareVersion(9, 1, 0))
        #expect(SoftwareVersion(firstIn: "no version here") == nil)
        #expect(SoftwareVersion(9, 0, 0) < SoftwareVersion(9, 9, 0))
        #expect(SoftwareVersion(10, 0, 0) > SoftwareVersion(9, 10, 0))
    }
}
