"""A keep-alive HTTP server on 127.0.0.1 for the capture benchmarks (run as a subprocess).

``GET /json`` answers a small JSON document; ``GET /bytes?size=N`` streams N bytes;
``POST /upload`` reads and discards the body (Content-Length or chunked); ``GET /v3`` answers
a keystone-like version document (what ``stacktap proxy`` checks its auth URL with).
Usage: ``python _bench_server.py PORTFILE`` (writes the chosen port to PORTFILE).
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BODY = b'{"images": [{"id": "3f0c", "name": "cirros", "status": "active"}]}'
BLOCK = b"\0" * (1 << 20)
VERSION = b'{"version": {"id": "v3.14", "status": "stable", "links": []}}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # NOTE: one write per response and no Nagle, or delayed ACKs add 40 ms per call.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/bytes":
            size = int(parse_qs(url.query)["size"][0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while size:
                part = BLOCK[: min(size, len(BLOCK))]
                self.wfile.write(part)
                size -= len(part)
            return
        body = VERSION if url.path == "/v3" else BODY
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-openstack-request-id", "req-bench")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if length == 0:
                    self.rfile.readline()
                    break
                while length:
                    length -= len(self.rfile.read(min(length, 1 << 20)))
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def main() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as out:
        out.write(str(httpd.server_address[1]))
    httpd.serve_forever()


if __name__ == "__main__":
    main()
