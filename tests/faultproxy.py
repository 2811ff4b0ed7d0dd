#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 reverse proxy for the object-store tests (stdlib only, loopback only).

    python3 tests/faultproxy.py --listen 127.0.0.1:0 --upstream 127.0.0.1:5000 \
        --fail-rate 0.2 --seed 7 --kinds 503,drop,reset

Prints the bound port on stdout (one line), then serves until killed. Each proxied request
draws from a seeded random generator; with probability --fail-rate it gets one of --kinds:

  503       503 with an S3 `SlowDown` XML body and `Retry-After: 0` (request body is read first)
  500       500 with an S3 `InternalError` XML body
  429       429 `TooManyRequestsException` XML body, `Retry-After: 0`
  drop      the request (body included) is read, then the connection is closed without a response
  reset     the connection is aborted with a TCP RST (SO_LINGER 0), nothing is sent
  truncate  the request IS forwarded (so it takes effect upstream); the client gets the headers
            with the full Content-Length and half the body, then the connection is closed. A
            response without a body (HEAD, 204, 304, Content-Length: 0) is lost: the connection
            is closed with nothing sent, after the upstream has acted on the request (a cut
            header block would pass as complete with some clients, e.g. Python's http.client).
            A chunked response gets half its first chunk and no terminating chunk.

--delay-ms N holds every proxied request N ms before handling it (a slow link).

Everything else is forwarded unchanged: method, path and query, all headers except hop-by-hop
ones (Host is set to the upstream's host:port, unless --preserve-host: needed in front of a
server that checks SigV4 signatures, which cover Host), request bodies with Content-Length or
chunked (relayed as they arrive), and responses, streamed in 256 KiB pieces with their own
framing (HEAD keeps its Content-Length). The client side is kept alive; upstream connections
are reused per client connection.

Control endpoint on the proxy itself (not counted, never faulted):
  GET  /__faultproxy/stats   -> {"requests": N, "injected": {"503": n, ...}, "by_method": {...},
                                 "forwarded": n, "upstream_errors": n, "config": {...}}
  POST /__faultproxy/reset   -> zeroes the counters
  GET  /__faultproxy/config  -> {"fail_rate": .., "kinds": [..], "seed": .., "methods": ..}
  POST /__faultproxy/config  {"fail_rate": 0.2, "kinds": ["503", "drop"]}   (any subset of keys;
                                "seed": N reseeds the generator; "methods": ["GET"] limits the
                                faults to those methods, null = all)
"""
import argparse
import http.client
import ipaddress
import json
import random
import select
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("503", "500", "429", "drop", "reset", "truncate")
PIECE = 256 * 1024
CONTROL = "/__faultproxy/"
# Hop-by-hop headers: they describe one connection, so they are not forwarded either way.
# (Content-Length / Transfer-Encoding are kept: bodies are relayed with their own framing.)
HOP = {"connection", "keep-alive", "proxy-connection", "te", "upgrade", "proxy-authenticate"}
ERRORS = {
    "503": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    "500": (500, "Internal Server Error", "InternalError",
            "We encountered an internal error. Please try again."),
    # S3 itself never sends 429. The code is one every botocore retries as throttling; before
    # botocore 1.44 a 429 whose code is not in its list (e.g. "TooManyRequests") is not retried.
    "429": (429, "Too Many Requests", "TooManyRequestsException", "Please reduce your request rate."),
}
http.client._MAXHEADERS = 1000  # S3 objects may carry many x-amz-meta-* headers


class Config:
    def __init__(self, fail_rate, kinds, seed, methods):
        self.lock = threading.Lock()
        self.fail_rate, self.kinds, self.seed, self.methods = fail_rate, list(kinds), seed, methods
        self.rng = random.Random(seed)
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = self.forwarded = self.upstream_errors = 0
            self.injected = {k: 0 for k in KINDS}
            self.by_method = {}

    def update(self, d):
        if not isinstance(d, dict):
            raise ValueError("expected a JSON object")
        unknown = set(d) - {"fail_rate", "kinds", "seed", "methods"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        fail_rate = float(d.get("fail_rate", self.fail_rate))
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be within [0, 1]")
        kinds = d.get("kinds", self.kinds)
        if isinstance(kinds, str):
            kinds = parse_kinds(kinds)
        kinds = [str(k) for k in kinds]
        bad = [k for k in kinds if k not in KINDS]
        if bad or (fail_rate > 0 and not kinds):
            raise ValueError(f"kinds must be a non-empty subset of {list(KINDS)}")
        methods = d.get("methods", self.methods)
        if methods is not None:
            methods = [str(m).upper() for m in methods]
        with self.lock:
            self.fail_rate, self.kinds, self.methods = fail_rate, kinds, methods
            if "seed" in d:
                self.seed = d["seed"]
                self.rng = random.Random(self.seed)

    def as_dict(self):
        return {"fail_rate": self.fail_rate, "kinds": self.kinds, "seed": self.seed,
                "methods": self.methods}

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "injected": dict(self.injected),
                    "by_method": dict(self.by_method), "forwarded": self.forwarded,
                    "upstream_errors": self.upstream_errors, "config": self.as_dict()}

    def decide(self, method):
        """Counts the request; returns the fault kind to inject, or None."""
        with self.lock:
            self.requests += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1
            hit = self.rng.random() < self.fail_rate  # one draw per request, whatever the method
            if not hit or not self.kinds or (self.methods is not None and method not in self.methods):
                return None
            kind = self.rng.choice(self.kinds)
            self.injected[kind] += 1
            return kind

    def count(self, field):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)


def parse_kinds(s):
    return [k.strip() for k in s.split(",") if k.strip()]


def split_hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {s!r}")
    host = host.strip("[]")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address (127.0.0.0/8, ::1)")
    return host, int(port)


class UpstreamBroken(Exception):
    """The upstream exchange failed before anything was sent to the client."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections and stalled transfers
    server_version = "faultproxy"

    # --- plumbing ---------------------------------------------------------------------------
    def setup(self):
        super().setup()
        self.upstream = None  # http.client.HTTPConnection reused for this client connection

    def finish(self):
        self.drop_upstream()
        super().finish()

    def log_message(self, fmt, *args):
        if self.server.verbosity >= 2:
            sys.stderr.write("faultproxy: %s %s\n" % (self.address_string(), fmt % args))

    def note(self, msg):
        if self.server.verbosity >= 1:
            sys.stderr.write(f"faultproxy: {msg}\n")
            sys.stderr.flush()

    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if self.path.startswith(CONTROL):
                self.control()
            else:
                self.proxy()
        except (OSError, EOFError, ValueError, http.client.HTTPException) as e:
            # client went away / broke framing / timed out: this connection is done
            self.note(f"connection closed: {type(e).__name__}: {e}")
            self.close_connection = True
            self.drop_upstream()

    def drop_upstream(self):
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def connection_header(self):
        return [("Connection", "close")] if self.close_connection else []

    def write_head(self, status, reason, headers):
        lines = [f"HTTP/1.1 {status} {reason}\r\n"]
        lines += [f"{k}: {v}\r\n" for k, v in headers]
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    # --- request bodies ---------------------------------------------------------------------
    def body_framing(self):
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.replace(" ", "").lower().split(",")[-1] != "chunked":
                raise ValueError(f"unsupported Transfer-Encoding {te!r}")
            return "chunked", None
        cl = self.headers.get_all("Content-Length")
        if cl:
            if len(set(cl)) != 1 or not cl[0].strip().isdigit():
                raise ValueError(f"bad Content-Length {cl!r}")
            return "length", int(cl[0])
        return "none", 0

    def relay_body(self, framing, length, send):
        """Reads the request body from the client, passing each raw piece to send (or drops it)."""
        rfile = self.rfile

        def copy(left, where):
            while left:
                data = rfile.read(min(PIECE, left))
                if not data:
                    raise EOFError(f"client closed inside {where}")
                left -= len(data)
                if send:
                    send(data)

        if framing == "length":
            copy(length, "the request body")
        elif framing == "chunked":
            while True:
                line = rfile.readline(65537)
                if not line.endswith(b"\n"):
                    raise EOFError("bad or missing chunk-size line")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    tail = [line]
                    while True:  # trailers, then the empty line
                        t = rfile.readline(65537)
                        if not t.endswith(b"\n"):
                            raise EOFError("client closed inside the chunked trailer")
                        tail.append(t)
                        if t in (b"\r\n", b"\n"):
                            break
                    if send:
                        send(b"".join(tail))
                    return
                if send:
                    send(line)
                copy(size, "a chunk")
                crlf = rfile.readline(3)
                if crlf not in (b"\r\n", b"\n"):
                    raise ValueError("chunk not followed by CRLF")
                if send:
                    send(b"\r\n")

    # --- faults -----------------------------------------------------------------------------
    def send_error_fault(self, kind):
        status, reason, code, message = ERRORS[kind]
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><Resource>{self.path.split('?')[0]}</Resource>"
                f"<RequestId>faultproxy</RequestId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                   ("x-amz-request-id", "faultproxy")]
        if kind in ("503", "429"):
            headers.append(("Retry-After", "0"))
        headers += self.connection_header()
        self.wfile.write(self.write_head(status, reason, headers)
                         + (b"" if self.command == "HEAD" else body))

    def abort_with_rst(self):
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the makefile() reader holds a reference that would delay the close
        sock.close()  # linger 0: the kernel answers with RST instead of FIN

    # --- control endpoint -------------------------------------------------------------------
    def control(self):
        cfg = self.server.cfg
        framing, length = self.body_framing()
        chunks = []
        self.relay_body(framing, length, chunks.append)
        name = self.path[len(CONTROL):].split("?", 1)[0]
        status, out = 200, None
        try:
            if name == "stats" and self.command == "GET":
                out = cfg.stats()
            elif name == "reset" and self.command == "POST":
                cfg.reset()
                out = cfg.stats()
            elif name == "config" and self.command == "GET":
                out = cfg.as_dict()
            elif name == "config" and self.command == "POST":
                cfg.update(json.loads(b"".join(chunks) or b"{}"))
                out = cfg.as_dict()
                self.note(f"config {out}")
            else:
                status, out = 404, {"error": f"no control endpoint {self.command} {self.path}"}
        except (ValueError, TypeError) as e:
            status, out = 400, {"error": str(e)}
        body = json.dumps(out).encode()
        self.wfile.write(self.write_head(status, "OK" if status == 200 else "Error",
                                         [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body)))]
                                         + self.connection_header()) + body)

    # --- proxying ---------------------------------------------------------------------------
    def proxy(self):
        cfg = self.server.cfg
        method = self.command
        if self.server.delay_ms:
            time.sleep(self.server.delay_ms / 1000.0)
        kind = cfg.decide(method)
        framing, length = self.body_framing()
        if kind:
            self.note(f"inject {kind} into {method} {self.path}")
        if kind in ERRORS:
            self.relay_body(framing, length, None)
            self.send_error_fault(kind)
            return
        if kind == "drop":
            self.relay_body(framing, length, None)
            self.close_connection = True  # the server closes the socket: FIN, no response
            return
        if kind == "reset":
            self.abort_with_rst()
            return

        headers = []
        conn_tokens = {t.strip().lower() for v in self.headers.get_all("Connection", [])
                       for t in v.split(",")}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP or lk in conn_tokens:
                continue
            if lk == "host" and not self.server.preserve_host:
                continue
            if lk == "content-length" and framing == "chunked":
                continue
            headers.append((k, v))
        if not self.server.preserve_host or "Host" not in self.headers:
            headers.insert(0, ("Host", self.server.upstream_hostport))

        try:
            resp = self.send_upstream(method, headers, framing, length)
        except UpstreamBroken as e:
            cfg.count("upstream_errors")
            self.note(f"upstream error for {method} {self.path}: {e}")
            body = f"faultproxy: upstream error: {e}\n".encode()
            self.wfile.write(self.write_head(502, "Bad Gateway",
                                             [("Content-Type", "text/plain"),
                                              ("Content-Length", str(len(body)))]
                                             + self.connection_header())
                             + (b"" if method == "HEAD" else body))
            return
        cfg.count("forwarded")
        self.log_message('"%s" %s%s', self.requestline, resp.status,
                         " (truncated)" if kind == "truncate" else "")
        self.relay_response(resp, truncate=(kind == "truncate"))

    def upstream_connection(self):
        """The reusable upstream connection, or a new one if the old one was closed upstream."""
        c = self.upstream
        if c is not None and c.sock is not None:
            r, _, _ = select.select([c.sock], [], [], 0)
            if r:  # readable while idle = EOF (or junk): not reusable
                self.drop_upstream()
        if self.upstream is None:
            host, port = self.server.upstream_addr
            self.upstream = http.client.HTTPConnection(host, port, timeout=300)
            return self.upstream, True
        return self.upstream, False

    def send_upstream(self, method, headers, framing, length):
        for attempt in (1, 2):
            conn, fresh = self.upstream_connection()
            sent_body = False
            try:
                conn.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders()
                if framing != "none":
                    sent_body = True
                    self.relay_body(framing, length, conn.send)
                return conn.getresponse()
            except (EOFError, ValueError):
                raise  # the client's side broke: handled by the caller (connection closed)
            except (OSError, http.client.HTTPException) as e:
                self.drop_upstream()
                # A reused connection that the upstream closed meanwhile: retry once, if the
                # request body has not been consumed.
                if attempt == 1 and not fresh and not sent_body:
                    continue
                if sent_body:
                    self.close_connection = True  # the client's body may be half read
                raise UpstreamBroken(f"{type(e).__name__}: {e}") from e

    def relay_response(self, resp, truncate):
        method = self.command
        no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        out = []
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP:
                continue
            if lk == "transfer-encoding" and not no_body:
                continue  # re-added below when the body is chunked
            out.append((k, v))
        keep_upstream = not resp.will_close
        if no_body:
            framing = "none"
        elif resp.length is not None:  # Content-Length
            framing = "length"
        elif self.request_version == "HTTP/1.1":  # chunked or close-delimited upstream
            framing = "chunked"
            out.append(("Transfer-Encoding", "chunked"))
        else:
            framing = "close"
            self.close_connection = True
        if truncate:
            self.close_connection = True
        out += self.connection_header()
        head = self.write_head(resp.status, resp.reason, out)

        if truncate:
            self.drop_upstream()  # the rest of the upstream response is never read
            if framing == "none" or (framing == "length" and resp.length == 0):
                pass  # nothing to cut: the response is lost (the request did take effect)
            elif framing == "length":
                self.wfile.write(head)
                self.copy_length(resp, resp.length // 2)
            else:
                self.wfile.write(head)
                data = resp.read1(PIECE)
                half = data[: len(data) // 2]
                if half and framing == "chunked":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                elif half:
                    self.wfile.write(half)
            return

        self.wfile.write(head)
        try:
            if framing == "length":
                self.copy_length(resp, resp.length)
            elif framing in ("chunked", "close"):
                while True:
                    data = resp.read1(PIECE)
                    if not data:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)
                                     if framing == "chunked" else data)
                if framing == "chunked":
                    self.wfile.write(b"0\r\n\r\n")
        except (http.client.IncompleteRead, UpstreamBroken) as e:
            # upstream broke mid-body: the client must not see a complete response
            self.server.cfg.count("upstream_errors")
            self.note(f"upstream body broke for {method} {self.path}: {e}")
            self.drop_upstream()
            self.close_connection = True
            return
        if not keep_upstream:
            self.drop_upstream()

    def copy_length(self, resp, n):
        left = n
        while left:
            try:
                data = resp.read(min(PIECE, left))
            except OSError as e:
                raise UpstreamBroken(str(e)) from e
            if not data:
                raise http.client.IncompleteRead(b"", left)
            self.wfile.write(data)
            left -= len(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, listen, upstream, cfg, preserve_host, verbosity, delay_ms=0):
        self.delay_ms = delay_ms
        self.address_family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self.upstream_addr = upstream
        uh = f"[{upstream[0]}]" if ":" in upstream[0] else upstream[0]
        self.upstream_hostport = f"{uh}:{upstream[1]}"
        self.cfg = cfg
        self.preserve_host = preserve_host
        self.verbosity = verbosity
        super().__init__(listen, Handler)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=split_hostport, required=True, help="HOST:PORT (port 0: any free)")
    ap.add_argument("--upstream", type=split_hostport, required=True, help="HOST:PORT")
    ap.add_argument("--fail-rate", type=float, default=0.0, help="fraction of requests to fault (0..1)")
    ap.add_argument("--kinds", default="503", help=f"comma list from {','.join(KINDS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default=None, help="comma list: fault only these methods")
    ap.add_argument("--preserve-host", action="store_true",
                    help="forward the client's Host header (for upstreams that check SigV4)")
    ap.add_argument("--delay-ms", type=int, default=0, help="wait this long before handling each request (latency)")
    ap.add_argument("-q", "--quiet", action="store_true", help="log nothing on stderr")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request on stderr")
    a = ap.parse_args()
    cfg = Config(0.0, [], a.seed, None)
    try:
        cfg.update({"fail_rate": a.fail_rate, "kinds": parse_kinds(a.kinds),
                    "methods": None if a.methods is None else parse_kinds(a.methods)})
    except ValueError as e:
        ap.error(str(e))
    verbosity = 0 if a.quiet else 2 if a.verbose else 1
    srv = Server(a.listen, a.upstream, cfg, a.preserve_host, verbosity, a.delay_ms)
    port = srv.server_address[1]
    print(port, flush=True)
    if verbosity:
        sys.stderr.write(f"faultproxy: {a.listen[0]}:{port} -> {srv.upstream_hostport} "
                         f"{json.dumps(cfg.as_dict())}\n")
        sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
