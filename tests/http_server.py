#!/usr/bin/env python3
"""http_server.py — the HTTP server the test suite talks to (standard library only).

    python3 tests/http_server.py --port-file F [--log F]

Binds 127.0.0.1 on an ephemeral port, writes the port to F (temp file, then
rename) once listening, and serves until killed. Every request (except
/requests itself) is recorded: as one JSON line in the --log file, flushed,
and in memory for /requests. A record is
    {"method", "path", "query" (dict; a repeated name gives a list),
     "query_string", "headers" (dict, names as sent, repeats joined ", "),
     "body" (text, UTF-8 with replacement), "time" (epoch seconds)}

Behaviour is chosen by the path, so tests need no setup calls:
    /status/<code>                   that status, {"status": code}
    /seq/<name>/<c1>,<c2>,...        n-th request of <name> gets cn (the last
                                     repeats), {"attempt": n, "status": cn}
    /delay/<ms>                      sleep, then 200 {"delayed": ms}
    /retry-after/<name>/<s|date>/<n> first n requests of <name>: 429 with
                                     Retry-After: s seconds, or ("date") an
                                     HTTP date 2 s ahead; then 200.
                                     Body {"attempt": k, "status": code}
    /reset                           close the connection without answering
                                     (an RST: the client sees a reset or an
                                     empty reply)
    /echo                            200 {method, path, query, query_string,
                                     headers, body, json (parsed body or null)}
    /text                            200 text/plain "hello"
    /big/<bytes>                     200 text/plain, that many 'x'
                                     (?chunked=1: chunked, no Content-Length)
    /requests                        200, JSON array of the records so far
    anything else                    404 {"error": "not found", "path": ...}
Counters for /seq and /retry-after are per <name> for the life of the server:
use a fresh name per test. HTTP/1.1 with keep-alive; HEAD gets the headers of
the GET without the body. Quiet: nothing is written to stderr per request.
"""
import argparse
import email.utils
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.counters = {}
        self.records = []
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def count(self, key):
        with self.lock:
            n = self.counters.get(key, 0) + 1
            self.counters[key] = n
            return n

    def record(self, rec):
        line = json.dumps(rec, separators=(",", ":"))
        with self.lock:
            self.records.append(rec)
            if self.log:
                self.log.write(line + "\n")
                self.log.flush()

    def snapshot(self):
        with self.lock:
            return list(self.records)


def query_dict(qs):
    out = {}
    for k, v in urllib.parse.parse_qsl(qs, keep_blank_values=True):
        if k in out:
            if not isinstance(out[k], list):
                out[k] = [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response: headers and body leave together (the handler
    # flushes after each request), and TCP_NODELAY sends it at once. Two
    # writes with Nagle on would hold the body until the client's delayed ACK
    # (~40 ms per request on a kept-alive connection).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def version_string(self):
        return "wfdsl-test"

    def log_message(self, format, *args):  # quiet
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body=b"", ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        no_body = code < 200 or code in (204, 304)
        if not no_body:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(body)

    def send_chunked(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        while n > 0:
            k = min(n, 16384)
            self.wfile.write(b"%x\r\n" % k + b"x" * k + b"\r\n")
            n -= k
        self.wfile.write(b"0\r\n\r\n")

    def handle_any(self):
        self._reset = False
        url = urllib.parse.urlsplit(self.path)
        path, qs = url.path, url.query
        raw = self.read_body()
        headers = {}
        for k, v in self.headers.items():
            headers[k] = headers[k] + ", " + v if k in headers else v
        rec = {
            "method": self.command,
            "path": path,
            "query": query_dict(qs),
            "query_string": qs,
            "headers": headers,
            "body": raw.decode("utf-8", "replace"),
            "time": time.time(),
        }
        if path == "/requests":
            return self.send(200, self.server.state.snapshot())
        self.server.state.record(rec)
        parts = [p for p in path.split("/") if p != ""]
        try:
            self.route(parts, rec)
        except (ValueError, IndexError):
            self.send(400, {"error": "bad path", "path": path})

    def route(self, parts, rec):
        st = self.server.state
        head = parts[0] if parts else ""
        if head == "status" and len(parts) == 2:
            code = int(parts[1])
            return self.send(code, {"status": code})
        if head == "seq" and len(parts) == 3:
            codes = [int(c) for c in parts[2].split(",") if c]
            n = st.count(("seq", parts[1]))
            code = codes[min(n, len(codes)) - 1]
            return self.send(code, {"attempt": n, "status": code})
        if head == "delay" and len(parts) == 2:
            ms = int(parts[1])
            time.sleep(ms / 1000.0)
            return self.send(200, {"delayed": ms})
        if head == "retry-after" and len(parts) == 4:
            limit = int(parts[3])
            n = st.count(("retry-after", parts[1]))
            if n <= limit:
                if parts[2] == "date":
                    ra = email.utils.formatdate(time.time() + 2, usegmt=True)
                else:
                    ra = str(int(parts[2]))
                return self.send(429, {"attempt": n, "status": 429}, extra={"Retry-After": ra})
            return self.send(200, {"attempt": n, "status": 200})
        if head == "reset" and len(parts) == 1:
            self._reset = True
            self.close_connection = True
            return None
        if head == "echo" and len(parts) == 1:
            try:
                parsed = json.loads(rec["body"]) if rec["body"] else None
            except ValueError:
                parsed = None
            out = {k: rec[k] for k in ("method", "path", "query", "query_string", "headers", "body")}
            out["json"] = parsed
            return self.send(200, out)
        if head == "text" and len(parts) == 1:
            return self.send(200, "hello", ctype="text/plain")
        if head == "big" and len(parts) == 2:
            n = int(parts[1])
            if rec["query"].get("chunked") == "1":
                return self.send_chunked(n)
            return self.send(200, b"x" * n, ctype="text/plain")
        return self.send(404, {"error": "not found", "path": rec["path"]})

    def finish(self):
        if getattr(self, "_reset", False):
            # SO_LINGER 0 + close: the kernel answers with RST, no response at all
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
        try:
            super().finish()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many concurrent connects without SYN drops

    def handle_error(self, request, client_address):  # quiet: clients hang up
        pass


def main():
    ap = argparse.ArgumentParser(description="wfdsl test HTTP server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(a.log)
    tmp = "%s.%d.tmp" % (a.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
