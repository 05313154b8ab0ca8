import Clibvirt

/// A virtual network (`virNetworkPtr`), e.g. the isolated network a drill's clone is wired to.
///
/// Owns one reference, released with `virNetworkFree` in `deinit`, and keeps its `Connection`
/// alive.
///
/// `@unchecked Sendable`: libvirt network objects are thread-safe; this class has no mutable
/// Swift state.
public final class Network: LibvirtObject<Connection> {
    /// The connection this network was obtained from.
    public var connection: Connection { owner }

    /// Takes ownership of `handle` (one reference).
    init(handle: OpaquePointer, connection: Connection) {
        super.init(handle: handle, owner: connection, release: { virNetworkFree($0) }, getName: { virNetworkGetName($0) })
    }

    /// Whether the network is started.
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkIsActive
    public var isActive: Bool {
        get throws(LibvirtError) { try check(virNetworkIsActive(handle)) == 1 }
    }

    /// Whether the network has a persistent definition.
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkIsPersistent
    public var isPersistent: Bool {
        get throws(LibvirtError) { try check(virNetworkIsPersistent(handle)) == 1 }
    }

    /// The network's XML description (live while it runs).
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkGetXMLDesc
    public func xml() throws(LibvirtError) -> String {
        try takeString(virNetworkGetXMLDesc(handle, 0))
    }

    /// Stops the network; a transient network is gone afterwards.
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkDestroy
    public func destroy() throws(LibvirtError) {
        try check(virNetworkDestroy(handle))
    }

    /// Removes an inactive network's persistent definition.
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkUndefine
    public func undefine() throws(LibvirtError) {
        try check(virNetworkUndefine(handle))
    }
}

extension Connection {
    /// All virtual networks, active and inactive.
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virConnectListAllNetworks
    public func allNetworks() throws(LibvirtError) -> [Network] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virConnectListAllNetworks(handle, &array, 0)
        return try takeHandles(count: count, array) { Network(handle: $0, connection: self) }
    }

    /// Looks a network up by name; throws `.noNetwork` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkLookupByName
    public func lookupNetwork(name: String) throws(LibvirtError) -> Network {
        guard let pointer = virNetworkLookupByName(handle, name) else {
            throw LibvirtError.takeLast().naming("network", "name", name)
        }
        return Network(handle: pointer, connection: self)
    }

    /// Creates and starts a transient network from XML: it has no persistent definition and is
    /// gone once destroyed. See also https://libvirt.org/html/libvirt-libvirt-network.html#virNetworkCreateXML
    public func createTransientNetwork(xml: String) throws(LibvirtError) -> Network {
        let pointer = virNetworkCreateXML(handle, xml)
        return Network(handle: try check(pointer), connection: self)
    }
}
