import Foundation
import Testing
import Vault

@testable import VaultS3

@Suite("S3 credentials: a 0600 file or the environment")
struct S3OptionsTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s3opt-\(UUID().uuidString.prefix(8))").path

    func write(_ text: String, mode: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/cred"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]))
        return path
    }

    @Test("the [default] section of a 0600 file; other profiles ignored")
    func readsDefaultProfile() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try write("[other]\naws_access_key_id = X\n[default]\naws_access_key_id = AK\naws_secret_access_key = S/+k\n", mode: 0o600)
        let c = try S3Options(endpoint: "http://h", credentialsFile: path).credentials(environment: ["AWS_ACCESS_KEY_ID": "ENV"])
        #expect(c == S3Credentials(accessKeyID: "AK", secretAccessKey: "S/+k"))
    }

    @Test("a group- or world-readable credentials file is refused, naming it")
    func refusesReadableFile() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try write("[default]\naws_access_key_id = AK\naws_secret_access_key = S\n", mode: 0o640)
        let error = try #require(throws: VaultError.self) { try S3Options(endpoint: "http://h", credentialsFile: path).credentials() }
        #expect(error.description.contains(path) && error.description.contains("chmod 600"))
    }

    @Test("without a file: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else a clear refusal")
    func environment() throws {
        let o = S3Options(endpoint: "http://h")
        #expect(o.region == "us-east-1")
        #expect(
            try o.credentials(environment: ["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"]) == S3Credentials(accessKeyID: "A", secretAccessKey: "B"))
        #expect(throws: VaultError.self) { try o.credentials(environment: [:]) }
    }

    @Test("an endpoint that is not http(s)://host[:port] is refused")
    func badEndpoint() {
        for endpoint in ["ftp://h", "http://h/path", "127.0.0.1:9000"] {
            #expect(throws: VaultError.self, "\(endpoint)") {
                try S3Backend(
                    bucket: "bkt", prefix: "", options: S3Options(endpoint: endpoint), credentials: S3Credentials(accessKeyID: "a", secretAccessKey: "b"))
            }
        }
    }
}
