import KVMSnapCore

/// A domain's XML with the few questions and edits kvmsnap needs: the core's pure ``DomainXML``
/// with its errors as the engine's. A document libvirt gave us that cannot be read is a libvirt
/// failure; an edit of a disk the domain lacks is `notFound`.
public struct DomainDefinition: Sendable {
    private var document: DomainXML

    public var xml: String { document.xml }
    public var disks: [DomainDisk] { document.disks }
    /// UEFI variable store path (`<os><nvram>`), when the domain has one.
    public var nvramPath: String? { document.nvramPath }
    /// Every image the disks read: their sources and, in live XML, their `<backingStore>` chains.
    public var chainPaths: Set<String> { document.chainPaths }
    /// The guest agent's channel and, in live XML, whether the agent has it open.
    public var agentChannel: GuestAgentChannel { document.agentChannel }

    public init(xml: String) throws(EngineError) {
        do { document = try DomainXML(xml: xml) } catch { throw EngineError(error) }
    }

    /// Points disk `target` at `path` (a file of `format`) and drops any `<backingStore>`.
    public mutating func setDiskSource(target: String, path: String, format: String) throws(EngineError) {
        do { try document.setDiskSource(target: target, path: path, format: format) } catch { throw EngineError(error) }
    }

    /// Makes the definition a new, distinct domain (new name, no UUID, no MACs, NVRAM at `nvramPath`).
    public mutating func makeClone(name: String, nvramPath: String?) throws(EngineError) {
        do { try document.makeClone(name: name, nvramPath: nvramPath) } catch { throw EngineError(error) }
    }

    /// Sets the domain's UUID.
    public mutating func setUUID(_ uuid: String) throws(EngineError) {
        do { try document.setUUID(uuid) } catch { throw EngineError(error) }
    }

    /// Rewires every interface to libvirt network `network` with a new MAC and drops host
    /// devices (``DomainXML/isolateInterfaces(network:)``); returns how many were rewired.
    @discardableResult
    public mutating func isolateInterfaces(network: String) throws(EngineError) -> Int {
        do { return try document.isolateInterfaces(network: network) } catch { throw EngineError(error) }
    }

    /// Removes the disks not in `keep` (read-only CD-ROMs and floppies stay).
    public mutating func keepOnlyDisks(_ keep: Set<String>) throws(EngineError) {
        do { try document.keepOnlyDisks(keep) } catch { throw EngineError(error) }
    }

    /// Moves file-backed serial ports and consoles into `directory`; returns the serial log paths.
    public mutating func relocateFileOutputs(to directory: String) throws(EngineError) -> [String] {
        do { return try document.relocateFileOutputs(to: directory) } catch { throw EngineError(error) }
    }

    /// Graphics ports and bound unix channel paths chosen by libvirt (``DomainXML/releaseHostEndpoints()``).
    public mutating func releaseHostEndpoints() throws(EngineError) {
        do { try document.releaseHostEndpoints() } catch { throw EngineError(error) }
    }

    /// `network:NAME` / `bridge:NAME` / the type, per interface.
    public var interfaceAttachments: [String] { document.interfaceAttachments }

    /// Gives file-backed serial ports and consoles their own files (`<name>-<suffix>.<ext>`).
    public mutating func renameFileOutputs(suffix: String) throws(EngineError) {
        do { try document.renameFileOutputs(suffix: suffix) } catch { throw EngineError(error) }
    }
}

extension EngineError {
    /// The engine's view of a domain XML error: unreadable XML came from libvirt.
    init(_ error: DomainXMLError) {
        switch error.code {
        case .malformed: self.init(.libvirt, error.message)
        case .noSuchDisk: self.init(.notFound, error.message)
        }
    }
}
