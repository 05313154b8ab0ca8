import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault
import VaultS3

/// How `kvmsnap vault add` creates or attaches a vault.
public struct VaultAddOptions: Sendable {
    public var name: String
    /// An absolute directory path (a local disk, an NFS or SMB mount, a USB disk) or
    /// `ssh://[user@]host[:port]/path` (see ``VaultLocation``).
    public var location: String
    /// Create the vault encrypted (ignored when attaching: the vault's config decides).
    public var encrypt = false
    /// A key file to use instead of a new one: 32 bytes (the key-encryption key) or 64 (the master key).
    public var keyFile: String?
    /// The paper key printed when the vault was created (attaching on another host).
    public var paperKey: String?
    /// A passphrase that protects (create) or opens (attach) the vault's master key.
    public var passphrase: String?
    /// Disk chunk size of a new vault (a power of two, 256 KiB to 4 MiB; default 4 MiB).
    public var chunkSize: Int64 = DiskChunkPlan.defaultChunkSize
    /// Remote vaults: S3 endpoint, region, credentials file; parallel transfers. Stored with the record.
    public var options = VaultOptions()

    public init(name: String, location: String) {
        self.name = name
        self.location = location
    }
}

public struct VaultAddResult: Sendable {
    public var vault: VaultRecord
    /// False when an existing vault was attached.
    public var created: Bool
    /// The master key as a paper key, shown once when an encrypted vault is created.
    public var paperKey: String?
}

/// The vaults this host knows: their registry in the catalog, their local key files, and opening
/// a ``VaultRepository`` for the send, restore and maintenance commands.
///
/// State: none of its own (the catalog's `vault` table and the key files under
/// `<store>/keys/`). Calls: the Vault module (format, backends, keys); no libvirt.
struct Vaults: CatalogService, Sendable {
    let catalog: Catalog
    let store: StoreLayout
    let clock: any EngineClock

    var keysDirectory: String { "\(store.root)/keys" }
    func localKeyPath(_ name: String) -> String { "\(keysDirectory)/\(name).key" }

    func list() throws(EngineError) -> [VaultRecord] {
        try db { () throws(CatalogError) in try catalog.read { try $0.vaults() } }
    }

    func record(named name: String) throws(EngineError) -> VaultRecord {
        guard let record = try db({ () throws(CatalogError) in try catalog.read { try $0.vault(named: name) } }) else {
            throw EngineError(.notFound, "no vault named '\(name)': add it with 'kvmsnap vault add \(name) PATH'")
        }
        return record
    }

    /// Opens a registered vault. `needKey` false opens an encrypted vault without its key
    /// (verify can still check that chunks exist and carry their tags).
    func open(_ name: String, needKey: Bool = true) throws(EngineError) -> (VaultRecord, VaultRepository) {
        let record = try record(named: name)
        return (record, try open(record, needKey: needKey))
    }

    func open(_ record: VaultRecord, needKey: Bool = true) throws(EngineError) -> VaultRepository {
        try vault { () throws(VaultError) in
            let backend = try backend(for: record.location, options: record.options)
            var key: VaultKeySource?
            if let path = record.keyFile {
                do throws(VaultError) { key = VaultKeyFile.source(try VaultKeyFile.read(from: path)) } catch { if needKey { throw error } }
            }
            let repository = try VaultRepository.open(backend: backend, key: key)
            if needKey && repository.config.isEncrypted && key == nil { throw VaultError.keyRequired }
            return repository
        }
    }

    /// Creates a vault at the location, or attaches the one already there, and registers it.
    /// A refused add registers nothing; a killed one leaves at most a vault without a registry
    /// entry, which the next add of the same location attaches.
    func add(_ options: VaultAddOptions) throws(EngineError) -> VaultAddResult {
        if let problem = NameRules.problem(with: options.name, what: "vault name") { throw EngineError(.invalidInput, problem) }
        let stored = try checkedOptions(options)
        // Everything is checked before anything is made: a refused add leaves no directory behind.
        let givenKey = try checkedKeyFile(options.keyFile)
        if try db({ () throws(CatalogError) in try catalog.read { try $0.vault(named: options.name) } }) != nil {
            throw EngineError(.conflict, "a vault named '\(options.name)' exists already (see 'kvmsnap vault list')")
        }
        try refuseNesting(options.location, stored)
        let exists = try vault { () throws(VaultError) in
            let location = try VaultLocation(parsing: options.location)
            if case .directory(let path) = location { return FileManager.default.fileExists(atPath: path + "/" + VaultLayout.config) }
            return try backend(for: options.location, options: stored).exists(VaultLayout.config)
        }
        let madeDirectory = try vault { () throws(VaultError) in try VaultLocation(parsing: options.location) }.madeDirectory
        let (keyFile, created, paper, encrypted): (String?, Bool, String?, Bool)
        do throws(EngineError) {
            (keyFile, created, paper, encrypted) = try exists ? attach(options, stored, givenKey) : create(options, stored, givenKey)
        } catch {
            // A create refused after its directory was made removes that directory again (when still empty).
            if !exists, let madeDirectory { rmdir(madeDirectory) }
            throw error
        }
        let record = VaultRecord(
            name: options.name, location: options.location, keyFile: keyFile, encrypted: encrypted, addedAt: clock.now(), options: stored)
        try db { () throws(CatalogError) in try catalog.write { try $0.save(record) } }
        return VaultAddResult(vault: record, created: created, paperKey: paper)
    }

