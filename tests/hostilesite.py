"""A news site on 127.0.0.1 whose feeds, sitemaps and pages are hostile: they point at local files
(file://), loop redirects, carry NUL characters and URLs longer than any column. ``on_request``
lets a fault test act (stop a database, kill a crawl) at a chosen request."""

from __future__ import annotations

import html
import json
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.faultserver import _Handler as FaultHandler
from tests.faultserver import serving

_WORDS = ["cloud", "chip", "server", "market", "launch", "model", "network", "device", "battery",
          "startup", "funding", "data", "security", "update", "release", "vendor", "platform",
          "software", "hardware", "quarter", "revenue", "team", "engineer", "research",
          "customer", "price", "supply", "region", "storage", "memory", "display", "camera"]


def article_text(n: int, paragraphs: int = 8) -> list[str]:
    """Distinct, article-like paragraphs for article ``n`` (no two articles share a sentence)."""
    rng = random.Random(n)
    return [" ".join(rng.choice(_WORDS) for _ in range(40)).capitalize() + f" (item {n}.{p})."
            for p in range(paragraphs)]


def article_page(title: str, paragraphs: list[str], canonical: str | None = None,
                 author: str = "Staff writer", headline: str | None = None) -> str:
    """An article page; ``headline`` (default: the title) and ``author`` go into JSON-LD, where
    JSON escapes such as ``\\u0000`` survive the HTML (a raw NUL byte would make it binary)."""
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                     "headline": headline or title, "author": {"@type": "Person", "name": author}})
    link = f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else ""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
            f'</title>{link}<script type="application/ld+json">{ld}</script></head><body>'
            f'<header><a href="/">Hostile</a></header><article><h1>{html.escape(title)}</h1>{body}'
            f"</article><footer>(c) hostile</footer></body></html>")


