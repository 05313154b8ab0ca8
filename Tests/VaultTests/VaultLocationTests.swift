import Testing
import Vault

@Suite("vault locations")
struct VaultLocationTests {
    @Test(
        "directory, ssh and s3 locations parse and print back",
        arguments: [
            ("/mnt/nas/vault", VaultLocation.directory(path: "/mnt/nas/vault")),
            ("ssh://backup@nas.lan:2222/srv/vault", .ssh(user: "backup", host: "nas.lan", port: 2222, path: "/srv/vault")),
            ("ssh://10.0.0.2/srv/vault", .ssh(user: nil, host: "10.0.0.2", port: nil, path: "/srv/vault")),
            ("ssh://[fd00::2]:22/v", .ssh(user: nil, host: "fd00::2", port: 22, path: "/v")),
            ("s3://kvm-backups/site-a", .s3(bucket: "kvm-backups", prefix: "site-a")),
            ("s3://kvm-backups", .s3(bucket: "kvm-backups", prefix: "")),
        ])
    func parses(_ text: String, _ expected: VaultLocation) throws {
        let parsed = try VaultLocation(parsing: text)
        #expect(parsed == expected)
        #expect(try VaultLocation(parsing: parsed.description) == expected)
    }

    @Test(
        "hostile or malformed locations are refused",
        arguments: [
            "relative/dir", "", "ssh://-oProxyCommand=x/p", "ssh://host", "ssh://host/", "ssh://u;rm@host/p", "ssh://host:0/p",
            "ssh://host:99999/p", "ssh://host/a/../b", "s3://ab", "s3://Upper/x", "s3://bucket/../x", "ftp://host/p", "/a\0b",
        ])
    func refuses(_ text: String) {
        #expect(throws: VaultError.self) { try VaultLocation(parsing: text) }
    }
}
