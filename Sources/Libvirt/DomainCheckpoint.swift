import Clibvirt

/// A checkpoint of a domain's disks, for incremental backup (`virDomainCheckpointPtr`).
///
/// Owns one reference, released with `virDomainCheckpointFree` in `deinit`,
/// and keeps its `Domain` alive.
///
/// `@unchecked Sendable`: libvirt checkpoint objects are thread-safe; this
/// class has no mutable Swift state.
public final class DomainCheckpoint: LibvirtObject<Domain> {
    /// The domain this checkpoint belongs to.
    public var domain: Domain { owner }

    /// Takes ownership of `handle` (one reference).
    init(handle: OpaquePointer, domain: Domain) {
        super.init(handle: handle, owner: domain, release: { virDomainCheckpointFree($0) }, getName: { virDomainCheckpointGetName($0) })
    }

    /// The checkpoint's XML description (`<domaincheckpoint>`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointGetXMLDesc
    public func xml(flags: DomainCheckpointXMLFlags = []) throws(LibvirtError) -> String {
        try takeString(virDomainCheckpointGetXMLDesc(handle, flags.rawValue))
    }

    /// The parent checkpoint, or nil when this one is a root.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointGetParent
    public func parent() throws(LibvirtError) -> DomainCheckpoint? {
        try optionalHandle(virDomainCheckpointGetParent(handle, 0), missing: .noDomainCheckpoint) { DomainCheckpoint(handle: $0, domain: domain) }
    }

    /// Deletes the checkpoint (and its disk bitmaps unless `.metadataOnly`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointDelete
    public func delete(flags: DomainCheckpointDeleteFlags = []) throws(LibvirtError) {
        try check(virDomainCheckpointDelete(handle, flags.rawValue))
    }
}

extension Domain {
    /// Creates a checkpoint from `<domaincheckpoint>` XML.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointCreateXML
    @discardableResult
    public func createCheckpoint(xml: String, flags: DomainCheckpointCreateFlags = []) throws(LibvirtError) -> DomainCheckpoint {
        let pointer = virDomainCheckpointCreateXML(handle, xml, flags.rawValue)
        return DomainCheckpoint(handle: try check(pointer), domain: self)
    }

    /// The domain's checkpoints matching `flags` (all when empty).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainListAllCheckpoints
    public func checkpoints(flags: DomainCheckpointListFlags = []) throws(LibvirtError) -> [DomainCheckpoint] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virDomainListAllCheckpoints(handle, &array, flags.rawValue)
        return try takeHandles(count: count, array) { DomainCheckpoint(handle: $0, domain: self) }
    }

    /// Looks a checkpoint up by name; throws `.noDomainCheckpoint` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointLookupByName
    public func lookupCheckpoint(name: String) throws(LibvirtError) -> DomainCheckpoint {
        guard let pointer = virDomainCheckpointLookupByName(handle, name, 0) else {
            throw LibvirtError.takeLast().naming("domain checkpoint", "name", name)
        }
        return DomainCheckpoint(handle: pointer, domain: self)
    }

    /// Starts a backup job from `<domainbackup>` XML (push or pull mode),
    /// optionally creating a checkpoint from `checkpointXML` at the same
    /// instant. Follow it with `jobStats()`; cancel it with `abortJob()`.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBackupBegin
    public func beginBackup(
        xml: String, checkpointXML: String? = nil, flags: DomainBackupBeginFlags = []
    ) throws(LibvirtError) {
        let status = withOptionalCString(checkpointXML) { checkpointXML in
            virDomainBackupBegin(handle, xml, checkpointXML, flags.rawValue)
        }
        try check(status)
    }

    /// The XML of the running backup job; throws `.noDomainBackup` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBackupGetXMLDesc
    public func backupXML() throws(LibvirtError) -> String {
        try takeString(virDomainBackupGetXMLDesc(handle, 0))
    }
}
