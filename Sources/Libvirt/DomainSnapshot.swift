import Clibvirt

/// A snapshot of a domain (`virDomainSnapshotPtr`).
///
/// Owns one reference to the libvirt handle, released with
/// `virDomainSnapshotFree` in `deinit`, and keeps its `Domain` (and so the
/// connection) alive.
///
/// `@unchecked Sendable`: libvirt snapshot objects are thread-safe; this class
/// has no mutable Swift state.
public final class DomainSnapshot: LibvirtObject<Domain> {
    /// The domain this snapshot belongs to.
    public var domain: Domain { owner }

    /// Takes ownership of `handle` (one reference).
    init(handle: OpaquePointer, domain: Domain) {
        super.init(handle: handle, owner: domain, release: { virDomainSnapshotFree($0) }, getName: { virDomainSnapshotGetName($0) })
    }

    /// The snapshot's XML description (`<domainsnapshot>`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotGetXMLDesc
    public func xml(flags: DomainSnapshotXMLFlags = []) throws(LibvirtError) -> String {
        try takeString(virDomainSnapshotGetXMLDesc(handle, flags.rawValue))
    }

    /// The parent snapshot, or nil when this snapshot is a root.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotGetParent
    public func parent() throws(LibvirtError) -> DomainSnapshot? {
        try optionalHandle(virDomainSnapshotGetParent(handle, 0), missing: .noDomainSnapshot) { DomainSnapshot(handle: $0, domain: domain) }
    }

    /// Whether this is the domain's current snapshot.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotIsCurrent
    public var isCurrent: Bool {
        get throws(LibvirtError) { try check(virDomainSnapshotIsCurrent(handle, 0)) == 1 }
    }

    /// Whether libvirt keeps metadata for this snapshot (false for `.noMetadata` ones).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotHasMetadata
    public var hasMetadata: Bool {
        get throws(LibvirtError) { try check(virDomainSnapshotHasMetadata(handle, 0)) == 1 }
    }

    /// The direct children (all descendants with `.descendants`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotListAllChildren
    public func children(flags: DomainSnapshotListFlags = []) throws(LibvirtError) -> [DomainSnapshot] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virDomainSnapshotListAllChildren(handle, &array, flags.rawValue)
        return try takeHandles(count: count, array) { DomainSnapshot(handle: $0, domain: domain) }
    }

    /// Deletes the snapshot (its data and metadata, or only metadata with
    /// `.metadataOnly`; `.children` / `.childrenOnly` to include descendants).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotDelete
    public func delete(flags: DomainSnapshotDeleteFlags = []) throws(LibvirtError) {
        try check(virDomainSnapshotDelete(handle, flags.rawValue))
    }

    /// Reverts the domain to this snapshot. libvirt 9.0 refuses external snapshots.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainRevertToSnapshot
    public func revert(flags: DomainSnapshotRevertFlags = []) throws(LibvirtError) {
        try check(virDomainRevertToSnapshot(handle, flags.rawValue))
    }
}
