import Foundation
import Synchronization
import Testing

@testable import Libvirt

@Suite struct EventTests {
    @Test func lifecycleEventIsDeliveredOnSuspend() async throws {
        try EventLoop.start()
        try EventLoop.start()  // idempotent
        #expect(EventLoop.isRunning)
        let connection = try Connection(uri: Fixture.uri)
        let domain = try connection.defineDomain(xml: Fixture.domainXML(name: Fixture.uniqueName("events")))
        defer { Fixture.remove(domain) }
        try domain.start()

        let received = Mutex<[(String, LifecycleEvent)]>([])
        let registration = try connection.onLifecycleEvent(domain: domain) { domain, event in
            received.withLock { $0.append((domain.name, event)) }
        }
        try domain.suspend()

        let deadline = ContinuousClock.now + .seconds(10)
        while received.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let events = received.withLock { $0 }
        #expect(events.first?.0 == domain.name)
        #expect(events.first?.1 == .suspended(detail: 0))  // VIR_DOMAIN_EVENT_SUSPENDED_PAUSED

        try registration.deregister()
        try registration.deregister()  // harmless
        let countAfterDeregister = events.count
        try domain.resume()
        try await Task.sleep(for: .milliseconds(300))
        #expect(received.withLock { $0.count } == countAfterDeregister)
    }

    @Test func lifecycleEventDecodesLibvirtNumbers() {
        #expect(LifecycleEvent(event: 5, detail: 1) == .stopped(detail: 1))
        #expect(LifecycleEvent(event: 2, detail: 0) == .started(detail: 0))
        #expect(LifecycleEvent(event: 42, detail: 3) == .other(event: 42, detail: 3))
        #expect(LifecycleEvent(event: 3, detail: 7).detail == 7)
    }
}

@Suite struct BlockJobEventTests {
    /// The test driver runs no block jobs, but it must accept the registration.
    @Test func blockJobCallbackRegistersAndDeregisters() throws {
        try EventLoop.start()
        let connection = try Connection(uri: Fixture.uri)
        let registration = try connection.onBlockJobEvent { _, _ in }
        #expect(registration.callbackID >= 0)
        try registration.deregister()
    }

    @Test func blockJobEventDecodesLibvirtNumbers() {
        let event = BlockJobEvent(disk: "vda", type: 4, status: 3)
        #expect(event.type == .activeCommit)
        #expect(event.status == .ready)
        #expect(BlockJobEvent(disk: "vda", type: 3, status: 9).status == nil)
    }
}
