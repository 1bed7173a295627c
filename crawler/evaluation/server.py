"""Serve a labelled corpus on 127.0.0.1 as an HTTP proxy answering for every ``<outlet>.test`` host.

The crawler points its HTTP proxy at :attr:`CorpusServer.proxy_url`; requests arrive with an
absolute URI (``GET http://ai-brief.test/feed.xml``) or an origin-form path plus ``Host`` header.
Files come from the outlet's document root; manifest pages carry their exact manifest
``content_type``. Conditional GET (ETag / Last-Modified → 304) is supported.
"""

from __future__ import annotations

import hashlib
import mimetypes
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from crawler.evaluation.corpus import Corpus, load_corpus

RequestRecord = tuple[str, str, int]  # (host, path as requested, status)

#: Politeness tuned for a loopback server; everything else is the product's own settings.
LOOPBACK_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_START_DELAY": "0.01",
    "AUTOTHROTTLE_MAX_DELAY": "0.5",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
}


def proxy_environment(proxy_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with every http:// request sent to ``proxy_url`` (no exceptions, no https proxy)."""
    env = {k: v for k, v in environ.items() if k.lower() not in ("no_proxy", "https_proxy", "http_proxy")}
    return env | {"http_proxy": proxy_url, "HTTP_PROXY": proxy_url}

_TYPES_BY_SUFFIX = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".txt": "text/plain",
}


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    etag: str
    mtime: int  # whole seconds, as sent in Last-Modified


class _Resolver:
    """Maps (host, path) to a file under the corpus, with its content type."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus
        self._page_types = {(p.site, unquote(p.path)): p.content_type for p in corpus.pages}
        self._feeds = {urlsplit(s.feed).path for s in corpus.sites if s.feed}

    def resolve(self, host: str, raw_path: str) -> _File | None:
        site = self._corpus.site_for_host(host)
        if site is None:
            return None
        path = unquote(urlsplit(raw_path).path) or "/"
        segments = path.split("/")
        if any(seg in ("..", ".") or "\\" in seg or "\0" in seg for seg in segments):
            return None
        root = self._corpus.site_root(site).resolve()
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            return None
        if target.is_dir():
            target = target / "index.html"
            path = path.rstrip("/") + "/index.html"
        if not target.is_file():
            return None
        body = target.read_bytes()
        content_type = self._page_types.get((site.name, path)) or self._guess(path)
        return _File(
            body=body,
            content_type=content_type,
            etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
            mtime=int(target.stat().st_mtime),
        )

    def _guess(self, path: str) -> str:
        if path in self._feeds or path.endswith("/feed.xml"):
            return "application/rss+xml"
        suffix = Path(path).suffix.lower()
        if suffix in _TYPES_BY_SUFFIX:
            return _TYPES_BY_SUFFIX[suffix]
        return mimetypes.guess_type(path)[0] or "application/octet-stream"


class _RequestLog:
    """Thread-safe append-only list of served requests, and the most requests each host had in
    flight at once (what a site sees of a crawler's politeness)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._active: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    @contextmanager
    def serving(self, host: str) -> Iterator[None]:
        with self._lock:
            self._active[host] = self._active.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self._active[host])
        try:
            yield
        finally:
            with self._lock:
                self._active[host] -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "newsdedup-corpus/1"
    resolver: _Resolver  # set on the per-server subclass
    log: _RequestLog
    latency: float = 0.0  #: seconds every answer takes (a remote site's round trip)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _target(self) -> tuple[str, str]:
        """(host without port, lower-case; path with query) from absolute URI or Host header."""
        if "://" in self.path.split("?", 1)[0]:
            parts = urlsplit(self.path)
            path = parts.path or "/"
            if parts.query:
                path = f"{path}?{parts.query}"
            return (parts.hostname or "").lower(), path
        host = self.headers.get("Host", "").rsplit(":", 1)[0].strip().lower()
        return host, self.path

    def _serve(self, *, send_body: bool) -> None:
        host, path = self._target()
        with self.log.serving(host):
            if self.latency:
                time.sleep(self.latency)
            self._answer(host, path, send_body)

    def _answer(self, host: str, path: str, send_body: bool) -> None:
        found = self.resolver.resolve(host, path)
        if found is None:
            self._reply(HTTPStatus.NOT_FOUND, host, path, b"not found\n", "text/plain", send_body)
            return
        headers = {
            "ETag": found.etag,
            "Last-Modified": formatdate(found.mtime, usegmt=True),
        }
        if self._not_modified(found):
            self.log.append((host, path, HTTPStatus.NOT_MODIFIED.value))
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self._reply(HTTPStatus.OK, host, path, found.body, found.content_type, send_body, headers)

    def _not_modified(self, found: _File) -> bool:
        """RFC 9110 §13.2.2: If-None-Match (weak comparison) wins over If-Modified-Since."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or found.etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since is None or since.tzinfo is None:
            return False
        return found.mtime <= since.timestamp()

    def _reply(
        self,
        status: HTTPStatus,
        host: str,
        path: str,
        body: bytes,
        content_type: str,
        send_body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.log.append((host, path, status.value))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log replaces stderr access logging."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A crawler opens up to CONCURRENT_REQUESTS connections at once; the default backlog of 5
    # makes the kernel drop the rest, each retried after a second.
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """Ignore clients that hang up; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class CorpusServer:
    """A running corpus server: ``proxy_url``, ``port``, ``requests`` (a snapshot list)."""

    def __init__(self, corpus: Corpus, latency: float = 0.0) -> None:
        self.corpus = corpus
        self._log = _RequestLog()
        handler = type(
            "CorpusHandler", (_Handler,),
            {"resolver": _Resolver(corpus), "log": self._log, "latency": latency},
        )
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self.port: int = self._httpd.server_address[1]
        self.proxy_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # fast shutdown
            name="corpus-server",
            daemon=True,
        )

    @property
    def peak_concurrency(self) -> dict[str, int]:
        """Per host, the most requests it was answering at once."""
        return dict(self._log.peak)

    @property
    def requests(self) -> list[RequestRecord]:
        """Copy of the (host, path, status) records served so far, in order."""
        return self._log.snapshot()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serve_corpus(corpus_dir: str | Path | Corpus, latency: float = 0.0) -> Iterator[CorpusServer]:
    """Run a :class:`CorpusServer` for ``corpus_dir`` (or a loaded Corpus) for the block, each
    answer ``latency`` seconds late."""
    corpus = corpus_dir if isinstance(corpus_dir, Corpus) else load_corpus(corpus_dir)
    server = CorpusServer(corpus, latency)
    server.start()
    try:
        yield server
    finally:
        server.stop()
