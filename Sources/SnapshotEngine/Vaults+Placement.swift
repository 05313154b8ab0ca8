import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension VaultLocation {
    /// A directory location that does not exist yet (so that `vault add` making it may remove it
    /// again when the create is refused); nil for an existing directory and for remote locations.
    var madeDirectory: String? {
        guard case .directory(let path) = self, !FileManager.default.fileExists(atPath: path) else { return nil }
        return path
    }
}

/// Where a vault lives, reduced to what nesting compares: a scope (this host's file system, one
/// ssh account, one S3 endpoint and bucket) and the path components inside it.
struct VaultPlacement: Equatable {
    var scope: String
    var components: [String]

    /// True when `self` lies strictly inside `other` (same scope, a longer path under it).
    func isInside(_ other: VaultPlacement) -> Bool {
        scope == other.scope && components.count > other.components.count && Array(components.prefix(other.components.count)) == other.components
    }

    init(scope: String, components: [String]) {
        self.scope = scope
        self.components = components
    }

    init(_ location: VaultLocation, options: VaultOptions?) {
        switch location {
        case .directory(let path):
            self.init(scope: "local", components: Self.split(Self.canonical(path)))
        case .ssh(let user, let host, let port, let path):
            self.init(scope: "ssh:\(user ?? "")@\(host.lowercased()):\(port ?? 22)", components: Self.split(path))
        case .s3(let bucket, let prefix):
            self.init(scope: "s3:\(options?.endpoint ?? "")/\(bucket)", components: Self.split(prefix))
        }
    }

    static func split(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init).filter { $0 != "." }
    }

    /// The path with its longest existing prefix resolved (symbolic links, `..`), so that two
    /// spellings of one directory compare equal; the part that does not exist yet is appended.
    static func canonical(_ path: String) -> String {
        var head = (path as NSString).standardizingPath
        var tail: [String] = []
        while head != "/" && !head.isEmpty {
            if let resolved = realpath(head, nil) {
                defer { free(resolved) }
                return ([String(cString: resolved)] + tail.reversed()).joined(separator: "/")
            }
            tail.append((head as NSString).lastPathComponent)
            head = (head as NSString).deletingLastPathComponent
        }
        return "/" + tail.reversed().joined(separator: "/")
    }
}

extension Vaults {
    /// Refuses a location inside another vault or around one: the outer vault's gc would delete
    /// the inner vault's chunks. Checks the vaults registered here (any kind of location) and,
    /// for a directory, every parent directory that holds a vault config.
    func refuseNesting(_ location: String, _ options: VaultOptions?) throws(EngineError) {
        let parsed = try vault { () throws(VaultError) in try VaultLocation(parsing: location) }
        let placement = VaultPlacement(parsed, options: options)
        for record in try list() {
            guard let other = try? VaultLocation(parsing: record.location) else { continue }
            let registered = VaultPlacement(other, options: record.options)
            if placement.isInside(registered) {
                throw EngineError(.invalidInput, "\(location) is inside vault '\(record.name)' (\(record.location)); nothing was changed")
            }
            if registered.isInside(placement) {
                throw EngineError(.invalidInput, "\(location) contains vault '\(record.name)' (\(record.location)); nothing was changed")
            }
        }
        guard case .directory = parsed else { return }
        var parent = placement.components
        while !parent.isEmpty {
            parent.removeLast()
            let directory = "/" + parent.joined(separator: "/")
            if Self.holdsVaultConfig(directory) {
                throw EngineError(.invalidInput, "\(location) is inside the vault at \(directory); nothing was changed")
            }
        }
    }

    /// A directory whose `config` is a vault config (read only when small: any file named
    /// `config` is not a vault).
    static func holdsVaultConfig(_ directory: String) -> Bool {
        let path = (directory == "/" ? "" : directory) + "/" + VaultLayout.config
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size < 64 << 10,
            let bytes = FileManager.default.contents(atPath: path)
        else { return false }
        do throws(VaultError) {
            _ = try VaultConfig.decode(Array(bytes))
            return true
        } catch {
            if case .unsupportedFormat = error { return true }
            return false
        }
    }
}