    /// The options to store with the vault: nil for a plain directory vault; an S3 vault needs
    /// an endpoint; S3-only options are refused elsewhere.
    private func checkedOptions(_ options: VaultAddOptions) throws(EngineError) -> VaultOptions? {
        let location = try vault { () throws(VaultError) in try VaultLocation(parsing: options.location) }
        let o = options.options
        if let jobs = o.jobs, !(1...64).contains(jobs) { throw EngineError(.invalidInput, "--jobs must be 1 to 64") }
        if case .s3 = location {
            guard let endpoint = o.endpoint, !endpoint.isEmpty else {
                throw EngineError(.invalidInput, "an s3:// vault needs --endpoint URL (e.g. https://s3.example.net or http://127.0.0.1:9000)")
            }
            if let region = o.region, region.isEmpty || region.count > 64 || !region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
                throw EngineError(.invalidInput, "--region must be letters, digits and '-' (e.g. us-east-1)")
            }
            if endpoint.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) {
                throw EngineError(.invalidInput, "--endpoint must not contain spaces or control characters")
            }
            if let file = o.credentialsFile, !file.hasPrefix("/") { throw EngineError(.invalidInput, "--credentials-file must be an absolute path") }
            return o
        }
        guard o.endpoint == nil, o.region == nil, o.credentialsFile == nil else {
            throw EngineError(.invalidInput, "--endpoint, --region and --credentials-file apply to s3:// vaults only")
        }
        return o.jobs == nil ? nil : o
    }

    /// The bytes of `--key-file`, refused as bad input (exit 64) when the file is not one.
    private func checkedKeyFile(_ path: String?) throws(EngineError) -> [UInt8]? {
        guard let path else { return nil }
        do { return try VaultKeyFile.read(from: path) } catch { throw EngineError(.invalidInput, "\(error.description) (nothing was changed)") }
    }

    private func create(_ options: VaultAddOptions, _ stored: VaultOptions?, _ givenKey: [UInt8]?) throws(EngineError) -> (String?, Bool, String?, Bool) {
        let encrypt = options.encrypt || options.keyFile != nil || options.passphrase != nil
        guard options.chunkSize >= 256 << 10, options.chunkSize <= 4 << 20, options.chunkSize & (options.chunkSize - 1) == 0 else {
            throw EngineError(.invalidInput, "chunk size must be a power of two from 256 KiB to 4 MiB")
        }
        guard options.paperKey == nil else { throw EngineError(.invalidInput, "--paper-key attaches an existing vault; \(options.location) holds none") }
        return try vault { () throws(VaultError) in
            let backend = try backend(for: options.location, options: stored, create: true)
            guard encrypt else {
                _ = try VaultRepository.create(backend: backend, protection: nil, chunkSize: options.chunkSize, now: clock.now())
                return (nil, true, nil, false)
            }
            var keyPath = options.keyFile
            let protection: VaultKeyProtection
            if let passphrase = options.passphrase {
                protection = .passphrase(passphrase)
            } else if let givenKey {
                protection = .keyFile(givenKey)
            } else {
                let kek = VaultKeyFile.generate()
                try prepareKeysDirectory()
                let path = localKeyPath(options.name)
                try VaultKeyFile.write(kek, to: path)
                keyPath = path
                protection = .keyFile(kek)
            }
            let repository: VaultRepository
            do throws(VaultError) {
                repository = try VaultRepository.create(backend: backend, protection: protection, chunkSize: options.chunkSize, now: clock.now())
            } catch {
                // A refused create (full disk, no permission) leaves no key file of ours behind.
                if keyPath != options.keyFile, let keyPath { unlink(keyPath) }
                throw error
            }
            if options.passphrase != nil, let paper = repository.paperKey {
                // Later commands open the vault with the master key kept locally (0600).
                keyPath = try storeMasterKey(try PaperKey.decode(paper), name: options.name)
            }
            return (keyPath, true, repository.paperKey, true)
        }
    }

    private func attach(_ options: VaultAddOptions, _ stored: VaultOptions?, _ givenKey: [UInt8]?) throws(EngineError) -> (String?, Bool, String?, Bool) {
        try vault { () throws(VaultError) in
            let backend = try backend(for: options.location, options: stored)
            let plain = try VaultRepository.open(backend: backend, key: nil)
            guard plain.config.isEncrypted else { return (nil, false, nil, false) }
            let source: VaultKeySource
            if let paper = options.paperKey {
                source = .masterKey(try PaperKey.decode(paper))
            } else if let passphrase = options.passphrase {
                source = .passphrase(passphrase)
            } else if let givenKey {
                source = VaultKeyFile.source(givenKey)
            } else if let path = existingLocalKey(options.name) {
                // Without a key given: the key file an earlier add of this name made (an add
                // killed between creating the vault and registering it).
                source = VaultKeyFile.source(try VaultKeyFile.read(from: path))
            } else {
                throw VaultError.keyRequired
            }
            let repository = try VaultRepository.open(backend: backend, key: source)
            if let path = options.keyFile ?? (options.paperKey == nil && options.passphrase == nil ? existingLocalKey(options.name) : nil) {
                return (path, false, nil, true)
            }
            guard let paper = repository.paperKey else { throw VaultError.keyRequired }
            return (try storeMasterKey(try PaperKey.decode(paper), name: options.name), false, nil, true)
        }
    }

    /// The one place that turns a vault location into a backend. `create` makes the directory
    /// (or the bucket, when the server says it is missing).
    func backend(for location: String, options: VaultOptions? = nil, create: Bool = false) throws(VaultError) -> any VaultBackend {
        switch try VaultLocation(parsing: location) {
        case .directory(let path): return try DirectoryBackend(root: path, create: create)
        case .s3(let bucket, let prefix):
            guard let endpoint = options?.endpoint else { throw .badLocation(reason: "\(location): an s3:// vault needs an endpoint") }
            let s3 = S3Options(endpoint: endpoint, region: options?.region, credentialsFile: options?.credentialsFile)
            let backend = try S3Backend(bucket: bucket, prefix: prefix, options: s3, credentials: try s3.credentials())
            if create { try backend.ensureBucket() }
            return backend
        case .ssh(let user, let host, let port, let path):
            // `create` needs nothing more: the server makes the vault directory (its parent must exist).
            // `vault add --jobs N` sets the connections (and the send's store workers) for this vault.
            let connections = options?.jobs.map { min(16, max(1, $0)) } ?? SSHTransport.connections()
            return RemoteBackend(transport: SSHTransport(user: user, host: host, port: port, path: path), connections: connections)
        }
    }

    private func existingLocalKey(_ name: String) -> String? {
        FileManager.default.fileExists(atPath: localKeyPath(name)) ? localKeyPath(name) : nil
    }

    private func storeMasterKey(_ master: [UInt8], name: String) throws(VaultError) -> String {
        try prepareKeysDirectory()
        let path = localKeyPath(name)
        try VaultKeyFile.write(master, to: path)
        return path
    }

    private func prepareKeysDirectory() throws(VaultError) {
        do { try store.prepare([(keysDirectory, 0o700)]) } catch { throw VaultError.sink(error.message) }
    }

    /// Forgets a vault on this host (its contents and key file stay).
    func remove(_ name: String) throws(EngineError) {
        _ = try record(named: name)
        try db { () throws(CatalogError) in try catalog.write { _ = try $0.deleteVault(named: name) } }
    }

    /// The master key as a paper key.
    func paperKey(_ name: String) throws(EngineError) -> String {
        let (_, repository) = try open(name)
        guard let paper = repository.paperKey else { throw EngineError(.invalidInput, "vault '\(name)' is not encrypted: it has no key") }
        return paper
    }
}

/// Runs a Vault-module call, turning its error into the engine's.
func vault<T>(_ body: () throws(VaultError) -> T) throws(EngineError) -> T {
    do { return try body() } catch { throw EngineError(error) }
}

extension EngineError {
    init(_ error: VaultError) {
        let code: Code =
            switch error {
            case .wrongKey, .keyRequired, .badPaperKey, .invalidName, .badLocation: .invalidInput
            case .alreadyExists: .conflict
            case .appendOnly: .conflict
            case .busy: .busy
            case .unsupportedFormat: .unsupported
            case .missingObject, .corruptChunk, .badManifest, .badIndex, .badConfig, .backend, .compression, .crypto, .source, .sink, .remote, .connection: .io
            }
        self.init(code, error.description)
    }
}
