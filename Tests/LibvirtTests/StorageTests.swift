import Testing

@testable import Libvirt

@Suite struct StorageTests {
    static func volumeXML(_ name: String, capacity: Int) -> String {
        """
        <volume>
          <name>\(name)</name>
          <capacity unit='bytes'>\(capacity)</capacity>
          <allocation unit='bytes'>0</allocation>
        </volume>
        """
    }

    @Test func volumesCanBeCreatedFoundClonedAndDeleted() throws {
        let connection = try Connection(uri: Fixture.uri)
        let pool = try connection.lookupStoragePool(name: "default-pool")
        #expect(try pool.isActive)
        #expect(try connection.allStoragePools().map(\.name).contains("default-pool"))

        let name = Fixture.uniqueName("vol") + ".img"
        let volume = try pool.createVolume(xml: Self.volumeXML(name, capacity: 1 << 20))
        var created = [volume]
        defer { for volume in created { try? volume.delete() } }

        #expect(volume.name == name)
        let info = try volume.info()
        #expect(info.type == .file)
        #expect(info.capacity == 1 << 20)
        let path = try volume.path
        #expect(path == "/default-pool/\(name)")
        #expect(try volume.xml().contains("<name>\(name)</name>"))
        #expect(try connection.lookupStorageVolume(path: path).name == name)
        #expect(try pool.lookupVolume(name: name).key == volume.key)
        #expect(try volume.pool().name == "default-pool")

        let cloneName = Fixture.uniqueName("clone") + ".img"
        let clone = try pool.cloneVolume(xml: Self.volumeXML(cloneName, capacity: 1 << 20), from: volume)
        created.append(clone)
        #expect(try clone.info().capacity == 1 << 20)
        #expect(try Set(pool.volumes().map(\.name)).isSuperset(of: [name, cloneName]))

        try clone.delete()
        try volume.delete()
        created.removeAll()
        let error = Fixture.libvirtError { _ = try pool.lookupVolume(name: name) }
        #expect(error?.code == .noStorageVolume)
        #expect(error?.message.contains(name) == true)
    }

    @Test func dirPoolCanBeDefinedStartedAndRemoved() throws {
        let connection = try Connection(uri: Fixture.uri)
        let name = Fixture.uniqueName("pool")
        let pool = try connection.defineStoragePool(
            xml: """
                <pool type='dir'>
                  <name>\(name)</name>
                  <target><path>/\(name)</path></target>
                </pool>
                """)
        defer {
            if (try? pool.isActive) == true { try? pool.destroy() }
            try? pool.undefine()
        }
        #expect(try !pool.isActive)
        #expect(try pool.isPersistent)
        try pool.build()
        try pool.start()
        #expect(try pool.isActive)
        try pool.refresh()
        #expect(try pool.volumes().isEmpty)
        #expect(try pool.xml().contains("<name>\(name)</name>"))
        try pool.destroy()
        try pool.undefine()
        #expect(Fixture.libvirtError { _ = try connection.lookupStoragePool(name: name) }?.code == .noStoragePool)
    }

    @Test func unknownVolumePathThrowsNoStorageVolume() throws {
        let connection = try Connection(uri: Fixture.uri)
        let error = Fixture.libvirtError { _ = try connection.lookupStorageVolume(path: "/nowhere/x.qcow2") }
        #expect(error?.code == .noStorageVolume)
    }
}

@Suite struct StoragePoolInfoTests {
    @Test func poolInfoReportsRunningStateAndSizes() throws {
        let connection = try Connection(uri: Fixture.uri)
        let info = try connection.lookupStoragePool(name: "default-pool").info()
        #expect(info.state == .running)
        #expect(info.capacity > 0)
        #expect(info.available <= info.capacity)
    }

    @Test func volumeCanBeFoundByKey() throws {
        let connection = try Connection(uri: Fixture.uri)
        let pool = try connection.lookupStoragePool(name: "default-pool")
        let name = Fixture.uniqueName("keyed") + ".img"
        let volume = try pool.createVolume(xml: StorageTests.volumeXML(name, capacity: 4096))
        defer { try? volume.delete() }
        #expect(try connection.lookupStorageVolume(key: volume.key).name == name)
    }
}
