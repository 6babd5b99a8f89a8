#!/usr/bin/python3
"""A real SMTP server for the email_action tests (Debian's python3-aiosmtpd).

Usage: smtp_server.py OUT_DIR [CERT KEY USER PASSWORD]
Listens on 127.0.0.1 (a free port, printed on stdout once ready); every
message is written to OUT_DIR/N.eml with the envelope in X-Envelope-* lines.
With CERT and KEY it offers STARTTLS and requires it; with USER and PASSWORD
it requires that login (after STARTTLS).
"""
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        path = os.path.join(self.out, f"{self.n}.eml")
        head = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n"
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    out = sys.argv[1]
    kwargs = {}
    if len(sys.argv) > 3:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        kwargs.update(tls_context=ctx, require_starttls=True)
    if len(sys.argv) > 5:
        user, password = sys.argv[4].encode(), sys.argv[5].encode()

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
            return AuthResult(success=ok)

        kwargs.update(authenticator=check, auth_required=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Store(out), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
    controller.start()
    print(port, flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        controller.stop()


main()