@dataclass
class Canaries:
    """Local files the site links to; none may ever be read. Each would be stored if it were."""

    folder: Path
    marker: str = "CANARY-d41d8cd98f00b204"
    files: dict[str, Path] = field(default_factory=dict)

    def write(self, base: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        page = article_page(f"Local secret {self.marker}", [f"{self.marker} {p}" for p in article_text(999)])
        self.files = {
            "page": self.folder / "secret.html",
            "feed": self.folder / "secret-feed.xml",
            "sitemap": self.folder / "secret-sitemap.xml",
        }
        self.files["page"].write_text(page)
        self.files["feed"].write_text(
            f"<rss version='2.0'><channel><title>{self.marker}</title><item><title>x</title>"
            f"<link>{self.files['page'].as_uri()}</link></item></channel></rss>")
        self.files["sitemap"].write_text(
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.files['page'].as_uri()}</loc></url></urlset>")

    def uri(self, name: str) -> str:
        return self.files[name].as_uri()


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, articles: int, canaries: Canaries, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.articles, self.canaries, self.delay = articles, canaries, delay
        self.hits: list[str] = []
        self.lock = threading.Lock()
        self.on_request: Callable[[str, int], None] | None = None  #: (path, article hits so far)
        self.cut: set[str] = set()  #: article paths whose body is cut short (the connection drops)
        canaries.write(self.base)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up (a killed crawl) are expected here."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def article_paths(self) -> list[str]:
        """Every article the site lists (the NUL and over-long-canonical ones included)."""
        return [f"/a/{i}.html" for i in range(self.articles)] + ["/a/nul.html", "/a/long.html"]

    def act_at(self, actions: dict[int, Callable[[], object]] | None) -> None:
        """Run ``actions[n]`` when the n-th article request arrives (before it is answered);
        None: no more actions."""
        if actions is None:
            self.on_request = None
            return

        def hook(path: str, article_hits: int) -> None:
            if path.startswith("/a/") and article_hits in actions:
                actions[article_hits]()

        self.on_request = hook

    def long_canonical(self) -> str:
        return f"{self.base}/a/long-{'x' * 2100}.html"


class _Handler(FaultHandler):
    server: HostileServer  # type: ignore[assignment]

    def do_GET(self) -> None:
        srv, path = self.server, self.path
        with srv.lock:
            srv.hits.append(path)
            article_hits = sum(1 for p in srv.hits if p.startswith("/a/"))
        if srv.on_request is not None:
            srv.on_request(path, article_hits)
        base, can = srv.base, srv.canaries
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        elif path == "/feed.xml":
            # links no request can be built for (a port out of range made Scrapy raise and
            # lose every link after it) or that no network can fetch (a space in the host)
            links = ["http://127.0.0.1:99999/a/x.html", "http://exa mple.com/a/y.html"] + [
                f"{base}{p}" for p in srv.article_paths()] + [
                can.uri("page"), f"{base}/loop-a.html", f"{base}/redirect-file.html"]
            items = "".join(f"<item><title>t</title><link>{html.escape(u)}</link></item>" for u in links)
            self._send(200, f"<rss version='2.0'><channel><title>H</title>{items}</channel></rss>"
                       .encode(), "application/rss+xml")
        elif path == "/feed.json":
            doc = {"version": "https://jsonfeed.org/version/1.1", "title": "H",
                   "items": [{"id": "1", "url": can.uri("page")},
                             {"id": "2", "url": f"{base}/a/0.html"}]}
            self._send(200, json.dumps(doc).encode(), "application/feed+json")
        elif path == "/sitemap.xml":
            locs = [f"{base}/a/{i}.html" for i in range(0, srv.articles, 2)] + [can.uri("page")]
            urls = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in locs)
            self._send(200, ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             f"{urls}</urlset>").encode(), "application/xml")
        elif path == "/sitemap-index.xml":
            children = [can.uri("sitemap"), f"{base}/sitemap.xml"]
            body = "".join(f"<sitemap><loc>{html.escape(u)}</loc></sitemap>" for u in children)
            self._send(200, ('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             f"{body}</sitemapindex>").encode(), "application/xml")
        elif path == "/index.html":
            links = "".join(f'<a href="/a/{i}.html">story {i}</a> ' for i in range(3))
            self._send(200, (f'<html><head><title>Hostile home</title><link rel="alternate" '
                             f'type="application/rss+xml" href="{can.uri("feed")}"></head><body>'
                             f'<a href="{can.uri("page")}">local</a> {links}</body></html>').encode())
        elif path == "/redirect-file.html":
            self._send(302, b"", headers={"Location": can.uri("page")})
        elif path in ("/loop-a.html", "/loop-b.html"):
            other = "/loop-b.html" if path == "/loop-a.html" else "/loop-a.html"
            self._send(302, b"", headers={"Location": other})
        elif path == "/a/nul.html":
            # JSON-LD escapes survive extraction: a NUL in the author and the headline
            page = article_page("Headline with a NUL", article_text(10_001),
                                headline="Headline with a \x00 NUL", author="Ann\x00 Smith")
            self._send(200, page.encode())
        elif path == "/a/long.html":
            self._send(200, article_page("Over-long canonical", article_text(10_002),
                                         canonical=srv.long_canonical()).encode())
        elif path.startswith("/a/") and path.endswith(".html") and path[3:-5].isdigit():
            n = int(path[3:-5])
            if n >= srv.articles:
                self._send(404, b"not found", "text/plain")
                return
            if srv.delay:
                time.sleep(srv.delay)
            page = article_page(f"Story number {n}", article_text(n)).encode()
            if path in srv.cut:  # Content-Length promises the page; half of it arrives
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page[: len(page) // 2])
                self.close_connection = True
                return
            self._send(200, page)
        else:
            self._send(404, b"not found", "text/plain")


def hostile_site(folder: Path, articles: int = 20,
                 delay: float = 0.0) -> AbstractContextManager[HostileServer]:
    return serving(HostileServer(articles, Canaries(folder / "local"), delay))


def sources_toml(server: HostileServer, feeds: tuple[str, ...] = ("/feed.xml",),
                 sitemaps: tuple[str, ...] = (), pages: tuple[str, ...] = ()) -> str:
    """A sources file with one source, ``hostile``, of these documents of ``server``."""
    def urls(paths: tuple[str, ...]) -> str:
        return json.dumps([f"{server.base}{p}" for p in paths])

    return (f'[[source]]\nname = "hostile"\nfeeds = {urls(feeds)}\nsitemaps = {urls(sitemaps)}\n'
            f"start_urls = {urls(pages)}\n")
