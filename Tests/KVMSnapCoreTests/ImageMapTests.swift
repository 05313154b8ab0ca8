import Foundation
import KVMSnapCore
import Testing

/// `qemu-img map --output=json` → changed and allocated ranges (the vault's incremental read).
struct ImageMapTests {
    /// Real qemu-img 7.2 output for a two-layer chain: the top zeroed 0..64k and wrote 2M..2M+64k.
    static let twoLayerMap = """
        [{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": true, "data": false},
        { "start": 65536, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 393216},
        { "start": 131072, "length": 917504, "depth": 1, "present": false, "zero": true, "data": false},
        { "start": 1048576, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 458752},
        { "start": 1114112, "length": 983040, "depth": 1, "present": false, "zero": true, "data": false},
        { "start": 2097152, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680},
        { "start": 2162688, "length": 64946176, "depth": 1, "present": false, "zero": true, "data": false}]
        """

    @Test func ownRangesAreTheTopLayersDataAndZeroClusters() throws {
        let map = try ImageMap(json: Data(Self.twoLayerMap.utf8))
        #expect(map.ownRanges == [ImageRange(start: 0, length: 65536), ImageRange(start: 2_097_152, length: 65536)])
        #expect(map.mappedSize == 64 << 20)
    }

    @Test func dataRangesAreWhatAFullReadMustReadAtAnyDepthButNotZeroes() throws {
        let map = try ImageMap(json: Data(Self.twoLayerMap.utf8))
        // 65536..131072 touches 0..65536 (a zero cluster), which is not read: ranges stay separate.
        #expect(
            map.dataRanges == [
                ImageRange(start: 65536, length: 65536), ImageRange(start: 1_048_576, length: 65536),
                ImageRange(start: 2_097_152, length: 65536),
            ])
    }

    @Test func olderQemuWithoutPresentCountsDataAndTopZeroesAsPresent() throws {
        let json = """
            [{"start": 0, "length": 4096, "depth": 0, "zero": true, "data": false},
             {"start": 4096, "length": 4096, "depth": 1, "zero": true, "data": false},
             {"start": 8192, "length": 4096, "depth": 1, "zero": false, "data": true}]
            """
        let map = try ImageMap(json: Data(json.utf8))
        #expect(map.ownRanges == [ImageRange(start: 0, length: 4096)])
        #expect(map.dataRanges == [ImageRange(start: 8192, length: 4096)])
    }

    @Test func normalizationSortsMergesTouchingAndOverlappingAndDropsEmpty() {
        let ranges = [
            ImageRange(start: 100, length: 10), ImageRange(start: 0, length: 10), ImageRange(start: 10, length: 5),
            ImageRange(start: 105, length: 20), ImageRange(start: 50, length: 0),
        ]
        #expect(ImageRange.normalized(ranges) == [ImageRange(start: 0, length: 15), ImageRange(start: 100, length: 25)])
        #expect(
            ImageRange.union([[ImageRange(start: 0, length: 4)], [ImageRange(start: 2, length: 4)], []])
                == [ImageRange(start: 0, length: 6)])
        #expect(ImageRange.totalBytes([ImageRange(start: 0, length: 6), ImageRange(start: 10, length: 4)]) == 10)
    }

    @Test func malformedOutputIsRefusedWithAReason() {
        #expect(throws: ImageMap.ParseError.self) { try ImageMap(json: Data("{}".utf8)) }
        #expect(throws: ImageMap.ParseError.self) { try ImageMap(json: Data(#"[{"start": 0}]"#.utf8)) }
        #expect(throws: ImageMap.ParseError.self) { try ImageMap(json: Data(#"[{"start": -1, "length": 1, "depth": 0, "zero": true, "data": false}]"#.utf8)) }
    }
}
