#!/usr/bin/env python3
"""Test helper: an HTTP receiver for webhook alerts, on 127.0.0.1.

    python3 tests/receiver.py OUT.jsonl [--fail-first N]

Prints its port on the first line of stdout, then records each POST as one JSON line in
OUT.jsonl: {"path", "headers" (lower-case names), "body" (text)}. With --fail-first N, the first
N requests get 503 (and are recorded too, with "status": 503).
"""
import argparse
import http.server
import json
import sys
import threading

lock = threading.Lock()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--fail-first", type=int, default=0)
    a = p.parse_args()
    state = {"seen": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            with lock:
                state["seen"] += 1
                status = 503 if state["seen"] <= a.fail_first else 200
                with open(a.out, "a") as fh:
                    fh.write(json.dumps({"path": self.path, "status": status, "body": body,
                                         "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
