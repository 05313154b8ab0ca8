import KVMSnapCore
import Testing

@Suite struct HypervisorURITests {
    @Test(
        arguments: [
            ("qemu:///system", nil),
            ("qemu:///session", nil),
            ("test:///default", nil),
            ("qemu+unix:///system?socket=/run/libvirt/libvirt-sock", nil),
            ("qemu+ssh://root@Host2.Example.com/system", "host2.example.com"),
            ("qemu+ssh://admin@host2:2222/system?keyfile=/k", "host2"),
            ("qemu+tcp://[fe80::1]:16509/system", "fe80::1"),
            ("qemu+tls://10.0.0.5/system", "10.0.0.5"),
        ] as [(String, String?)])
    func hostIsParsed(uri: String, host: String?) {
        #expect(HypervisorURI(uri).host == host)
    }

    @Test func onlyThisMachineIsLocal() {
        let names = ["kvm1", "kvm1.lab.example"]
        for uri in [
            "qemu:///system", "qemu+ssh://localhost/system", "qemu+tcp://127.0.0.1/system",
            "qemu+tcp://[::1]/system", "qemu+ssh://root@kvm1/system", "qemu+ssh://KVM1.lab.example/system",
            "qemu+ssh://kvm1.lab.example/system",
        ] {
            #expect(HypervisorURI(uri).isLocal(localNames: names), "\(uri)")
        }
        for uri in [
            "qemu+ssh://kvm2/system", "qemu+ssh://kvm1.other.example/system", "qemu+tls://10.0.0.5/system",
            "qemu+ssh://kvm10/system",
        ] {
            #expect(!HypervisorURI(uri).isLocal(localNames: names), "\(uri)")
        }
        // A short local name also matches the same host's FQDN.
        #expect(HypervisorURI("qemu+ssh://kvm1.lab.example/system").isLocal(localNames: ["kvm1"]))
    }
}
