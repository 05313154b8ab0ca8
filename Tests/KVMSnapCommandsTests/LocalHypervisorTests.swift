import Testing

@testable import KVMSnapCommands

/// Issue 10, item 14: which hypervisor URIs name this machine, decided before connecting.
@Suite struct LocalHypervisorTests {
    // Item 14: locality is decided before connecting, from names and addresses.
    @Test func hostNamesAreLocalWhenTheyResolveToThisMachine() throws {
        let own = LocalAddresses.interfaceAddresses()
        #expect(!own.isEmpty)
        for address in own where !address.contains("%") { #expect(LocalAddresses.resolvesHere(address), "\(address)") }
        #expect(LocalAddresses.resolvesHere("localhost") && LocalAddresses.resolvesHere("127.0.1.1"))
        #expect(!LocalAddresses.resolvesHere("192.0.2.1") && !LocalAddresses.resolvesHere("no-such-host.invalid"))
        if let address = own.first(where: { !$0.hasPrefix("127.") && $0 != "::1" && !$0.contains(":") }) {
            // This machine's own address in a URI is this machine: accepted, no remote refusal.
            #expect(throws: Never.self) { try Context.requireLocalHypervisor("qemu+tcp://\(address)/system") }
        }
        #expect(throws: CommandFailure.self) { try Context.requireLocalHypervisor("qemu+tcp://192.0.2.1/system") }
    }
}
