import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A disk of a domain, as its XML describes it.
public struct DomainDisk: Sendable, Equatable {
    /// `vda`, `sdb`, …
    public var target: String
    /// `disk`, `cdrom`, `floppy`, `lun`
    public var device: String
    /// `file`, `block`, `network`, `volume`, …
    public var sourceType: String
    /// File or block-device path; nil for network and empty CD-ROM drives.
    public var path: String?
    /// Driver type: `qcow2`, `raw`, …
    public var format: String?
    public var readOnly: Bool
    public var shareable: Bool
    /// The block job writing a copy of this disk elsewhere (live XML only): copy or active commit.
    public var mirror: DiskMirror? = nil

    /// Why kvmsnap leaves this disk out of snapshots, or nil when it captures it.
    public var skipReason: String? {
        if device == "cdrom" || device == "floppy" { return "\(target) is a \(device)" }
        if readOnly { return "\(target) is read-only" }
        if shareable { return "\(target) is shareable" }
        if sourceType == "network" { return "\(target) is a network disk" }
        return nil
    }
}

/// A disk's `<mirror>` in live XML: a block copy or active commit and the image it writes to.
public struct DiskMirror: Sendable, Equatable {
    /// `copy` or `active-commit`.
    public var job: String
    /// The destination image (the copy target, or the commit's base); nil when libvirt does not say.
    public var path: String?

    public init(job: String, path: String?) { self.job = job; self.path = path }
}

/// The QEMU guest agent's virtio-serial channel (`org.qemu.guest_agent.0`) of a domain.
public enum GuestAgentChannel: Sendable, Equatable {
    /// The domain has no agent channel.
    case absent
    /// Configured, but no agent in the guest has opened it (or the XML is not live).
    case disconnected
    /// Live XML: the agent inside the guest has the channel open.
    case connected
}

/// Why a domain's XML could not be read or edited.
public struct DomainXMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Not well-formed, or not a `<domain>` document.
        case malformed
        /// An edit names a disk the domain does not have.
        case noSuchDisk
    }
    public var code: Code
    public var message: String
    public var description: String { message }
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
}

/// A domain's XML with the few questions and edits kvmsnap needs. Value type over the text:
/// the XML is parsed once on creation and after each edit, and the answers are stored.
/// Pure: the engine's `DomainDefinition` wraps it with the engine's error type.
public struct DomainXML: Sendable {
    public private(set) var xml: String
    public private(set) var disks: [DomainDisk]
    /// UEFI variable store path (`<os><nvram>`), when the domain has one.
    public private(set) var nvramPath: String?
    /// Every image the disks read: their sources and, in live XML, their `<backingStore>` chains.
    public private(set) var chainPaths: Set<String>
    /// The guest agent's channel and, in live XML, whether the agent has it open.
    public private(set) var agentChannel: GuestAgentChannel

    public init(xml: String) throws(DomainXMLError) {
        self.xml = xml
        (disks, nvramPath, chainPaths, agentChannel) = Self.facts(of: try Self.parse(xml))
    }

    /// Stores an edited document's text and the answers read from it.
    mutating func store(_ doc: XMLDocument) {
        xml = doc.xmlString
        (disks, nvramPath, chainPaths, agentChannel) = Self.facts(of: doc)
    }

    static func parse(_ xml: String) throws(DomainXMLError) -> XMLDocument {
        // FoundationXML's XMLDocument recovers from malformed input (printing to stderr) instead
        // of throwing, so well-formedness is checked with the SAX parser first.
        // (XMLDocument also crashes on an empty string, which the SAX parser accepts.)
        let checker = XMLParser(data: Data(xml.utf8))
        guard xml.contains("<"), checker.parse(), checker.parserError == nil else {
            throw DomainXMLError(.malformed, "cannot parse domain XML: not well-formed (line \(checker.lineNumber))")
        }
        let doc: XMLDocument
        do { doc = try XMLDocument(xmlString: xml, options: [.nodePreserveWhitespace]) } catch {
            throw DomainXMLError(.malformed, "cannot parse domain XML: \(error.localizedDescription)")
        }
        guard doc.rootElement()?.name == "domain" else {
            throw DomainXMLError(.malformed, "cannot parse domain XML: the root element is not <domain>")
        }
        return doc
    }

    static func first(_ node: XMLNode, _ xpath: String) -> XMLElement? {
        (try? node.nodes(forXPath: xpath))?.first as? XMLElement
    }

