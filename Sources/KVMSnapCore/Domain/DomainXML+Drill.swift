import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The edits that turn a snapshot's definition into a drill's throwaway clone: it must never
/// reach the production VM's network, disks it does not own, or its log files.
extension DomainXML {
    /// Rewires every `<interface>` to libvirt network `network` (type `network`, no MAC: libvirt
    /// makes a new one, no fixed tap name, no virtual port, VLAN or bandwidth of the original),
    /// and drops host devices (PCI/USB passthrough), which belong to the production VM. Returns
    /// how many interfaces were rewired.
    @discardableResult
    public mutating func isolateInterfaces(network: String) throws(DomainXMLError) -> Int {
        let doc = try Self.parse(xml)
        let interfaces = (try? doc.nodes(forXPath: "/domain/devices/interface")) ?? []
        for case let interface as XMLElement in interfaces {
            for name in ["mac", "source", "target", "virtualport", "vlan", "bandwidth", "ip", "route", "portForward", "driver"] {
                for child in interface.elements(forName: name) { child.detach() }
            }
            interface.removeAttribute(forName: "type")
            interface.addAttribute(XMLNode.attribute(withName: "type", stringValue: "network") as! XMLNode)
            let source = XMLElement(name: "source")
            source.addAttribute(XMLNode.attribute(withName: "network", stringValue: network) as! XMLNode)
            // FoundationXML traps on insertChild(at: 0) into an element without children.
            if interface.childCount == 0 { interface.addChild(source) } else { interface.insertChild(source, at: 0) }
        }
        for node in (try? doc.nodes(forXPath: "/domain/devices/hostdev | /domain/devices/redirdev")) ?? [] { node.detach() }
        store(doc)
        return interfaces.count
    }

    /// Removes every disk whose target is not in `keep`, except read-only CD-ROMs and floppies:
    /// a shareable or skipped disk of the original must not be written by a clone.
    public mutating func keepOnlyDisks(_ keep: Set<String>) throws(DomainXMLError) {
        let doc = try Self.parse(xml)
        for case let disk as XMLElement in (try? doc.nodes(forXPath: "/domain/devices/disk")) ?? [] {
            let target = disk.elements(forName: "target").first?.attribute(forName: "dev")?.stringValue ?? ""
            let device = disk.attribute(forName: "device")?.stringValue ?? "disk"
            let removable = (device == "cdrom" || device == "floppy") && !disk.elements(forName: "readonly").isEmpty
            if !keep.contains(target) && !removable { disk.detach() }
        }
        store(doc)
    }

    /// Moves file-backed serial ports and consoles into `directory` (same file names) and
    /// returns the serial log paths, in port order, for reading the clone's console.
    public mutating func relocateFileOutputs(to directory: String) throws(DomainXMLError) -> [String] {
        let doc = try Self.parse(xml)
        let xpath = "/domain/devices/serial[@type='file']/source | /domain/devices/console[@type='file']/source"
        var paths: [String] = []
        for case let source as XMLElement in (try? doc.nodes(forXPath: xpath)) ?? [] {
            guard let path = source.attribute(forName: "path")?.stringValue else { continue }
            let moved = (directory as NSString).appendingPathComponent((path as NSString).lastPathComponent)
            source.removeAttribute(forName: "path")
            source.addAttribute(XMLNode.attribute(withName: "path", stringValue: moved) as! XMLNode)
            if source.parent?.name == "serial" && !paths.contains(moved) { paths.append(moved) }
        }
        store(doc)
        return paths
    }

    /// Lets libvirt choose the host-side endpoints the original holds while it runs: graphics
    /// ports (autoport), and the socket paths of unix channels libvirt binds (the guest agent's),
    /// so the clone starts next to the running original.
    public mutating func releaseHostEndpoints() throws(DomainXMLError) {
        let doc = try Self.parse(xml)
        for case let graphics as XMLElement in (try? doc.nodes(forXPath: "/domain/devices/graphics")) ?? [] {
            for name in ["port", "tlsPort", "websocket", "autoport"] { graphics.removeAttribute(forName: name) }
            graphics.addAttribute(XMLNode.attribute(withName: "autoport", stringValue: "yes") as! XMLNode)
        }
        let channels = "/domain/devices/channel[@type='unix']/source[@mode='bind']"
        for case let source as XMLElement in (try? doc.nodes(forXPath: channels)) ?? [] { source.removeAttribute(forName: "path") }
        store(doc)
    }

    /// The networks and bridges the domain's interfaces are attached to (`network:NAME`,
    /// `bridge:NAME`, or the interface type for others).
    public var interfaceAttachments: [String] {
        guard let doc = try? Self.parse(xml) else { return [] }
        return ((try? doc.nodes(forXPath: "/domain/devices/interface")) ?? []).compactMap { node -> String? in
            guard let interface = node as? XMLElement else { return nil }
            let type = interface.attribute(forName: "type")?.stringValue ?? "?"
            let source = interface.elements(forName: "source").first
            if type == "network", let name = source?.attribute(forName: "network")?.stringValue { return "network:\(name)" }
            if type == "bridge", let name = source?.attribute(forName: "bridge")?.stringValue { return "bridge:\(name)" }
            return type
        }
    }
}
