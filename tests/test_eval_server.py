"""The corpus server: proxy and Host-header requests, content types, 404s, traversal, 304s, log."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from crawler.evaluation.corpus import Corpus, load_corpus
from crawler.evaluation.server import CorpusServer, serve_corpus

FIXTURE = Path(__file__).parent / "fixtures" / "evalcorpus"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(FIXTURE)


@pytest.fixture
def server(corpus: Corpus) -> Iterator[CorpusServer]:
    with serve_corpus(FIXTURE) as running:
        yield running


def via_proxy(server: CorpusServer, url: str, method: str = "GET", headers=None):
    """Fetch ``url`` with urllib using the server as HTTP proxy (absolute-URI requests)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": server.proxy_url}))
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def with_host(server: CorpusServer, host: str, path: str, headers=None):
    """Send an origin-form request with a plain Host header (no proxy semantics)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        conn.close()


def test_binds_loopback_only(server: CorpusServer) -> None:
    assert server.proxy_url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0


def test_every_manifest_page_through_the_proxy(server: CorpusServer, corpus: Corpus) -> None:
    for page in corpus.pages:
        status, headers, body = via_proxy(server, page.url)
        on_disk = (FIXTURE / "sites" / page.site / page.path.lstrip("/")).read_bytes()
        assert status == 200, page.url
        assert headers["Content-Type"] == page.content_type  # exactly the manifest's
        assert body == on_disk
        assert headers["Content-Length"] == str(len(on_disk))
    # the three outlets use three different content types, bare "text/html" included
    assert {p.content_type for p in corpus.pages} == {
        "text/html; charset=utf-8",
        "text/html; charset=windows-1252",
        "text/html",
    }


def test_host_header_requests(server: CorpusServer) -> None:
    status, headers, body = with_host(server, "beta-wire.test", "/feed.xml")
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml"
    assert body.startswith(b"<?xml") and b"http://beta-wire.test/" in body
    # a port in the Host header and upper case are tolerated
    status, _, _ = with_host(server, "BETA-WIRE.test:80", "/robots.txt")
    assert status == 200


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/feed.xml", "application/rss+xml"),
        ("/sitemap.xml", "application/xml"),
        ("/robots.txt", "text/plain"),
        ("/index.html", "text/html"),
        ("/", "text/html"),  # directory → index.html
        ("/private/internal-memo.html", "text/html"),  # served; robots compliance is scored
    ],
)
def test_other_files_by_extension(server: CorpusServer, path: str, content_type: str) -> None:
    status, headers, body = via_proxy(server, f"http://gamma-brief.test{path}")
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert body


def test_query_string_is_ignored_for_lookup(server: CorpusServer) -> None:
    status, _, _ = via_proxy(server, "http://alpha-news.test/feed.xml?page=2")
    assert status == 200
    assert ("alpha-news.test", "/feed.xml?page=2", 200) in server.requests


@pytest.mark.parametrize(
    "url",
    [
        "http://unknown.test/feed.xml",  # unknown host
        "http://example.com/",  # not a corpus host
        "http://alpha-news.test/2026/03/01/no-such-story.html",  # missing file
        "http://alpha-news.test/2026/",  # directory without index.html
    ],
)
def test_not_found(server: CorpusServer, url: str) -> None:
    status, headers, _ = via_proxy(server, url)
    assert status == 404
    assert "Content-Length" in headers


@pytest.mark.parametrize(
    "path",
    [
        "/../manifest.json",
        "/../../evalcorpus/manifest.json",
        "/%2e%2e/manifest.json",
        "/2026/..%2f..%2f..%2fmanifest.json",
        "/..%5c..%5cmanifest.json",
    ],
)
def test_path_traversal_refused(server: CorpusServer, path: str) -> None:
    # http.client sends the path verbatim (urllib would not normalise it either)
    status, _, body = with_host(server, "alpha-news.test", path)
    assert status == 404
    assert b"pages" not in body


def test_head_has_headers_but_no_body(server: CorpusServer, corpus: Corpus) -> None:
    page = corpus.pages[1]
    status, headers, body = via_proxy(server, page.url, method="HEAD")
    assert status == 200
    assert body == b""
    size = (FIXTURE / "sites" / page.site / page.path.lstrip("/")).stat().st_size
    assert headers["Content-Length"] == str(size)
    assert headers["Content-Type"] == page.content_type


def test_revalidation_with_etag_and_last_modified(server: CorpusServer) -> None:
    url = "http://alpha-news.test/feed.xml"
    status, headers, _ = via_proxy(server, url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag.startswith('"') and last_modified.endswith("GMT")

    assert via_proxy(server, url, headers={"If-None-Match": etag})[0] == 304
    assert via_proxy(server, url, headers={"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert via_proxy(server, url, headers={"If-None-Match": '"other"'})[0] == 200
    assert via_proxy(server, url, headers={"If-Modified-Since": last_modified})[0] == 304
    assert (
        via_proxy(server, url, headers={"If-Modified-Since": formatdate(0, usegmt=True)})[0] == 200
    )
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    mismatch = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert via_proxy(server, url, headers=mismatch)[0] == 200
    status, headers, body = via_proxy(server, url, headers={"If-None-Match": etag})
    assert body == b"" and headers["ETag"] == etag


def test_etag_follows_content(tmp_path: Path) -> None:
    # a copied corpus whose feed changes: new ETag, old one no longer matches
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(FIXTURE, root)
    with serve_corpus(root) as server:
        url = "http://alpha-news.test/feed.xml"
        etag = via_proxy(server, url)[1]["ETag"]
        feed = root / "sites" / "alpha-news" / "feed.xml"
        feed.write_bytes(feed.read_bytes().replace(b"</channel>", b"<item/></channel>"))
        status, headers, _ = via_proxy(server, url, headers={"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag


def test_request_log(server: CorpusServer) -> None:
    via_proxy(server, "http://alpha-news.test/robots.txt")
    via_proxy(server, "http://beta-wire.test/private/internal-memo.html", method="HEAD")
    via_proxy(server, "http://nowhere.test/x")
    with_host(server, "gamma-brief.test", "/sitemap.xml")
    assert server.requests == [
        ("alpha-news.test", "/robots.txt", 200),
        ("beta-wire.test", "/private/internal-memo.html", 200),
        ("nowhere.test", "/x", 404),
        ("gamma-brief.test", "/sitemap.xml", 200),
    ]
    snapshot = server.requests
    snapshot.clear()  # a copy: the server's log is untouched
    assert len(server.requests) == 4


def test_concurrent_requests_are_all_logged(server: CorpusServer, corpus: Corpus) -> None:
    from concurrent.futures import ThreadPoolExecutor

    urls = [p.url for p in corpus.pages] * 5
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda u: via_proxy(server, u)[0], urls))
    assert statuses == [200] * len(urls)
    assert len(server.requests) == len(urls)


def test_stops_on_exit(corpus: Corpus) -> None:
    with serve_corpus(corpus) as server:  # a loaded Corpus works too
        port = server.port
        assert via_proxy(server, corpus.pages[0].url)[0] == 200
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()


def test_keep_alive_connection_serves_several_requests(server: CorpusServer) -> None:
    # HTTP/1.1 persistent connection: 200, HEAD, 304 and 404 replies keep the framing intact.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        replies = []
        for method, path, extra in [
            ("GET", "/robots.txt", {}),
            ("HEAD", "/feed.xml", {}),
            ("GET", "/nope.html", {}),
            ("GET", "/robots.txt", {"If-Modified-Since": formatdate(usegmt=True)}),
            ("GET", "/sitemap.xml", {}),
        ]:
            conn.request(method, path, headers={"Host": "alpha-news.test", **extra})
            response = conn.getresponse()
            replies.append((response.status, len(response.read())))
    finally:
        conn.close()
    robots = (FIXTURE / "sites" / "alpha-news" / "robots.txt").stat().st_size
    sitemap = (FIXTURE / "sites" / "alpha-news" / "sitemap.xml").stat().st_size
    assert replies == [(200, robots), (200, 0), (404, 10), (304, 0), (200, sitemap)]
