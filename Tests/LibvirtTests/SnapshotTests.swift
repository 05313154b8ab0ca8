import Testing

@testable import Libvirt

@Suite struct SnapshotTests {
    static func snapshotXML(_ name: String) -> String {
        "<domainsnapshot><name>\(name)</name><description>kvmsnap test</description></domainsnapshot>"
    }

    @Test func snapshotsFormATreeAndCanBeDeleted() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let first = try domain.createSnapshot(xml: Self.snapshotXML("first"))
            let second = try domain.createSnapshot(xml: Self.snapshotXML("second"))
            #expect(first.name == "first")
            #expect(try domain.snapshotCount() == 2)
            #expect(try Set(domain.snapshots().map(\.name)) == ["first", "second"])
            #expect(try domain.snapshots(flags: .topological).map(\.name) == ["first", "second"])
            #expect(try domain.snapshots(flags: .roots).map(\.name) == ["first"])

            #expect(try first.parent() == nil)
            #expect(try second.parent()?.name == "first")
            #expect(try first.children().map(\.name) == ["second"])
            #expect(try second.isCurrent)
            #expect(try !first.isCurrent)
            #expect(try domain.currentSnapshot()?.name == "second")
            #expect(try first.hasMetadata)
            #expect(try domain.lookupSnapshot(name: "second").xml().contains("<name>second</name>"))

            try first.delete(flags: .children)
            #expect(try domain.snapshotCount() == 0)
            #expect(try domain.currentSnapshot() == nil)
        }
    }

    @Test func missingSnapshotThrowsNoDomainSnapshot() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection) { domain in
            let error = Fixture.libvirtError { _ = try domain.lookupSnapshot(name: "nope") }
            #expect(error?.code == .noDomainSnapshot)
            #expect(error?.message.contains("nope") == true)
        }
    }

    /// The test driver keeps only metadata, so a plain delete stands in for
    /// `.metadataOnly` (which it refuses).
    @Test func deletedSnapshotCanBeRedefinedFromItsXML() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let xml = try domain.createSnapshot(xml: Self.snapshotXML("kept")).xml()
            try domain.lookupSnapshot(name: "kept").delete()
            #expect(try domain.snapshotCount() == 0)

            let redefined = try domain.redefineSnapshot(xml: xml, current: true)
            #expect(redefined.name == "kept")
            #expect(try redefined.isCurrent)
            #expect(try domain.snapshotCount() == 1)
        }
    }

    @Test func deleteChildrenOnlyKeepsTheParent() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let root = try domain.createSnapshot(xml: Self.snapshotXML("root"))
            try domain.createSnapshot(xml: Self.snapshotXML("child"))
            try root.delete(flags: .childrenOnly)
            #expect(try domain.snapshots().map(\.name) == ["root"])
        }
    }

    @Test func checkpointsCanBeCreatedListedAndDeleted() throws {
        let connection = try Connection(uri: Fixture.uri)
        try Fixture.withScratchDomain(connection, running: true) { domain in
            let checkpoint = try domain.createCheckpoint(
                xml: "<domaincheckpoint><name>cp1</name></domaincheckpoint>")
            #expect(checkpoint.name == "cp1")
            #expect(try domain.checkpoints().map(\.name) == ["cp1"])
            #expect(try domain.lookupCheckpoint(name: "cp1").xml().contains("<name>cp1</name>"))
            #expect(try checkpoint.parent() == nil)
            try checkpoint.delete()
            #expect(Fixture.libvirtError { _ = try domain.lookupCheckpoint(name: "cp1") }?.code == .noDomainCheckpoint)
        }
    }
}
