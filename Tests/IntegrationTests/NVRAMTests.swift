import Foundation
import Testing

/// A UEFI guest (OVMF) keeps its firmware variables in an NVRAM file beside the domain.
/// A snapshot captures that file with the configuration; restoring puts it back.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct NVRAMTests {
    @Test func uefiVariableStoreIsCapturedPrivatelyAndPutBackByRestore() throws {
        let f = try EngineFixture(tag: "uefi", uefi: true)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name, g = f.guest
        let nvram = try #require(g.nvramPath)
        try g.waitForCounter(atLeast: 2)  // booted through OVMF
        let template = try Data(contentsOf: URL(fileURLWithPath: TestGuest.ovmfVarsTemplate))

        let (snap, counter) = try f.snapshot("s1")
        let atSnapshot = try Data(contentsOf: URL(fileURLWithPath: nvram))
        let copy = try #require(snap.nvramPath, "the snapshot of a UEFI VM has no NVRAM copy")
        #expect(copy.hasPrefix(f.storePath + "/"), "\(copy)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == atSnapshot)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? Int)
        #expect(mode == 0o600, "NVRAM copy mode \(String(mode, radix: 8))")
        // OVMF records its boot in the store, so the VM's store is no longer the template:
        // putting the template back below is a change a restore must undo.
        #expect(atSnapshot != template)

        try g.domain.destroy()
        try template.write(to: URL(fileURLWithPath: nvram))
        let result = try cli.run(["restore", vm, "s1", "--confirm", vm, "--no-safety-snapshot"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: nvram)) == atSnapshot, "restore did not put the snapshot's NVRAM back")
        let first = try g.waitForFirstCounter()
        let expected = try #require(counter)
        #expect(first >= expected && first <= expected + 2, "first \(first), snapshot \(expected)")

        // The copy belongs to the snapshot: deleting the snapshot deletes it.
        #expect(try cli.run(["delete", vm, "s1", "--yes"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: copy))
    }
}
