import Foundation
import KVMSnapCore

/// A small SMTP client (RFC 5321): EHLO, optional STARTTLS (RFC 3207; the certificate is
/// verified, then EHLO again), optional AUTH PLAIN (only over TLS, so a password never crosses
/// the wire in clear), MAIL FROM, RCPT TO for each recipient, DATA with dot-stuffing, QUIT.
struct SMTPClient {
    let host: String
    let port: Int
    let timeout: Double
    var startTLS = false
    /// User and password for AUTH PLAIN (needs ``startTLS``).
    var credentials: (user: String, password: String)?

    /// Sends `message` (headers and body, CRLF line ends, not yet dot-stuffed).
    func send(from: String, to recipients: [String], message: String, heloName: String) throws(NotifyError) {
        let connection = try TCPConnection.connect(host: host, port: port, timeout: timeout)
        defer { connection.close() }
        try expect(connection, [220], "greeting")
        try command(connection, "EHLO \(heloName)", [250])
        if startTLS {
            try command(connection, "STARTTLS", [220])
            try connection.startTLS(host: host)
            try command(connection, "EHLO \(heloName)", [250])
        }
        if let credentials {
            guard connection.isTLS else { throw NotifyError(.invalidInput, "SMTP AUTH is sent only over TLS (--starttls)") }
            let token = Data(([0] + Array(credentials.user.utf8) + [0] + Array(credentials.password.utf8))).base64EncodedString()
            try connection.send("AUTH PLAIN \(token)\r\n")
            try expect(connection, [235], "AUTH")
        }
        try command(connection, "MAIL FROM:<\(from)>", [250])
        for recipient in recipients { try command(connection, "RCPT TO:<\(recipient)>", [250, 251]) }
        try command(connection, "DATA", [354])
        var data = AlertRendering.dotStuffed(message)
        if !data.hasSuffix("\r\n") { data += "\r\n" }
        try connection.send(data + ".\r\n")
        try expect(connection, [250], "end of data")
        // The mail is accepted at this point: a failed QUIT does not make it undelivered.
        try? command(connection, "QUIT", [221])
    }

    private func command(_ connection: TCPConnection, _ line: String, _ codes: Set<Int>) throws(NotifyError) {
        try connection.send(line + "\r\n")
        try expect(connection, codes, String(line.prefix(while: { $0 != ":" && $0 != " " })))
    }

    /// Reads one reply (all its `NNN-` continuation lines) and checks its code.
    @discardableResult
    private func expect(_ connection: TCPConnection, _ codes: Set<Int>, _ step: String) throws(NotifyError) -> String {
        var lines: [String] = []
        while true {
            let line = try connection.readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
        }
        let last = lines.last ?? ""
        guard let code = Int(last.prefix(3)), codes.contains(code) else {
            throw NotifyError(.delivery, "mail server \(host):\(port) refused \(step): \(Bounds.clip(last, 200))")
        }
        return last
    }
}
