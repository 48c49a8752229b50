#!/usr/bin/env python3
"""A small HTTP/1.1 file server for OpenBITS tests and the quick start (stdlib only).

Serves the files under ROOT on 127.0.0.1 with what BITS needs from a server: byte ranges
(206 + Content-Range), strong ETag, Last-Modified, If-Range and keep-alive. Extra behaviour
for tests:
  GET /status/NNN[?retry_after=S] -> status NNN with a short body (and Retry-After)
  GET /redirect?to=URL   -> 302 to URL (a path or an absolute URL)
  ?rate=BYTES_PER_SECOND -> throttles the body (for tests that must catch a transfer mid-way)
  ?norange=1             -> ignores Range (always 200 with the whole file)
Every request is logged as one JSON line to --log (method, path, range, if_range, the X-*
headers received, status).

usage: range_server.py --root DIR [--port 0] [--port-file FILE] [--log FILE]
                       [--tls-cert PEM --tls-key PEM]   (serve https)
The port (useful with --port 0) is written to --port-file once the server accepts.
"""
import argparse
import email.utils
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse

CHUNK = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpenBITSTestServer/1.0"

    def log_message(self, fmt, *args):  # quiet; the JSON log says what happened
        pass

    def record(self, status, **extra):
        entry = {
            "method": self.command,
            "path": self.path,
            "range": self.headers.get("Range"),
            "if_range": self.headers.get("If-Range"),
            "x_headers": {k: v for k, v in self.headers.items() if k.lower().startswith("x-")},
            "status": status,
        }
        entry.update(extra)
        with self.server.log_lock:
            self.server.log_file.write(json.dumps(entry) + "\n")
            self.server.log_file.flush()

    def do_HEAD(self):
        self.handle_get(send_body=False)

    def do_GET(self):
        self.handle_get(send_body=True)

    def send_simple(self, status, text, extra_headers=None):
        body = text.encode()
        self.send_response(status)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status)

    def handle_get(self, send_body):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/redirect" and "to" in query:
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.record(302)
            return
        match = re.fullmatch(r"/status/(\d{3})", url.path)
        if match:
            extra = {"Retry-After": query["retry_after"][0]} if "retry_after" in query else {}
            self.send_simple(int(match.group(1)), "status %s\n" % match.group(1), extra)
            return
        relative = urllib.parse.unquote(url.path).lstrip("/")
        path = os.path.realpath(os.path.join(self.server.root, relative))
        if not path.startswith(self.server.root + os.sep) or not os.path.isfile(path):
            self.send_simple(404, "not found\n")
            return
        stat = os.stat(path)
        size = stat.st_size
        etag = '"%x-%x"' % (size, stat.st_mtime_ns)
        last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        start, end, status = 0, size - 1, 200
        if size == 0:
            wanted = None  # nothing to range over: a plain empty 200
        else:
            wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        honour_range = "norange" not in query and wanted is not None
        if honour_range and if_range is not None and if_range not in (etag, last_modified):
            honour_range = False  # the file changed: send it whole
        if honour_range:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            if m:
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                if start >= size and size > 0:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.record(416)
                    return
                status = 206
        length = max(end - start + 1, 0)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        self.record(status, bytes=length if send_body else 0)
        if not send_body or length == 0:
            return
        rate = int(query["rate"][0]) if "rate" in query else 0
        with open(path, "rb") as f:
            if rate == 0:
                self.wfile.flush()
                self.send_plain(f, start, length)
            else:
                self.send_throttled(f, start, length, rate)

    def send_plain(self, f, start, length):
        sent = 0
        while sent < length:
            n = self.connection.sendfile(f, start + sent, length - sent)
            if n == 0:
                break
            sent += n

    def send_throttled(self, f, start, length, rate):
        f.seek(start)
        chunk = max(rate // 20, 1)
        began = time.monotonic()
        sent = 0
        while sent < length:
            data = f.read(min(chunk, length - sent))
            if not data:
                break
            self.wfile.write(data)
            self.wfile.flush()
            sent += len(data)
            ahead = sent / rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.root = os.path.realpath(args.root)
    server.log_file = open(args.log, "a")
    server.log_lock = threading.Lock()
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    else:
        print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
