#!/usr/bin/env python3
"""A webhook receiver for the tests: verifies every request with the Standard Webhooks
reference implementation (PyPI `standardwebhooks`, independent of the hub's code),
answers 204 when the signature holds and 400 when it does not, and appends one JSON
line per request to OUT: {"id", "type", "verified", "status", "events", "alerts",
"received_at", "path"} — `events`/`alerts`: the CloudEvent ids and subjects inside (one for a
single event, several for a grouped batch), `received_at`: Unix seconds.

usage: receiver.py PORT SECRET OUT [FAIL_FIRST]
FAIL_FIRST: answer 503 to the first N requests (to exercise retries).
"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks.webhooks import Webhook

port, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
wh = Webhook(secret)
seen = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        received_at = time.time()
        with lock:
            seen += 1
            n = seen
        rec = {"id": self.headers.get("webhook-id"), "type": None, "verified": False,
               "received_at": received_at, "path": self.path}
        if n <= fail_first:
            status = 503
        else:
            try:
                event = wh.verify(body, {k.lower(): v for k, v in self.headers.items()})
                events = event if isinstance(event, list) else [event]
                rec["verified"], rec["type"] = True, events[0].get("type")
                rec["events"] = [e.get("id") for e in events]
                rec["alerts"] = [e.get("subject") for e in events]
                rec["content_type"] = self.headers.get("content-type")
                status = 204
            except Exception as e:  # noqa: BLE001 - any verification failure is a 400
                rec["error"] = str(e)
                status = 400
        rec["status"] = status
        with lock, open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
