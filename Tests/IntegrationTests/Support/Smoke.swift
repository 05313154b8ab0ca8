import Testing

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct GuestSmokeTests {
    @Test func guestBootsAndCountsOnConsoleAndDisk() throws {
        let guest = try TestGuest(tag: "smoke")
        defer { guest.destroy() }
        let seen = try guest.waitForCounter(atLeast: 3)
        #expect(seen >= 3)
        let onDisk = try TestGuest.diskCounter(guest.diskPaths[0])
        #expect(onDisk != nil && onDisk! >= 2, "disk counter \(String(describing: onDisk))")
    }
}