    private static func facts(of doc: XMLDocument) -> ([DomainDisk], String?, Set<String>, GuestAgentChannel) {
        let nvram = first(doc, "/domain/os/nvram")?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
        let nodes = (try? doc.nodes(forXPath: "/domain/devices/disk")) ?? []
        let disks = nodes.compactMap { node -> DomainDisk? in
            guard let element = node as? XMLElement,
                let target = first(element, "target")?.attribute(forName: "dev")?.stringValue
            else { return nil }
            let source = first(element, "source")
            let path = source?.attribute(forName: "file")?.stringValue ?? source?.attribute(forName: "dev")?.stringValue
            let mirror = first(element, "mirror").map { mirror in
                let source = first(mirror, "source")
                return DiskMirror(
                    job: mirror.attribute(forName: "job")?.stringValue ?? "copy",
                    path: source?.attribute(forName: "file")?.stringValue ?? source?.attribute(forName: "dev")?.stringValue
                        ?? mirror.attribute(forName: "file")?.stringValue)
            }
            return DomainDisk(
                target: target,
                device: element.attribute(forName: "device")?.stringValue ?? "disk",
                sourceType: element.attribute(forName: "type")?.stringValue ?? "file",
                path: path,
                format: first(element, "driver")?.attribute(forName: "type")?.stringValue,
                readOnly: first(element, "readonly") != nil,
                shareable: first(element, "shareable") != nil,
                mirror: mirror)
        }
        let sources = (try? doc.nodes(forXPath: "/domain/devices/disk//source")) ?? []
        let chain = Set(
            sources.compactMap { node -> String? in
                guard let source = node as? XMLElement else { return nil }
                return source.attribute(forName: "file")?.stringValue ?? source.attribute(forName: "dev")?.stringValue
            })
        let agent: GuestAgentChannel
        if let target = first(doc, "/domain/devices/channel/target[@name='org.qemu.guest_agent.0']") {
            agent = target.attribute(forName: "state")?.stringValue == "connected" ? .connected : .disconnected
        } else {
            agent = .absent
        }
        return (disks, (nvram?.isEmpty ?? true) ? nil : nvram, chain, agent)
    }

    /// Points disk `target` at `path` (a file of `format`) and drops any `<backingStore>`
    /// so libvirt reads the chain from the image itself.
    public mutating func setDiskSource(target: String, path: String, format: String) throws(DomainXMLError) {
        let doc = try Self.parse(xml)
        let nodes = (try? doc.nodes(forXPath: "/domain/devices/disk[target/@dev='\(target)']")) ?? []
        guard let disk = nodes.first as? XMLElement else {
            throw DomainXMLError(.noSuchDisk, "domain has no disk \(target)")
        }
        disk.setAttributesWith(["type": "file", "device": disk.attribute(forName: "device")?.stringValue ?? "disk"])
        for child in disk.elements(forName: "source") + disk.elements(forName: "backingStore") {
            child.detach()
        }
        let source = XMLElement(name: "source")
        source.addAttribute(XMLNode.attribute(withName: "file", stringValue: path) as! XMLNode)
        disk.insertChild(source, at: 0)
        if let driver = disk.elements(forName: "driver").first {
            driver.removeAttribute(forName: "type")
            driver.addAttribute(XMLNode.attribute(withName: "type", stringValue: format) as! XMLNode)
        } else {
            let driver = XMLElement(name: "driver")
            driver.addAttribute(XMLNode.attribute(withName: "name", stringValue: "qemu") as! XMLNode)
            driver.addAttribute(XMLNode.attribute(withName: "type", stringValue: format) as! XMLNode)
            disk.insertChild(driver, at: 0)
        }
        store(doc)
    }

    /// Makes the definition a new, distinct domain: new name, no UUID (libvirt assigns one),
    /// no MAC addresses (libvirt generates new ones), NVRAM at `nvramPath` when given.
    public mutating func makeClone(name: String, nvramPath: String?) throws(DomainXMLError) {
        let doc = try Self.parse(xml)
        Self.first(doc, "/domain/name")?.stringValue = name
        Self.first(doc, "/domain/uuid")?.detach()
        for node in (try? doc.nodes(forXPath: "/domain/devices/interface/mac")) ?? [] { node.detach() }
        if let nvramPath, let nvram = Self.first(doc, "/domain/os/nvram") { nvram.stringValue = nvramPath }
        store(doc)
    }

    /// Sets the domain's UUID.
    public mutating func setUUID(_ uuid: String) throws(DomainXMLError) {
        let doc = try Self.parse(xml)
        guard let domain = Self.first(doc, "/domain") else { return }
        Self.first(doc, "/domain/uuid")?.detach()
        let element = XMLElement(name: "uuid", stringValue: uuid)
        domain.insertChild(element, at: 1)
        store(doc)
    }

    /// Gives file-backed serial ports and consoles their own files (`<name>-<suffix>.<ext>`), so a
    /// clone never writes into the original's log.
    public mutating func renameFileOutputs(suffix: String) throws(DomainXMLError) {
        let doc = try Self.parse(xml)
        let nodes = (try? doc.nodes(forXPath: "/domain/devices/serial[@type='file']/source | /domain/devices/console[@type='file']/source")) ?? []
        for case let source as XMLElement in nodes {
            guard let path = source.attribute(forName: "path")?.stringValue else { continue }
            let ns = path as NSString
            let renamed = ns.deletingPathExtension + "-" + suffix + (ns.pathExtension.isEmpty ? "" : "." + ns.pathExtension)
            source.removeAttribute(forName: "path")
            source.addAttribute(XMLNode.attribute(withName: "path", stringValue: renamed) as! XMLNode)
        }
        store(doc)
    }
}
