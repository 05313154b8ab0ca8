import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of a snapshot XML document (`<domainsnapshot>`, as returned by
/// `DomainSnapshot.xml()`) that a snapshot engine reads back.
/// See also https://libvirt.org/formatsnapshot.html
public struct SnapshotDescription: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// `<state>`: the domain state when taken (`running`, `shutoff`, `disk-snapshot`, ...).
    public var state: String?
    /// `<parent><name>`; nil for a root snapshot.
    public var parent: String?
    /// `<creationTime>`: seconds since the Unix epoch.
    public var creationTime: Int64?
    /// `<memory snapshot=...>`: `no`, `internal` or `external`.
    public var memorySnapshot: String?
    /// `<memory file=...>` for external memory snapshots.
    public var memoryFile: String?
    public var disks: [Disk]
    /// The `<domain>` stored inside the snapshot, if present.
    public var domain: DomainDescription?

    /// One `<disks><disk>` entry.
    public struct Disk: Sendable, Hashable {
        /// The disk's target (`vda`) or source path.
        public var name: String
        /// `snapshot=`: `no`, `internal`, `external`, `manual`.
        public var snapshot: String?
        /// `<source file=...>`: the new overlay of an external snapshot.
        public var source: String?
        /// `<driver type=...>`
        public var format: String?
    }

    /// Parses a snapshot XML document; throws `.xmlError` (domain `.swiftWrapper`)
    /// when it is not one.
    public init(xml: String) throws(LibvirtError) {
        let root = try XMLSupport.root(of: xml, named: "domainsnapshot")
        name = root.child("name")?.text ?? ""
        description = root.child("description")?.text
        state = root.child("state")?.text
        parent = root.child("parent")?.child("name")?.text
        creationTime = root.child("creationTime")?.text.flatMap { Int64($0) }
        memorySnapshot = root.child("memory")?.attribute("snapshot")
        memoryFile = root.child("memory")?.attribute("file")
        disks =
            root.child("disks")?.children("disk").map { disk in
                Disk(
                    name: disk.attribute("name") ?? "", snapshot: disk.attribute("snapshot"),
                    source: disk.child("source").flatMap(XMLSupport.sourceLocation),
                    format: disk.child("driver")?.attribute("type"))
            } ?? []
        if let domainElement = root.child("domain") {
            domain = try DomainDescription(xml: domainElement.xmlString)
        } else {
            domain = nil
        }
    }
}

extension Domain {
    /// The domain XML (`xml(flags:)`) parsed into a `DomainDescription`.
    public func parsedXML(flags: DomainXMLFlags = []) throws(LibvirtError) -> DomainDescription {
        try DomainDescription(xml: xml(flags: flags))
    }
}

extension DomainSnapshot {
    /// The snapshot XML (`xml()`) parsed into a `SnapshotDescription`.
    public func parsedXML() throws(LibvirtError) -> SnapshotDescription {
        try SnapshotDescription(xml: xml())
    }
}
