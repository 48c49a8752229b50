#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 server for the OpenBITS reliability tests (stdlib only).

Each path is one way a server can fail a download client:
  GET /status/NNN[?retry_after=S]   -> status NNN with a short body (and Retry-After: S)
  GET /truncate?len=N&send=M        -> Content-Length N, sends M bytes, then closes (FIN)
  GET /reset                        -> TCP RST right after reading the request
  GET /reset-after?len=N&send=M     -> headers + M of N bytes, then RST
  GET /hang?s=S                     -> reads the request, sends nothing for S s, then closes
  GET /slow-headers?s=S             -> sends the status line, waits S s, then the rest
  GET /loop                         -> 302 to /loop, for ever
  GET /nolength?len=N               -> 200 without Content-Length or ranges, body ends at close
  GET /file?len=N&seed=S[&cut=M][&after=MODE]
      N pseudo-random bytes of seed S (generate() below) with a strong ETag, ranges and If-Range as a correct
      server does. cut=M: the first request for this URL stops after M bytes of the body (FIN),
      so that the client resumes. From the second request on, `after` changes the server:
        norange  ignores Range (200 with the whole file, same ETag)
        changed  the file changed (new bytes of seed S+1000, new ETag), If-Range honoured
        changed-ignore-ifrange  the file changed, but If-Range is ignored: a 206 of the new
                 bytes from the asked offset, with the new ETag
Every request is logged as one JSON line to --log (method, path, range, if_range, status).

usage: fault_server.py [--host 127.0.0.1] [--port 0] --port-file FILE [--log FILE]
"""
import argparse
import http.server
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse

MAX_WAIT_S = 60


def generate(seed, length):
    """The bytes of a /file: a 32-bit LCG, so that the tests can compute them too."""
    x = (seed * 2654435761 + 1) & 0xFFFFFFFF
    out = bytearray(length)
    for i in range(length):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpenBITSFaultServer/1.0"

    def log_message(self, fmt, *args):  # quiet; the JSON log says what happened
        pass

    def record(self, status, **extra):
        entry = {"method": self.command, "path": self.path, "range": self.headers.get("Range"),
                 "if_range": self.headers.get("If-Range"), "status": status}
        entry.update(extra)
        with self.server.lock:
            self.server.log_file.write(json.dumps(entry) + "\n")
            self.server.log_file.flush()

    def arg(self, name, default):
        values = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get(name)
        return values[0] if values else default

    def number(self, name, default):
        return int(self.arg(name, default))

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def request_number(self):
        """How many requests for this exact URL came before this one."""
        with self.server.lock:
            n = self.server.seen.get(self.path, 0)
            self.server.seen[self.path] = n + 1
            return n

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        match = re.fullmatch(r"/status/(\d{3})", path)
        if match:
            self.status(int(match.group(1)))
        elif path in ("/truncate", "/reset-after"):
            length, send = self.number("len", 1 << 20), self.number("send", 1000)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.record(200, sent=send)
            self.wfile.write(b"x" * send)
            self.wfile.flush()
            if path == "/reset-after":
                self.reset()
            else:
                self.close_connection = True
        elif path == "/reset":
            self.record(None)
            self.reset()
        elif path == "/hang":
            self.record(None)
            time.sleep(min(self.number("s", 30), MAX_WAIT_S))
            self.close_connection = True
        elif path == "/slow-headers":
            self.record(200)
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            time.sleep(min(self.number("s", 30), MAX_WAIT_S))
            self.wfile.write(b"Content-Length: 3\r\n\r\nok\n")
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.record(302)
        elif path == "/nolength":
            body = self.content(self.number("seed", 1), self.number("len", 100000))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.record(200)
            self.wfile.write(body)
            self.close_connection = True
        elif path == "/file":
            self.file()
        else:
            self.status(404)

    def status(self, code):
        body = b"status %d\n" % code
        self.send_response(code)
        retry_after = self.arg("retry_after", None)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        if code == 416:
            self.send_header("Content-Range", "bytes */%d" % self.number("len", 1000))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.record(code)
        if self.command != "HEAD":
            self.wfile.write(body)

    def content(self, seed, length):
        key = (seed, length)
        with self.server.lock:
            if key not in self.server.contents:
                self.server.contents[key] = generate(seed, length)
            return self.server.contents[key]

    def file(self):
        n = self.request_number()
        length, seed = self.number("len", 1 << 20), self.number("seed", 1)
        after = self.arg("after", "") if n > 0 else ""
        version = 2 if after in ("changed", "changed-ignore-ifrange") else 1
        body = self.content(seed + (1000 if version == 2 else 0), length)
        etag = '"s%d-v%d"' % (seed, version)
        start = 0
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        honour = wanted is not None and after != "norange"
        if honour and if_range is not None and if_range != etag:
            honour = after == "changed-ignore-ifrange"  # the fault: If-Range not checked
        if honour:
            m = re.fullmatch(r"bytes=(\d+)-", wanted.strip())
            if not m or int(m.group(1)) >= length:
                self.status(416)
                return
            start = int(m.group(1))
        self.send_response(206 if honour else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(length - start))
        if honour:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, length - 1, length))
        self.end_headers()
        cut = self.number("cut", -1) if n == 0 else -1
        self.record(206 if honour else 200, version=version, cut=cut)
        if self.command == "HEAD":
            return
        if cut >= 0:
            self.wfile.write(body[start:start + cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", default=os.devnull)
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    server.lock = threading.Lock()
    server.log_file = open(args.log, "a")
    server.seen = {}
    server.contents = {}
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
