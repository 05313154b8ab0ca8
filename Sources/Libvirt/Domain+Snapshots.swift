import Clibvirt

extension Domain {
    /// Creates a snapshot from `<domainsnapshot>` XML (internal or external,
    /// per the XML and `flags`, e.g. `[.diskOnly, .atomic]`, `.live`, `.quiesce`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotCreateXML
    @discardableResult
    public func createSnapshot(xml: String, flags: DomainSnapshotCreateFlags = []) throws(LibvirtError) -> DomainSnapshot {
        let pointer = virDomainSnapshotCreateXML(handle, xml, flags.rawValue)
        return DomainSnapshot(handle: try check(pointer), domain: self)
    }

    /// Re-creates libvirt's metadata for an existing snapshot from its saved
    /// XML (`.redefine`, plus `.current` to make it current); touches no disk.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotCreateXML
    @discardableResult
    public func redefineSnapshot(xml: String, current: Bool = false) throws(LibvirtError) -> DomainSnapshot {
        try createSnapshot(xml: xml, flags: current ? [.redefine, .current] : .redefine)
    }

    /// The domain's snapshots matching `flags` (all when empty; `.roots`,
    /// `.topological` for parents before children, ...).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainListAllSnapshots
    public func snapshots(flags: DomainSnapshotListFlags = []) throws(LibvirtError) -> [DomainSnapshot] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virDomainListAllSnapshots(handle, &array, flags.rawValue)
        return try takeHandles(count: count, array) { DomainSnapshot(handle: $0, domain: self) }
    }

    /// How many snapshots match `flags`.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotNum
    public func snapshotCount(flags: DomainSnapshotListFlags = []) throws(LibvirtError) -> Int {
        Int(try check(virDomainSnapshotNum(handle, flags.rawValue)))
    }

    /// Looks a snapshot up by name; throws `.noDomainSnapshot` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotLookupByName
    public func lookupSnapshot(name: String) throws(LibvirtError) -> DomainSnapshot {
        guard let pointer = virDomainSnapshotLookupByName(handle, name, 0) else {
            throw LibvirtError.takeLast().naming("domain snapshot", "name", name)
        }
        return DomainSnapshot(handle: pointer, domain: self)
    }

    /// The current snapshot, or nil when the domain has none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotCurrent
    public func currentSnapshot() throws(LibvirtError) -> DomainSnapshot? {
        try optionalHandle(virDomainSnapshotCurrent(handle, 0), missing: .noDomainSnapshot) {
            DomainSnapshot(handle: $0, domain: self)
        }
    }
}
