import Foundation
import Libvirt
import Testing

/// The Libvirt wrapper against a real libvirtd (qemu:///system) and the busybox test guest.
/// Each test owns its guest (unique `kvmsnap-guesttest-…` name) and removes it, its files and
/// any pool it made in `defer`, even when an expectation fails.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct LibvirtIntegrationTests {

    // MARK: 1. boot

    @Test func bootedGuestCountsOnConsoleAndDisk() throws {
        let guest = try TestGuest(tag: "boot")
        defer { guest.destroy() }

        try guest.waitForCounter(atLeast: 3)
        #expect(try guest.domain.state().state == .running)
        #expect(try guest.domain.isActive)
        #expect(guest.domain.id != nil)
        #expect(guest.domain.name == guest.name)

        // The console shows 1, 2, 3, … without gaps from a fresh disk.
        let counters = guest.consoleCounters()
        let last = try #require(counters.last)
        #expect(counters == Array(1...last), "console counters \(counters)")

        // Sector 0 of vda holds the counter the guest is at (it writes, then prints).
        let before = try #require(guest.latestCounter)
        let onDisk = try #require(try TestGuest.diskCounter(guest.diskPaths[0]))
        let after = try #require(guest.latestCounter)
        #expect(onDisk >= before && onDisk <= after + 1, "disk \(onDisk), console \(before)…\(after)")
    }

    // MARK: 2. save / restore with an altered XML

    @Test func saveThenRestoreWithDiskMovedToACopy() throws {
        let guest = try TestGuest(tag: "saverestore")
        defer { guest.destroy() }
        try guest.waitForCounter(atLeast: 3)

        let saveFile = guest.directory + "/memory.save"
        try guest.domain.save(to: saveFile)
        #expect(try guest.domain.state().state == .shutoff)
        #expect(FileManager.default.fileExists(atPath: saveFile))

        let original = guest.diskPaths[0]
        let savedConsole = try #require(guest.latestCounter)
        let savedDisk = try #require(try TestGuest.diskCounter(original))
        // The guest writes the disk, then prints: the disk is at most one ahead of the console.
        #expect(savedDisk == savedConsole || savedDisk == savedConsole + 1, "disk \(savedDisk), console \(savedConsole)")

        // The guest is stopped, so its image can be copied safely.
        let copy = guest.directory + "/vda-copy.qcow2"
        try TestGuest.run("qemu-img", ["convert", "-f", "qcow2", "-O", "qcow2", original, copy])

        let savedXML = try guest.connection.saveImageXML(path: saveFile)
        #expect(savedXML.contains("<name>\(guest.name)</name>"))
        #expect(savedXML.contains("'\(original)'"), "save image XML does not name \(original)")
        let alteredXML = savedXML.replacingOccurrences(of: "'\(original)'", with: "'\(copy)'")
        #expect(alteredXML.contains("'\(copy)'") && !alteredXML.contains("'\(original)'"))

        try guest.connection.restoreDomain(from: saveFile, xml: alteredXML, flags: [.running])
        try guest.refresh()
        let state = try guest.domain.state()
        #expect(state.state == .running)
        #expect(state.reason == 3, "running reason \(state.reason), expected 3 (VIR_DOMAIN_RUNNING_RESTORED)")

        // The guest resumes from memory: its counter continues, it does not boot again from 1.
        let first = try guest.waitForFirstCounter()
        #expect(
            first == savedConsole + 1 || first == savedConsole + 2,
            "first counter after restore \(first), saved \(savedConsole); console: \(guest.consoleTail())")
        // A cold boot from the copied disk would also continue the count (the guest resumes from
        // the disk value at boot), so check that the guest did not boot: no init banner.
        let console = try String(contentsOfFile: guest.consoleLog, encoding: .utf8)
        #expect(
            !console.contains("kvmsnap-guest booting") && !console.contains("kvmsnap-guest start="),
            "the guest rebooted instead of resuming: \(guest.consoleTail())")

        // It now writes to the copy; the original image stays where it was at save time.
        #expect(try guest.currentSource("vda") == copy)
        let inactiveXML = try guest.domain.xml(flags: [.inactive])
        // libvirt 9.0: the altered XML changes only the live definition; the persistent one
        // still names the original image (a revert must redefine the domain itself).
        #expect(inactiveXML.contains("'\(original)'") && !inactiveXML.contains("'\(copy)'"))
        let later = try guest.waitForCounter(atLeast: first + 2)
        let copyCounter = try #require(try TestGuest.diskCounter(copy))
        #expect(copyCounter >= later, "copy holds \(copyCounter), console at \(later)")
        #expect(try TestGuest.diskCounter(original) == savedDisk)
    }

    // MARK: 3. external memory + disk snapshot

    @Test func externalMemoryAndDiskSnapshot() throws {
        let guest = try TestGuest(tag: "extsnap")
        defer { guest.destroy() }
        try guest.waitForCounter(atLeast: 3)

        let original = guest.diskPaths[0]
        let memoryFile = guest.directory + "/snap1.mem"
        let overlay = guest.directory + "/vda.snap1.qcow2"
        let xml = """
            <domainsnapshot>
              <name>snap1</name>
              <memory snapshot='external' file='\(memoryFile)'/>
              <disks>
                <disk name='vda' snapshot='external' type='file'>
                  <driver type='qcow2'/>
                  <source file='\(overlay)'/>
                </disk>
              </disks>
            </domainsnapshot>
            """
        let atSnapshot = try #require(guest.latestCounter)
        let snapshot = try guest.domain.createSnapshot(xml: xml, flags: [.live, .atomic, .noMetadata])
        #expect(snapshot.name == "snap1")

        // The memory state: a file only its owner can read, holding this domain's XML.
        #expect(FileManager.default.fileExists(atPath: memoryFile))
        let mode = try HostTools.permissions(memoryFile)
        #expect(mode == 0o600, "memory file mode \(String(mode, radix: 8))")
        let memoryXML = try guest.connection.saveImageXML(path: memoryFile)
        #expect(memoryXML.contains("<name>\(guest.name)</name>"))

        // The disk: the domain now writes to the overlay, whose backing file is the old image.
        #expect(try guest.currentSource("vda") == overlay)
        #expect(try HostTools.backingFile(overlay) == original)
        #expect(try HostTools.imageInfo(overlay)["format"] as? String == "qcow2")

        // No metadata was kept.
        #expect(try guest.domain.snapshotCount() == 0)

        // The guest keeps counting, into the overlay; the frozen image stops changing.
        #expect(try guest.domain.state().state == .running)
        let latest = try #require(guest.latestCounter)
        let later = try guest.waitForCounter(atLeast: latest + 2, timeout: 30)
        #expect(later > atSnapshot)
        let frozen = try #require(try TestGuest.diskCounter(original))
        #expect(frozen <= later - 1, "frozen image at \(frozen), guest at \(later)")
        let inOverlay = try #require(try TestGuest.diskCounter(overlay))
        #expect(inOverlay >= later, "overlay holds \(inOverlay), console at \(later)")
        try guest.waitForCounter(atLeast: later + 1, timeout: 30)
        #expect(try TestGuest.diskCounter(original) == frozen)
    }

    // MARK: 4. storage volume with a backing store

    @Test func storageVolumeWithBackingStore() throws {
        let guest = try TestGuest(tag: "volume")
        defer { guest.destroy() }
        let poolName = guest.name + "-pool"
        defer {
            // Runs before guest.destroy() (defers run last-in, first-out), even on failure.
            if let pool = try? guest.connection.lookupStoragePool(name: poolName) {
                for volume in (try? pool.volumes()) ?? [] where volume.name == "overlay.qcow2" {
                    try? volume.delete()
                }
                try? pool.destroy()
                try? pool.undefine()
            }
        }

        // Let the guest write a counter, then stop it so the backing image is stable.
        try guest.waitForCounter(atLeast: 2)
        try guest.domain.destroy()
        let backing = guest.diskPaths[0]
        let backingCounter = try #require(try TestGuest.diskCounter(backing))
        #expect(backingCounter >= 2)

        let pool = try guest.connection.createTransientStoragePool(
            xml: """
                <pool type='dir'>
                  <name>\(poolName)</name>
                  <target><path>\(guest.directory)</path></target>
                </pool>
                """)
        #expect(try pool.isActive)
        #expect(try !pool.isPersistent)
        #expect(pool.name == poolName)

        // No <capacity>: libvirt takes the backing image's size.
        let volume = try pool.createVolume(
            xml: """
                <volume type='file'>
                  <name>overlay.qcow2</name>
                  <target><format type='qcow2'/></target>
                  <backingStore>
                    <path>\(backing)</path>
                    <format type='qcow2'/>
                  </backingStore>
                </volume>
                """)
        let volumePath = try volume.path
        #expect(volumePath == guest.directory + "/overlay.qcow2")
        #expect(volume.name == "overlay.qcow2")
        #expect(FileManager.default.fileExists(atPath: volumePath))
        #expect(try HostTools.backingFile(volumePath) == backing)

        let info = try volume.info()
        #expect(info.type == .file)
        #expect(info.capacity == (try HostTools.virtualSize(backing)))
        #expect(info.capacity == 64 * 1024 * 1024)
        #expect(info.allocation < 1024 * 1024, "allocation \(info.allocation)")

        // Reading through the overlay shows the backing image's data.
        #expect(try TestGuest.diskCounter(volumePath) == backingCounter)

        // The pool finds it by path, too.
        #expect(try guest.connection.lookupStorageVolume(path: volumePath).name == "overlay.qcow2")

        try volume.delete()
        #expect(!FileManager.default.fileExists(atPath: volumePath))
        #expect(FileManager.default.fileExists(atPath: backing))
        do {
            _ = try pool.lookupVolume(name: "overlay.qcow2")
            Issue.record("the deleted volume is still in the pool")
        } catch {
            #expect(error.code == .noStorageVolume)
        }

        try pool.destroy()
        let pools = try HostTools.virsh(["pool-list", "--all"])
        #expect(!pools.contains(poolName), "pool still listed: \(pools)")
        do {
            _ = try guest.connection.lookupStoragePool(name: poolName)
            Issue.record("the destroyed transient pool can still be looked up")
        } catch {
            #expect(error.code == .noStoragePool)
        }
    }

    // MARK: 5. lifecycle events

    @Test func lifecycleEventsForSuspendAndResume() throws {
        // The event loop must exist before the connection that registers callbacks is opened.
        try EventLoop.start()
        #expect(EventLoop.isRunning)
        let guest = try TestGuest(tag: "events")
        defer { guest.destroy() }
        try guest.waitForCounter(atLeast: 1)

        let connection = try Connection(uri: IntegrationEnvironment.uri)
        let domain = try connection.lookupDomain(name: guest.name)
        let log = LifecycleEventLog()
        let registration = try connection.onLifecycleEvent(domain: domain) { domain, event in
            log.append(event, domainName: domain.name)
        }
        defer { try? registration.deregister() }

        try domain.suspend()
        #expect(HostTools.wait(timeout: 5) { log.contains(\.isSuspended) }, "events: \(log.all)")
        #expect(try domain.state().state == .paused)
        try domain.resume()
        #expect(HostTools.wait(timeout: 5) { log.contains(\.isResumed) }, "events: \(log.all)")
        #expect(try domain.state().state == .running)

        let events = log.all
        let suspended = try #require(events.firstIndex { $0.isSuspended })
        let resumed = try #require(events.firstIndex { $0.isResumed })
        #expect(suspended < resumed, "events out of order: \(events)")
        #expect(events.first { $0.isSuspended }?.detail == 0, "suspend detail should be 'paused' (0): \(events)")
        #expect(log.domainNames == [guest.name])

        // After deregistering, no more events arrive.
        try registration.deregister()
        try registration.deregister()  // harmless
        let seen = log.all.count
        try domain.suspend()
        try domain.resume()
        usleep(1_000_000)
        #expect(log.all.count == seen, "events after deregister: \(log.all.dropFirst(seen))")

        // The guest still counts.
        let latest = try #require(guest.latestCounter)
        try guest.waitForCounter(atLeast: latest + 1, timeout: 30)
    }

    // MARK: 6. error mapping

    @Test func lookupOfAMissingDomainThrowsNoDomain() throws {
        let connection = try Connection(uri: IntegrationEnvironment.uri)
        let missing = "kvmsnap-guesttest-missing-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            _ = try connection.lookupDomain(name: missing)
            Issue.record("lookup of \(missing) succeeded")
        } catch {
            #expect(error.code == .noDomain, "code \(error.code), message \(error.message)")
            #expect(error.message.contains(missing), "message: \(error.message)")
            #expect(!error.description.contains("\n"))
        }
        // The connection stays usable after the error.
        #expect(try connection.isAlive)
    }
}
