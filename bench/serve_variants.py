"""Real pages served the many ways real servers serve them: what is lost or damaged.

Every check compares the stored article text with the text of the same page served plainly
(UTF-8 with ``<meta charset=utf-8>``): equal is kept, different is damaged, no row is lost.
Pages: ../shared/data/trafilatura-eval and ../shared/data/article-extraction-benchmark,
hash-selected (``--every``, ``--http-every``).

1. ``charset`` (in process, ``process_page``): each page with enough text of one script is
   re-encoded in that script's legacy codecs (Cyrillic: cp1251, koi8-r, iso-8859-5; Chinese:
   gbk, gb18030, big5; Japanese: shift_jis, euc-jp; Korean: euc-kr; Greek, Arabic, Hebrew,
   Polish, Western codecs), its charset declared in the ``<meta>`` only, the header only, both,
   nowhere, or in conflict (header ISO-8859-1 or UTF-8, a server's default, against a right
   ``<meta>``); and every page as UTF-16 (with a BOM; without one, the header saying which),
   with a UTF-8 BOM, with NUL bytes (a stray one; padding), as application/xhtml+xml, and
   padded to a very long page.
2. ``http``: pages served by a real HTTP server on 127.0.0.1 (port 0) to the real spider
   (`newsdedup crawl --sitemap`), one variant each: gzip, deflate, br, gzip twice, chunked,
   301/302 chains with relative Locations, ``<base href>`` with a relative rel=canonical, a
   canonical to itself (relative), to the home page, to another article (two articles must not
   collapse into one), query-string ids, a fragment, the same article listed under a second URL
   (tracking parameters: one article). The crawl's WARC (``--warc``) is then imported with
   `newsdedup import-warc` into a second store, which must hold the same.

Usage: python bench/serve_variants.py [--every N] [--http-every N] [--skip-http].
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import regex

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, trafeval_pages, zyte_pages
from crawler.content import NotAnArticle, process_page
from crawler.content.decoding import decode_html

#: Script -> (its letters, the legacy codecs servers of that language use).
SCRIPTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cyrillic": (r"\p{Cyrillic}", ("cp1251", "koi8-r", "iso-8859-5")),
    "greek": (r"\p{Greek}", ("iso-8859-7", "cp1253")),
    "japanese": (r"[\p{Hiragana}\p{Katakana}]", ("shift_jis", "euc-jp")),
    "korean": (r"\p{Hangul}", ("euc-kr",)),
    "chinese": (r"\p{Han}", ("gbk", "gb18030", "big5")),
    "arabic": (r"\p{Arabic}", ("cp1256", "iso-8859-6")),
    "hebrew": (r"\p{Hebrew}", ("cp1255", "iso-8859-8")),
    "polish": (r"[ąćęłńśźżĄĆĘŁŃŚŹŻ]", ("iso-8859-2", "cp1250")),
    "western": (r"[àâäéèêëïîôöùûüçßÄÖÜÉ]", ("iso-8859-1", "cp1252", "iso-8859-15")),
}
#: A page is of a script with at least this many of its letters.
MIN_LETTERS = 30
DECLARATIONS = ("meta", "header", "both", "none", "header-latin1+meta", "header-utf8+meta")
_CHARSET_META_RE = re.compile(r"<meta[^>]+charset[^>]*>", re.I)
_XML_ENCODING_RE = re.compile(r"(<\?xml[^>]*?)\s+encoding=[\"'][^\"']*[\"']", re.I)
_HEAD_RE = re.compile(r"<head\b[^>]*>", re.I)
_CANONICAL_RE = re.compile(r"<link[^>]+rel=[\"']?canonical[^>]*>|<meta[^>]+og:url[^>]*>", re.I)


def pages(every: int) -> list[tuple[str, str]]:
    """(url, page as text with no charset declaration) of the hash-selected pages."""
    raw = [((item.get("url") or "").strip() or f"http://trafilatura-eval.invalid/{path}", body)
           for path, body, item in trafeval_pages()]
    raw += [(url.strip(), body) for _, body, url, _ in zyte_pages()]
    out = []
    for url, body in raw:
        if every > 1 and int(hashlib.sha1(url.encode()).hexdigest(), 16) % every:
            continue
        html = decode_html(body, "text/html").text
        out.append((url, _XML_ENCODING_RE.sub(r"\1", _CHARSET_META_RE.sub("", html))))
    return out


def with_head(html: str, tags: str) -> str:
    """``tags`` at the start of the page's ``<head>`` (or of the page)."""
    head = _HEAD_RE.search(html)
    return html[:head.end()] + tags + html[head.end():] if head else tags + html


