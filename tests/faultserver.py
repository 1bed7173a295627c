"""A news site on 127.0.0.1 that misbehaves on purpose: retries, timeouts, resets, bombs, loops."""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

ARTICLE = (Path(__file__).parent / "fixtures" / "pages" / "article.html").read_bytes()
ARTICLE_PATHS = ["/ok.html", "/flaky.html", "/slow.html", "/big.html", "/binary.html", "/bomb.html",
                 "/reset.html", "/rst.html", "/cut.html", "/loop-a.html", "/toolong429.html",
                 "/always500.html", "/octet.html", "/untyped.html", "/private/secret.html"]
S = TypeVar("S", bound=ThreadingHTTPServer)
BOMB = gzip.compress(b"<html>" + b" " * (40 * 1024 * 1024), compresslevel=9)


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-response is the point here: no tracebacks."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, p in self.hits if p == path)


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _head(self, length: int, ctype: str | None = None) -> None:
        """A 200's headers only (a Content-Type when given): the body is the fault's to write."""
        self.send_response(200)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path
        with self.server.lock:
            self.server.hits.append((time.monotonic(), path))
            seen = sum(1 for _, p in self.server.hits if p == path)
        base = self.server.base
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.3\n", "text/plain")
        elif path == "/feed.xml":
            items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>"
                            for p in ARTICLE_PATHS)
            self._send(200, f"<rss version='2.0'><channel><title>F</title>{items}</channel></rss>"
                       .encode(), "application/rss+xml")
        elif path == "/invalid.xml":
            self._send(200, b"\x00\x01\x02 this is not a feed", "application/rss+xml")
        elif path == "/huge-sitemap.xml":
            urls = "".join(f"<url><loc>{base}/s/{i}.html</loc></url>" for i in range(100_000))
            self._send(200, ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             f"{urls}</urlset>").encode(), "application/xml")
        elif path == "/ok.html":
            self._send(200, ARTICLE)
        elif path == "/flaky.html":
            if seen == 1:
                self._send(503, b"busy", headers={"Retry-After": "1"})
            else:
                self._send(200, ARTICLE.replace(b"Regional cloud providers across Asia",
                                                b"Flaky cloud providers across Asia")
                           .replace(b"regional-cloud-gpu.html", b"flaky.html"))
        elif path == "/slow.html":
            time.sleep(4)
            self._send(200, ARTICLE)
        elif path == "/big.html":
            self._send(200, b"<html><body>" + b"<p>big</p>" * 1_000_000 + b"</body></html>")
        elif path in ("/octet.html", "/untyped.html"):  # HTML served with no useful type
            name = path.strip("/").removesuffix(".html").encode()
            body = (ARTICLE.replace(b"Regional cloud providers across Asia",
                                    b"Regional " + name + b" cloud providers across Asia")
                    .replace(b"regional-cloud-gpu.html", path.strip("/").encode()))
            self._head(len(body), "application/octet-stream" if path == "/octet.html" else None)
            self.wfile.write(body)
        elif path == "/binary.html":
            self._send(200, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
        elif path == "/bomb.html":
            self._send(200, BOMB, headers={"Content-Encoding": "gzip"})
        elif path == "/reset.html":
            self.close_connection = True
            self.connection.shutdown(2)
        elif path == "/rst.html":  # a TCP reset (RST) mid-response, as a crashing proxy sends
            self._head(len(ARTICLE))
            self.wfile.write(ARTICLE[:500])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif path == "/cut.html":  # a body shorter than its Content-Length, then a clean close
            self._head(len(ARTICLE), "text/html; charset=utf-8")
            self.wfile.write(ARTICLE[: len(ARTICLE) // 2])
            self.close_connection = True
        elif path in ("/loop-a.html", "/loop-b.html"):
            target = "/loop-b.html" if path == "/loop-a.html" else "/loop-a.html"
            self._send(302, b"", headers={"Location": f"{base}{target}"})
        elif path == "/toolong429.html":
            self._send(429, b"slow down", headers={"Retry-After": "3600"})
        elif path == "/always500.html":
            self._send(500, b"oops")
        else:
            self._send(404, b"not found")


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve in a background thread for the block."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def fault_server() -> AbstractContextManager[FaultServer]:
    return serving(FaultServer())
