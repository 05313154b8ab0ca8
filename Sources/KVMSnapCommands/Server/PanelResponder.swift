import Foundation
import HTTPTypes
import Hummingbird
import KVMSnapCore
import NIOCore

/// Every request of the panel passes here: the path is split and checked (no `.`/`..`, no
/// encoded `/`, names by ``NameRules``), then the caller is authenticated (a session cookie, or
/// `Authorization: Bearer` on the API), then a state-changing request with a cookie must carry
/// the session's CSRF token; only then does a handler run. `GET /api/v1/health`, the login page
/// and the stylesheet answer without a session.
struct PanelResponder: HTTPResponder {
    let backend: PanelBackend
    let sessions: PanelSessions
    let secureCookies: Bool
    var api: PanelAPI { PanelAPI(backend: backend) }

    static let cookieName = "kvmsnap_session"

    /// Who is asking: a browser session (with its CSRF token) or a script with the bearer token.
    enum Caller {
        case session(id: String, csrf: String)
        case bearer
    }

    func respond(to request: Request, context: PanelContext) async throws -> Response {
        let isAPI = request.uri.path.hasPrefix("/api/")
        do {
            return try await route(request, context: context)
        } catch {
            return PanelResponse.error(PanelError.from(error), api: isAPI)
        }
    }

    private func route(_ request: Request, context: PanelContext) async throws -> Response {
        let path = try Self.components(request.uri.path)
        let method = request.method
        // Unauthenticated: health, the login page, the stylesheet.
        if method == .get && path == ["api", "v1", "health"] { return try PanelResponse.json(["status": "ok"]) }
        if path == ["login"] {
            if method == .post { return try await login(request, context: context) }
            return PanelResponse.text(PanelPages.login(message: nil), contentType: "text/html; charset=utf-8")
        }
        if method == .get && path == ["assets", "panel.css"] { return PanelResponse.text(PanelAssets.css, contentType: "text/css; charset=utf-8") }
        let isAPI = path.first == "api"
        guard let caller = authenticate(request, allowBearer: isAPI) else {
            if isAPI { throw PanelError(.unauthorized, "log in first (session cookie) or send Authorization: Bearer <token>") }
            return PanelResponse.redirect("/login")
        }
        if ![.get, .head].contains(method), case .session(_, let csrf) = caller {
            guard let sent = request.headers[HTTPField.Name("X-CSRF-Token")!], PanelRandom.equal(sent, csrf) else {
                throw PanelError(.forbidden, "missing or wrong X-CSRF-Token header (nothing was changed)")
            }
        }
        if method == .post, path == ["logout"], case .session(let id, _) = caller {
            sessions.logout(id)
            return PanelResponse.redirect("/login", cookie: "\(Self.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
        }
        if isAPI { return try await api.route(request, path: Array(path.dropFirst(2)), valid: path.count >= 2 && path[1] == "v1") }
        return try PanelPages.page(method: method, path: path, csrf: { if case .session(_, let csrf) = caller { csrf } else { "" } }())
    }

    /// The path's segments, percent-decoded. Refused (400): a segment that is empty (but a
    /// trailing slash), `.` or `..`, or that decodes to one holding `/`, `\` or a control character.
    static func components(_ path: String) throws -> [String] {
        var raw = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if raw.last == "" { raw = raw.dropLast() }
        return try raw.map { segment -> String in
            guard let decoded = String(segment).removingPercentEncoding, !decoded.isEmpty, decoded != ".", decoded != "..",
                !decoded.contains("/"), !decoded.contains("\\"),
                !decoded.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else { throw PanelError(.badRequest, "invalid path segment (nothing was changed)") }
            return decoded
        }
    }

    private func authenticate(_ request: Request, allowBearer: Bool) -> Caller? {
        if allowBearer, let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            return sessions.tokenMatches(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)) ? .bearer : nil
        }
        guard let id = Self.cookie(Self.cookieName, in: request), let session = sessions.session(id) else { return nil }
        return .session(id: id, csrf: session.csrf)
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == name { return String(parts[1]) }
            }
        }
        return nil
    }

    /// `POST /login`: a form (`token=...`, from the login page: redirects) or JSON `{"token": ...}`
    /// (answers `{"csrf": ...}`). Failures are counted per client address (``PanelSessions``).
    private func login(_ request: Request, context: PanelContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: PanelServer.maxBodyBytes)
        let text = String(buffer: body)
        let isJSON = request.headers[.contentType]?.hasPrefix("application/json") == true
        let token: String
        if isJSON {
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            token = object?["token"] as? String ?? ""
        } else {
            token = Self.formValue("token", in: text) ?? ""
        }
        switch sessions.login(token: token.trimmingCharacters(in: .whitespacesAndNewlines), client: context.clientKey) {
        case .tooManyAttempts:
            throw PanelError(.tooManyRequests, "too many failed logins from this address; wait a minute")
        case .wrongToken:
            if isJSON { throw PanelError(.unauthorized, "wrong token") }
            return PanelResponse.text(PanelPages.login(message: "Wrong token."), status: .unauthorized, contentType: "text/html; charset=utf-8")
        case .session(let id, let csrf):
            let cookie =
                "\(Self.cookieName)=\(id); Path=/; Max-Age=\(Int(PanelSessions.lifetime)); HttpOnly; SameSite=Strict\(secureCookies ? "; Secure" : "")"
            if !isJSON { return PanelResponse.redirect("/", cookie: cookie) }
            var response = try PanelResponse.json(["csrf": csrf])
            response.headers[.setCookie] = cookie
            return response
        }
    }

    /// A value of an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}
