import Foundation
import Testing

@testable import Libvirt

/// Shared helpers. Note: libvirt 9.0 shares one in-memory `test:///default`
/// state between all connections of a process while any is open, and tests
/// run in parallel, so each test works on objects with names of its own and
/// only reads the driver's built-in `test` domain.
enum Fixture {
    static let uri = "test:///default"

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func domainXML(name: String) -> String {
        """
        <domain type='test'>
          <name>\(name)</name>
          <memory unit='KiB'>8192</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64'>hvm</type></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/guest/\(name).qcow2'/>
              <target dev='vda' bus='virtio'/>
            </disk>
          </devices>
        </domain>
        """
    }

    /// Defines a domain with a unique name, runs `body`, then removes it with
    /// its snapshot and checkpoint metadata, whatever `body` did.
    static func withScratchDomain<R>(
        _ connection: Connection, running: Bool = false, _ body: (Domain) throws -> R
    ) throws -> R {
        let domain = try connection.defineDomain(xml: domainXML(name: uniqueName("scratch")))
        defer { remove(domain) }
        if running { try domain.start() }
        return try body(domain)
    }

    static func remove(_ domain: Domain) {
        if (try? domain.isActive) == true { try? domain.destroy() }
        if (try? domain.isPersistent) == true {
            try? domain.undefine(flags: [.snapshotsMetadata, .checkpointsMetadata, .managedSave])
        }
    }

    /// Runs `body` and returns the LibvirtError it threw; records a failure when it did not throw.
    static func libvirtError(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) -> LibvirtError? {
        do {
            try body()
            Issue.record("expected a LibvirtError", sourceLocation: sourceLocation)
            return nil
        } catch let error as LibvirtError {
            return error
        } catch {
            Issue.record("expected a LibvirtError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}
