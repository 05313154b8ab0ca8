import Crypto
import KVMSnapCore

/// The master key in a form one can print and type back: base32 (Crockford alphabet, no I L O U)
/// of master key (64 bytes) + the first 4 bytes of its SHA-256, in dash-separated groups of 5.
/// Decoding ignores case, spaces and dashes, reads O as 0 and I/L as 1, and refuses a key whose
/// checksum does not match (a typo is caught, never turned into a wrong key).
public enum PaperKey {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func encode(masterKey: [UInt8]) -> String {
        let payload = masterKey + Array(SHA256.hash(data: masterKey).prefix(4))
        var chars: [UInt8] = []
        var buffer = 0, bits = 0
        for byte in payload {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                chars.append(alphabet[(buffer >> bits) & 31])
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { chars.append(alphabet[(buffer << (5 - bits)) & 31]) }
        var groups: [String] = []
        var i = 0
        while i < chars.count {
            groups.append(String(decoding: chars[i..<min(i + 5, chars.count)], as: UTF8.self))
            i += 5
        }
        return groups.joined(separator: "-")
    }

    public static func decode(_ text: String) throws(VaultError) -> [UInt8] {
        var values: [Int] = []
        for c in text.uppercased().utf8 {
            switch c {
            case UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"): continue
            case UInt8(ascii: "O"): values.append(0)
            case UInt8(ascii: "I"), UInt8(ascii: "L"): values.append(1)
            default:
                guard let v = alphabet.firstIndex(of: c) else {
                    throw .badPaperKey(reason: "character \"\(Character(Unicode.Scalar(c)))\" is not in the paper key alphabet")
                }
                values.append(v)
            }
        }
        let expected = ((VaultKeys.masterKeyLength + 4) * 8 + 4) / 5
        guard values.count == expected else {
            throw .badPaperKey(reason: "expected \(expected) characters, got \(values.count)")
        }
        var bytes: [UInt8] = []
        var buffer = 0, bits = 0
        for v in values {
            buffer = (buffer << 5) | v
            bits += 5
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((buffer >> bits) & 0xFF))
            }
            buffer &= (1 << bits) - 1
        }
        let master = Array(bytes.prefix(VaultKeys.masterKeyLength))
        let check = Array(bytes.dropFirst(VaultKeys.masterKeyLength).prefix(4))
        guard check == Array(SHA256.hash(data: master).prefix(4)) else {
            throw .badPaperKey(reason: "checksum mismatch (a character is mistyped)")
        }
        return master
    }
}
