import Foundation

/// A token or password kept in a file of its own, readable by its owner only (mode 0600 or
/// stricter): never in the catalog, never on a command line. Read at each delivery, so a
/// rotated secret takes effect without re-adding the target.
public enum SecretFile {
    /// The secret in `path` (surrounding whitespace and the trailing newline removed). Refuses a
    /// file that is not regular, is group- or world-accessible, is empty, or is over 4 KiB.
    public static func read(_ path: String) throws(NotifyError) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw NotifyError(.invalidInput, "cannot read secret file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw NotifyError(.invalidInput, "secret file \(path) is not a regular file") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw NotifyError(
                .invalidInput,
                "secret file \(path) has mode \(String(mode, radix: 8)): it must be readable by its owner only (chmod 600 \(path))")
        }
        guard info.st_size <= 4096 else { throw NotifyError(.invalidInput, "secret file \(path) is larger than 4 KiB") }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw NotifyError(.invalidInput, "cannot read secret file \(path) as UTF-8 text")
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw NotifyError(.invalidInput, "secret file \(path) is empty") }
        guard !secret.contains(where: { $0 == "\n" || $0 == "\r" }) else {
            throw NotifyError(.invalidInput, "secret file \(path) must hold one line")
        }
        return secret
    }
}
