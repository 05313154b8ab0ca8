import Foundation
import Hummingbird

/// The panel's static assets, all served by kvmsnap (no CDN: the panel works on an offline LAN).
enum PanelAssets {
    /// `/assets/panel.js`: one script for every page; the page's `data-page` picks what it renders.
    static let script = scriptCore + "\n" + scriptVM + "\n" + scriptPages + "\n"
}

/// The HTML pages: a small shell per page (the script fills it from the JSON API), the login
/// page and error pages. Every text that comes from outside is HTML-escaped.
enum PanelPages {
    static let html = "text/html; charset=utf-8"

    /// The page at `path` for a logged-in caller, or 404.
    static func page(method: HTTPRequest.Method, path: [String], csrf: String) throws -> Response {
        guard method == .get || method == .head else { throw PanelError(.methodNotAllowed, "method not allowed") }
        let shell = { (page: String, title: String, vm: String?) in
            PanelResponse.text(Self.shell(page: page, title: title, vm: vm, csrf: csrf), contentType: html)
        }
        switch path.count {
        case 0: return shell("overview", "Overview", nil)
        case 1 where path[0] == "storage": return shell("storage", "Storage", nil)
        case 1 where path[0] == "jobs": return shell("jobs", "Jobs", nil)
        case 2 where path == ["assets", "panel.js"]: return PanelResponse.text(PanelAssets.script, contentType: "text/javascript; charset=utf-8")
        case 2 where path[0] == "vms": return shell("vm", "VM \(try PanelAPI.vmName(path[1]))", path[1])
        case 3 where path[0] == "vms" && path[2] == "retention": return shell("retention", "Retention of \(try PanelAPI.vmName(path[1]))", path[1])
        default: throw PanelError(.notFound, "no such page")
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func head(_ title: String, csrf: String? = nil) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        \(csrf.map { "<meta name=\"csrf-token\" content=\"\(escape($0))\">" } ?? "")
        <title>\(escape(title)) · kvmsnap</title>
        <link rel="stylesheet" href="/assets/panel.css">
        </head>
        """
    }

    static func shell(page: String, title: String, vm: String? = nil, csrf: String) -> String {
        let vmAttribute = vm.map { " data-vm=\"\(escape($0))\"" } ?? ""
        let vmLinks =
            vm.map { vm in
                let path = "/vms/" + (vm.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? "")
                return "<a href=\"\(escape(path))\">\(escape(vm))</a><a href=\"\(escape(path))/retention\">Retention</a>"
            } ?? ""
        return head(title, csrf: csrf) + """
            <body data-page="\(page)"\(vmAttribute)>
            <header><nav aria-label="Main">
            <span class="brand">kvmsnap</span><a href="/">Overview</a>\(vmLinks)<a href="/storage">Storage</a><a href="/jobs">Jobs</a>
            <button type="button" class="link" id="logout">Log out</button>
            </nav></header>
            <main id="main">
            <h1>\(escape(title))</h1>
            <p id="status" role="status" aria-live="polite"></p>
            <div id="content" aria-live="polite"><p>Loading…</p></div>
            </main>
            <script src="/assets/panel.js"></script>
            </body>
            </html>

            """
    }

    static func login(message: String?) -> String {
        head("Log in") + """
            <body data-page="login">
            <main class="login card">
            <h1>kvmsnap panel</h1>
            \(message.map { "<p class=\"error\" role=\"alert\">\(escape($0))</p>" } ?? "")
            <form method="post" action="/login">
            <label for="token">Panel token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
            <p class="muted">Printed by <code>kvmsnap serve</code> at its first start; <code>kvmsnap serve --show-token</code> prints it again.</p>
            <button type="submit" class="primary">Log in</button>
            </form>
            </main>
            </body>
            </html>

            """
    }

    static func errorPage(_ error: PanelError) -> String {
        head("Error") + """
            <body><main class="card"><h1>\(error.status.code) \(escape(error.status.reasonPhrase))</h1>
            <p>\(escape(error.message))</p><p><a href="/">Back to the overview</a></p></main></body></html>

            """
    }
}