def with_meta(html: str, charset: str) -> str:
    return with_head(html, f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">')


def text_of(body: bytes, url: str, content_type: str | None) -> str:
    """The article text of a served page, or ``DROP:<reason>``."""
    try:
        return process_page(body, url, content_type).text
    except NotAnArticle as err:
        return f"DROP:{err.reason}"


def script_of(html: str) -> str | None:
    for name, (letters, _) in SCRIPTS.items():
        if len(regex.findall(letters, html)) >= MIN_LETTERS:
            return name
    return None


def charset_variants(html: str, script: str | None) -> Iterator[tuple[str, bytes, str | None]]:
    """(variant, body, Content-Type) of one page."""
    if script is not None:
        for codec in SCRIPTS[script][1]:
            for how in DECLARATIONS:
                meta = how not in ("header", "none")
                body = (with_meta(html, codec) if meta else html).encode(codec, "xmlcharrefreplace")
                header = {"header": codec, "both": codec, "header-latin1+meta": "iso-8859-1",
                          "header-utf8+meta": "utf-8"}.get(how)
                yield (f"{script}/{codec}/{how}", body,
                       f"text/html; charset={header}" if header else "text/html")
    utf8 = html.encode()
    yield "utf-8-bom", b"\xef\xbb\xbf" + utf8, "text/html"
    yield "utf-16le-bom", html.encode("utf-16"), "text/html"
    yield "utf-16be-bom", b"\xfe\xff" + html.encode("utf-16-be"), "text/html"
    yield "utf-16le-header", html.encode("utf-16-le"), "text/html; charset=utf-16le"
    yield "utf-16-header", html.encode("utf-16-le"), "text/html; charset=utf-16"
    yield "nul-stray", with_head(html, "\x00").encode() + b"\x00", "text/html"
    yield "nul-padding", utf8 + b"\x00" * 2048, "text/html"
    yield "xhtml", utf8, "application/xhtml+xml"
    pad = ("<!-- " + "x" * 1000 + " -->\n") * 3000
    yield "very-long", utf8.replace(b"</body>", pad.encode() + b"</body>", 1), "text/html"


def charset_matrix(every: int) -> dict[str, dict[str, int]]:
    """Per variant (codec/declaration, or byte variant): kept, damaged, dropped."""
    result: dict[str, Counter[str]] = {}
    examples: dict[str, str] = {}
    for url, html in pages(every):
        reference = text_of(with_meta(html, "utf-8").encode(), url, "text/html")
        if reference.startswith("DROP:"):
            continue
        for name, body, content_type in charset_variants(html, script_of(html)):
            got = text_of(body, url, content_type)
            fate = "kept" if got == reference else "dropped" if got.startswith("DROP:") else "damaged"
            result.setdefault(name, Counter())[fate] += 1
            if fate != "kept":
                examples.setdefault(name, f"{url}: {got[:60]!r}")
    for name, example in sorted(examples.items()):
        print(f"  e.g. {name:40} {example}")
    return {k: dict(v) for k, v in sorted(result.items())}


# -- 2. served over HTTP to the spider -----------------------------------------------------

HTTP_VARIANTS = ("plain", "gzip", "deflate", "br", "gzip-twice", "chunked", "redirect-301",
                 "redirect-chain-relative", "base-href", "canonical-self-relative",
                 "canonical-home", "canonical-other-article", "query-id", "fragment",
                 "second-url-tracking")
Route = tuple[int, list[tuple[str, str]], bytes]


class Site(ThreadingHTTPServer):
    """Serves ``routes`` (path with query -> status, headers, body), ``chunked`` ones in chunks;
    anything else is a 404."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.chunked: set[str] = set()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, headers, body = self.server.routes.get(self.path, (404, [], b"not found"))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if self.path in self.server.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 1000):
                part = body[i:i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(site: Site) -> Iterator[Site]:
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()


def served_html(html: str, canonical: str | None = None, base: str | None = None) -> bytes:
    """The page as UTF-8 with ``<meta charset>``, its own canonical/og:url replaced by
    ``canonical`` (none when None), with a ``<base href>`` when given."""
    tags = '<meta charset="utf-8">' + (f'<base href="{base}">' if base else "") + (
        f'<link rel="canonical" href="{canonical}">' if canonical else "")
    return with_head(_CANONICAL_RE.sub("", html), tags).encode()


_ENCODED = {"gzip": (gzip.compress, "gzip"), "deflate": (zlib.compress, "deflate"),
            "br": (brotli.compress, "br"),
            "gzip-twice": (lambda b: gzip.compress(gzip.compress(b)), "gzip, gzip")}


def build_site(site: Site, selected: list[tuple[str, str]]) -> tuple[list[dict], list[str]]:
    """Routes for every page (one variant each) and the sitemap; returns what each page must
    give (variant, the URL it is fetched from, its reference text) and the URLs listed."""
    base = site.base
    expected: list[dict] = []
    listed: list[str] = []
    paths = [f"/news/{n}/article.html" for n in range(len(selected))]
    for n, (_, html) in enumerate(selected):
        name = HTTP_VARIANTS[n % len(HTTP_VARIANTS)]
        path = paths[n]
        canonical = base_href = None
        if name == "query-id":
            path = f"/story.php?id={331300 + n}"
        elif name == "base-href":
            canonical, base_href, path = "article.html", f"{base}/news/{n}/", f"/print/{n}"
        elif name == "canonical-self-relative":
            canonical = "article.html"
        elif name == "canonical-home":
            canonical = "/"
        elif name == "canonical-other-article":
            canonical = base + paths[(n + 1) % len(selected)]
        plain = body = served_html(html, canonical, base_href)
        headers = [("Content-Type", "text/html")]
        if name in _ENCODED:
            encode, header = _ENCODED[name]
            body, headers = encode(plain), [*headers, ("Content-Encoding", header)]
        elif name == "chunked":
            site.chunked.add(path)
        site.routes[path] = (200, headers, body)
        reference = text_of(plain, base + path, "text/html")
        if reference.startswith("DROP:"):
            continue
        entry = base + path
        if name == "redirect-301":
            entry = f"{base}/old/{n}"
            site.routes[f"/old/{n}"] = (301, [("Location", base + path)], b"")
        elif name == "redirect-chain-relative":
            entry = f"{base}/r1/{n}"
            site.routes[f"/r1/{n}"] = (302, [("Location", f"/r2/{n}")], b"")
            site.routes[f"/r2/{n}"] = (301, [("Location", f"../news/{n}/article.html")], b"")
        elif name == "fragment":
            entry += "#comments"
        elif name == "second-url-tracking":
            listed.append(entry + "?utm_source=rss&utm_medium=feed")
        listed.append(entry)
        expected.append({"variant": name, "url": base + path, "text": reference})
    site.routes["/sitemap.xml"] = (200, [("Content-Type", "application/xml")], (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
        'sitemap/0.9">' + "".join(f"<url><loc>{u.replace('&', '&amp;')}</loc></url>"
                                  for u in listed) + "</urlset>").encode())
    return expected, listed


def stored_rows(db: Path) -> list[tuple[str, str, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT url, fetched_url, text FROM articles").fetchall()


def account_http(expected: list[dict], rows: list[tuple[str, str, str]]) -> dict[str, dict[str, int]]:
    """Per variant: kept (a row with its text), damaged (a row of its URL with other text),
    lost (neither); under ``all``, the rows beyond one per page (``extra_rows``)."""
    by_fetched = {fetched.split("#")[0]: text for _, fetched, text in rows}
    texts = Counter(text for _, _, text in rows)
    result: dict[str, Counter[str]] = {}
    for entry in expected:
        got = by_fetched.get(entry["url"])
        fate = ("kept" if texts[entry["text"]] else "damaged" if got is not None else "lost")
        result.setdefault(entry["variant"], Counter())[fate] += 1
    result["all"] = Counter(extra_rows=len(rows) - len(expected))
    return {k: dict(v) for k, v in sorted(result.items())}


def http_matrix(every: int) -> dict:
    """Crawl the served pages with the real spider (writing a WARC), import that WARC into a
    second store, and account for every page in both."""
    selected = pages(every)
    with tempfile.TemporaryDirectory(prefix="newsdedup-serve-") as tmp, serving(Site()) as site:
        expected, listed = build_site(site, selected)
        crawl_db, import_db = Path(tmp) / "crawl.db", Path(tmp) / "import.db"
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        start = time.perf_counter()
        crawl = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", "--sitemap", f"{site.base}/sitemap.xml",
             "--db", f"sqlite:///{crawl_db}", "--warc", str(Path(tmp) / "warc"),
             "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
        seconds = time.perf_counter() - start
        warcs = sorted((Path(tmp) / "warc").glob("*.warc.gz"))
        imported = subprocess.run(
            [sys.executable, "-m", "crawler", "import-warc", *map(str, warcs),
             "--db", f"sqlite:///{import_db}"], capture_output=True, text=True, cwd=ROOT, env=env)
        crawl_fates = account_http(expected, stored_rows(crawl_db))
        import_fates = account_http(expected, stored_rows(import_db)) if warcs else {}
    return {"pages": len(expected), "urls_listed": len(listed), "crawl_exit": crawl.returncode,
            "crawl_summary": (crawl.stderr.strip().splitlines() or [""])[-1],
            "crawl_seconds": round(seconds, 1), "import_summary": imported.stdout.strip(),
            "crawl": crawl_fates, "import": import_fates}


def totals(matrix: dict[str, dict[str, int]]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for fates in matrix.values():
        out.update(fates)
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=4, help="the hash-selected 1/N of the pages")
    parser.add_argument("--http-every", type=int, default=8, help="1/N of the pages over HTTP")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    start = time.process_time()
    charset = charset_matrix(args.every)
    for name, fates in charset.items():
        print(f"  charset {name:40} {fates}")
    summary: dict = {"charset_total": totals(charset), "charset": charset}
    if not args.skip_http:
        http = http_matrix(args.http_every)
        for store in ("crawl", "import"):
            for name, fates in http[store].items():
                print(f"  {store:6} {name:40} {fates}")
        print(f"  crawl: {http['crawl_summary']}\n  import: {http['import_summary']}")
        summary["http"] = http
    summary["cpu_seconds"] = round(time.process_time() - start, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
