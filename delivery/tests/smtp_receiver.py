#!/usr/bin/env python3
"""An SMTP server for the email channel's tests (PyPI `aiosmtpd`, independent of the
hub's code). Every message it accepts is parsed with Python's `email` package and
written to OUT_DIR/message-<n>.json (atomically: written aside, then renamed):
{"mail_from", "rcpt_tos", "to", "subject", "message_id", "content_type", "tls", "auth",
 "parts": [{"content_type", "charset", "transfer_encoding", "text"}], "raw"},
the parts' text decoded from their transfer encoding and charset.

Recipients whose address starts with `reject` are refused with 550 (permanent),
those starting with `busy` with 451 (transient); for those starting with `stall`
the server never answers.

usage: smtp_receiver.py PORT OUT_DIR [--starttls CERT KEY | --tls CERT KEY]
                        [--auth USER PASSWORD]
--starttls: offer STARTTLS with this certificate; --tls: TLS from the first byte;
--auth: require AUTH (PLAIN/LOGIN, only over TLS) with these credentials.
"""
import argparse, asyncio, itertools, json, os, ssl, threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("out_dir")
parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
args = parser.parse_args()
counter = itertools.count(1)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy"):
            return "451 4.3.0 mailbox busy, try again later"
        if address.startswith("stall"):
            await asyncio.Event().wait()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("content-transfer-encoding"),
                "text": part.get_content(),
            })
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
            "content_type": msg.get_content_type(),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth": session.auth_data if session.authenticated else None,
            "parts": parts,
            "raw": raw.decode("utf-8", "replace"),
        }
        n = next(counter)
        path = os.path.join(args.out_dir, f"message-{n}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(path + ".tmp", path)
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login.decode(), auth_data.password.decode()) == tuple(args.auth)
    return AuthResult(success=ok, handled=False, auth_data=args.auth[0] if ok else None)


kwargs = {}
if args.starttls or args.tls:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*(args.starttls or args.tls))
    kwargs["tls_context" if args.starttls else "ssl_context"] = context
if args.auth:
    # With TLS from the first byte there is no STARTTLS for aiosmtpd to insist on.
    kwargs.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=not args.tls)

controller = Controller(Handler(), hostname="127.0.0.1", port=args.port, **kwargs)
controller.start()
threading.Event().wait()
