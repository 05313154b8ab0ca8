import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

// Read-only views of the libvirt XML documents a snapshot engine inspects.
// They read only what they name and keep no XML; they never build XML.

/// The parts of a domain XML document (`<domain>`) that matter for snapshots.
/// See also https://libvirt.org/formatdomain.html
public struct DomainDescription: Sendable, Hashable {
    /// `<domain type=...>`: `kvm`, `qemu`, `test`, ...
    public var type: String
    public var name: String
    public var uuid: String?
    /// Disk-like devices in document order (`<devices><disk>`).
    public var disks: [Disk]

    /// One `<disk>` element.
    public struct Disk: Sendable, Hashable {
        /// `device=`: `disk`, `cdrom`, `floppy`, `lun`.
        public var device: String
        /// `type=`: `file`, `block`, `volume`, `network`, `dir`.
        public var type: String
        /// `<target dev=...>`, e.g. `vda`: the name block job calls take.
        public var target: String
        public var bus: String?
        /// `<driver type=...>`: `qcow2`, `raw`, ...
        public var format: String?
        /// `<source file|dev|name|volume=...>`: nil for an empty drive.
        public var source: String?
        /// For `type='volume'` disks: `<source pool=...>`.
        public var sourcePool: String?
        public var readOnly: Bool
        /// `<backingStore>` chain as libvirt reports it in live XML, top first.
        public var backingChain: [BackingStore]
    }

    /// One `<backingStore>` layer.
    public struct BackingStore: Sendable, Hashable {
        public var type: String?
        public var format: String?
        public var source: String?
    }

    /// Parses a domain XML document; throws `.xmlError` (domain `.swiftWrapper`)
    /// when it is not one.
    public init(xml: String) throws(LibvirtError) {
        let root = try XMLSupport.root(of: xml, named: "domain")
        type = root.attribute("type") ?? ""
        name = root.child("name")?.text ?? ""
        uuid = root.child("uuid")?.text
        disks = root.child("devices")?.children("disk").map(Disk.init) ?? []
    }
}

extension DomainDescription.Disk {
    init(_ element: XMLElement) {
        device = element.attribute("device") ?? "disk"
        type = element.attribute("type") ?? "file"
        target = element.child("target")?.attribute("dev") ?? ""
        bus = element.child("target")?.attribute("bus")
        format = element.child("driver")?.attribute("type")
        let source = element.child("source")
        self.source = source.flatMap(XMLSupport.sourceLocation)
        sourcePool = source?.attribute("pool")
        readOnly = element.child("readonly") != nil
        var chain: [DomainDescription.BackingStore] = []
        var layer = element.child("backingStore")
        while let current = layer, current.child("source") != nil || current.attribute("type") != nil {
            chain.append(
                DomainDescription.BackingStore(
                    type: current.attribute("type"), format: current.child("format")?.attribute("type"),
                    source: current.child("source").flatMap(XMLSupport.sourceLocation)))
            layer = current.child("backingStore")
        }
        backingChain = chain
    }
}

/// Small helpers over FoundationXML, kept private to these descriptions.
enum XMLSupport {
    static func root(of xml: String, named name: String) throws(LibvirtError) -> XMLElement {
        // XMLDocument recovers from some malformed input on Linux; the
        // stricter XMLParser decides whether the text is well-formed.
        let parser = XMLParser(data: Data(xml.utf8))
        let balance = ElementBalance()
        parser.delegate = balance
        guard parser.parse(), balance.depth == 0, balance.sawElement else {
            let reason = parser.parserError.map { " (\($0.localizedDescription))" } ?? ""
            throw LibvirtError(
                code: .xmlError, domain: .swiftWrapper,
                message: "malformed <\(name)> XML at line \(parser.lineNumber)\(reason)")
        }
        let document: XMLDocument
        do {
            document = try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw LibvirtError(
                code: .xmlError, domain: .swiftWrapper, message: "malformed <\(name)> XML: \(error.localizedDescription)")
        }
        guard let root = document.rootElement(), root.name == name else {
            throw LibvirtError(
                code: .xmlError, domain: .swiftWrapper,
                message: "expected a <\(name)> document, got <\(document.rootElement()?.name ?? "nothing")>")
        }
        return root
    }

    /// Where a `<source>` points: a file, a device, a volume or a network name.
    static func sourceLocation(_ source: XMLElement) -> String? {
        source.attribute("file") ?? source.attribute("dev") ?? source.attribute("volume")
            ?? source.attribute("name") ?? source.attribute("dir")
    }
}

/// Counts open elements: Linux's XMLParser accepts a document cut short
/// (`<domain><name>x`), so a non-zero depth at the end means truncated.
private final class ElementBalance: NSObject, XMLParserDelegate {
    var depth = 0
    var sawElement = false

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        depth += 1
        sawElement = true
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        depth -= 1
    }
}

extension XMLElement {
    func attribute(_ name: String) -> String? {
        attribute(forName: name)?.stringValue
    }

    func child(_ name: String) -> XMLElement? {
        elements(forName: name).first
    }

    func children(_ name: String) -> [XMLElement] {
        elements(forName: name)
    }

    var text: String? {
        stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
