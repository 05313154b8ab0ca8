#!/usr/bin/env python3
"""Real alert receivers for kvmsnap's tests, on loopback only.

  notify-receiver.py http DIR [PORT]   an HTTP server: each request's method, path, headers and
                                       body go to DIR/http-<n>.json; answers 200 (a path with
                                       /slow/ in it answers after 3 s)
  notify-receiver.py smtp DIR [PORT]   an SMTP server (aiosmtpd): each mail's envelope and data
                                       go to DIR/mail-<n>.json

The port (0 or omitted: a free one) is written to DIR/port once the server listens. Runs until
killed (SIGTERM).

With NOTIFY_TLS_CERT and NOTIFY_TLS_KEY (PEM files) set, the HTTP server speaks https and the
SMTP server requires STARTTLS; with NOTIFY_SMTP_USER and NOTIFY_SMTP_PASSWORD it also requires
AUTH (over TLS only) with exactly those, and records the login.
"""
import base64
import itertools
import json
import os
import signal
import sys
import threading
import time

counter = itertools.count(1)
lock = threading.Lock()


def save(directory, prefix, record):
    with lock:
        n = next(counter)
    tmp = os.path.join(directory, f".{prefix}-{n}.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.rename(tmp, os.path.join(directory, f"{prefix}-{n:04d}.json"))


def write_port(directory, port):
    tmp = os.path.join(directory, ".port.tmp")
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, os.path.join(directory, "port"))


def tls_context():
    cert, key = os.environ.get("NOTIFY_TLS_CERT"), os.environ.get("NOTIFY_TLS_KEY")
    if not cert:
        return None
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def serve_http(directory, port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            save(directory, "http", {
                "method": self.command, "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "bodyBase64": base64.b64encode(body).decode(),
            })
            if "/slow/" in self.path:
                time.sleep(3)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_PUT = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = tls_context()
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    write_port(directory, server.server_address[1])
    server.serve_forever()


def serve_smtp(directory, port):
    import socket
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            login = getattr(session, "kvmsnap_login", None) if session.authenticated else None
            save(directory, "mail", {
                "mailFrom": envelope.mail_from, "rcptTos": list(envelope.rcpt_tos),
                "data": envelope.original_content.decode("utf-8", "replace"),
                "tls": session.ssl is not None, "authLogin": login,
            })
            return "250 Message accepted for delivery"

    from aiosmtpd.smtp import AuthResult, LoginPassword
    user, password = os.environ.get("NOTIFY_SMTP_USER"), os.environ.get("NOTIFY_SMTP_PASSWORD")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        if ok:
            session.kvmsnap_login = user
        return AuthResult(success=ok, handled=False)

    context = tls_context()
    options = {}
    if context:
        options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    if user:
        options.update(authenticator=authenticator, auth_required=True)

    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **options)
    controller.start()
    write_port(directory, port)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("http", "smtp"):
        sys.exit(__doc__)
    kind, directory = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    os.makedirs(directory, exist_ok=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT}) if kind == "smtp" else None
    (serve_http if kind == "http" else serve_smtp)(directory, port)


if __name__ == "__main__":
    main()
