import Foundation

/// Finds a secret carried by a URL's text: a parameter of the query (split on `&` and `;`),
/// of the fragment, or of a path segment (`name=value`), percent-decoded, whose name looks like a
/// credential. Such a URL would land in the catalog and in `notify list`: the secret belongs in a
/// 0600 file. Pure; the caller refuses the URL.
public enum URLSecrets {
    /// Names that are a credential however they are spelled around (`access_token`, `x-token`).
    static let containing = ["token", "secret", "passw", "apikey", "api_key", "api-key"]
    /// Names that are a credential on their own or as the last word (`key`, `access_key`).
    static let words: Set<String> = ["key", "sig", "signature", "auth", "passwd", "password", "credential", "credentials"]

    /// Whether `name` (already decoded) looks like the name of a secret, case-insensitive.
    public static func isSecretName(_ name: String) -> Bool {
        let name = name.lowercased().trimmingCharacters(in: .whitespaces)
        if containing.contains(where: { name.contains($0) }) { return true }
        let last = name.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." }).last.map(String.init) ?? name
        return words.contains(name) || words.contains(last)
    }

    /// The first secret-looking parameter name in `query`, `fragment` and the `path` segments
    /// (each percent-encoded as in the URL), with where it was found; nil when there is none.
    public static func firstSecret(path: String, query: String?, fragment: String?) -> (name: String, place: String)? {
        if let query, let name = secretName(inParameters: query) { return (name, "query") }
        if let fragment, let name = secretName(inParameters: fragment) { return (name, "fragment") }
        for segment in path.split(separator: "/") {
            if let name = secretName(inParameters: String(segment), needsValue: true) { return (name, "path") }
        }
        return nil
    }

    /// `a=1&b=2;c=3`: the first name that looks like a secret. With `needsValue`, only the names
    /// of `name=value` (or `name:value`) pieces count (a path segment `keys` is no parameter).
    static func secretName(inParameters text: String, needsValue: Bool = false) -> String? {
        let decoded = text.removingPercentEncoding ?? text
        for piece in decoded.split(whereSeparator: { $0 == "&" || $0 == ";" }) {
            let separator = piece.firstIndex(where: { $0 == "=" || (needsValue && $0 == ":") })
            if needsValue && separator == nil { continue }
            let name = String(piece[..<(separator ?? piece.endIndex)])
            if isSecretName(name) { return name }
        }
        return nil
    }
}
