import Testing

@testable import Libvirt

/// The numbers are libvirt's documented ABI values, written out by hand, so a
/// wrong mapping in Flags.swift fails here.
@Suite struct FlagsTests {
    @Test func snapshotFlagsMatchLibvirt() {
        #expect(DomainSnapshotCreateFlags.redefine.rawValue == 1)
        #expect(DomainSnapshotCreateFlags.current.rawValue == 2)
        #expect(DomainSnapshotCreateFlags.noMetadata.rawValue == 4)
        #expect(DomainSnapshotCreateFlags.halt.rawValue == 8)
        #expect(DomainSnapshotCreateFlags.diskOnly.rawValue == 16)
        #expect(DomainSnapshotCreateFlags.reuseExternal.rawValue == 32)
        #expect(DomainSnapshotCreateFlags.quiesce.rawValue == 64)
        #expect(DomainSnapshotCreateFlags.atomic.rawValue == 128)
        #expect(DomainSnapshotCreateFlags.live.rawValue == 256)
        #expect(([.diskOnly, .atomic] as DomainSnapshotCreateFlags).rawValue == 144)
        #expect(DomainSnapshotDeleteFlags.children.rawValue == 1)
        #expect(DomainSnapshotDeleteFlags.metadataOnly.rawValue == 2)
        #expect(DomainSnapshotDeleteFlags.childrenOnly.rawValue == 4)
        #expect(DomainSnapshotListFlags.roots.rawValue == 1)
        #expect(DomainSnapshotListFlags.topological.rawValue == 1024)
    }

    @Test func domainFlagsMatchLibvirt() {
        #expect(DomainUndefineFlags.managedSave.rawValue == 1)
        #expect(DomainUndefineFlags.snapshotsMetadata.rawValue == 2)
        #expect(DomainUndefineFlags.nvram.rawValue == 4)
        #expect(DomainUndefineFlags.keepNVRAM.rawValue == 8)
        #expect(DomainUndefineFlags.checkpointsMetadata.rawValue == 16)
        #expect(DomainXMLFlags.secure.rawValue == 1)
        #expect(DomainXMLFlags.inactive.rawValue == 2)
        #expect(DomainSaveFlags.bypassCache.rawValue == 1)
        #expect(DomainRestoreFlags.running.rawValue == 2)
        #expect(DomainRestoreFlags.paused.rawValue == 4)
        #expect(DomainCreateFlags.paused.rawValue == 1)
        #expect(DomainDestroyFlags.graceful.rawValue == 1)
    }

    @Test func blockAndStorageFlagsMatchLibvirt() {
        #expect(BlockCommitFlags.shallow.rawValue == 1)
        #expect(BlockCommitFlags.delete.rawValue == 2)
        #expect(BlockCommitFlags.active.rawValue == 4)
        #expect(BlockCommitFlags.relative.rawValue == 8)
        #expect(BlockCopyFlags.shallow.rawValue == 1)
        #expect(BlockCopyFlags.reuseExternal.rawValue == 2)
        #expect(BlockCopyFlags.transientJob.rawValue == 4)
        #expect(BlockJobAbortFlags.async.rawValue == 1)
        #expect(BlockJobAbortFlags.pivot.rawValue == 2)
        #expect(BlockRebaseFlags.copy.rawValue == 8)
        #expect(StorageVolumeCreateFlags.preallocMetadata.rawValue == 1)
        #expect(StoragePoolBuildFlags.noOverwrite.rawValue == 4)
    }

    @Test func errorCodesMatchLibvirt() {
        #expect(LibvirtError.Code.noDomain.rawValue == 42)
        #expect(LibvirtError.Code.operationInvalid.rawValue == 55)
        #expect(LibvirtError.Code.noDomainSnapshot.rawValue == 72)
        #expect(LibvirtError.Code.noStoragePool.rawValue == 49)
        #expect(LibvirtError.Code.noStorageVolume.rawValue == 50)
        #expect(LibvirtError.Code.agentUnresponsive.rawValue == 86)
    }

    @Test func typedParametersRoundTripThroughLibvirt() throws {
        let values: [String: TypedParameterValue] = [
            "i": .int(-3), "u": .uint(7), "l": .llong(-1 << 40), "ul": .ullong(1 << 50),
            "d": .double(2.5), "b": .boolean(true), "s": .string("hello"),
        ]
        let decoded = try TypedParameters.withEncoded(values) { params, count in
            TypedParameters.decode(params, count: count)
        }
        #expect(decoded == values)
        #expect(JobStats(type: .completed, raw: ["data_total": .ullong(10), "success": .boolean(true)]).dataTotal == 10)
    }
}
