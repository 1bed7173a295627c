"""No article lost: real pages through a WARC and `newsdedup import-warc`.

Writes the distinct pages of one real set to a WARC in a temporary directory, each as fetched
(its bytes, ``Content-Type: text/html``, its URL), imports it with the real CLI into a fresh
SQLite database, and accounts for every page: stored (a row whose fetched URL is the page's),
dropped with a reason, or lost (extracted but no row of its own: overwritten). Sets:

* ``trafeval``: the 990 pages of ../shared/data/trafilatura-eval (the 37 without a real URL get
  one under ``trafilatura-eval.invalid``); truth = the annotated main-text snippets;
* ``zyte``: the 181 pages of ../shared/data/article-extraction-benchmark; truth = the
  annotated article body.

A drop is *true* when the reason holds of the page: ``not_html``/``binary``/``empty`` by its
bytes, ``no_text``/``too_short``/``listing`` only if its truth has fewer than MIN_WORDS words.

With ``--variations`` each page is written as a crawler may record it (one of VARIANTS, chosen
by a hash of the URL: gzip, deflate, br or zstd content-encoding, chunked framing kept, a right
or a wrong charset in the header, a BOM, XHTML's media type, no Content-Type), some pages with
an extra record (a second capture, a revisit, a redirect to it, a 404 beside it); a stored page
must have the text of its plain bytes, and every extra record must be counted for what it is.

Usage: python bench/import_warc.py [--set trafeval|zyte] [--every N] [--dedup] [--variations]
(N > 1: the hash-selected 1/N of the pages; --dedup: then `newsdedup dedup`, listing the stories
of several pages). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import codecs
import gzip
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import brotli
from w3lib.url import safe_url_string
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, trafeval_pages, zyte_pages
from crawler.content import NotAnArticle, process_page
from crawler.content.decoding import decode_html
from crawler.content.extraction import MIN_WORDS, count_words
from crawler.warc import write_response, zstd

CONTENT_TYPE = "text/html"
_BYTE_REASONS = {"not_html", "binary"}


def page_url(path: str, item: dict) -> str:
    """The page's URL (whitespace trimmed), or one under .invalid for the pages that have none."""
    url = (item.get("url") or "").strip()
    if url.startswith(("http://", "https://")):
        return safe_url_string(url)  # a few have a space, which WARC-Target-URI cannot hold
    return "http://trafilatura-eval.invalid/" + Path(path).name.removesuffix(".html.gz")


def selected(url: str, every: int) -> bool:
    """The hash-selected 1/every of the pages (all when every <= 1)."""
    return every <= 1 or int(hashlib.sha1(url.encode()).hexdigest(), 16) % every == 0


def trafeval_records(every: int = 1) -> list[tuple[str, bytes, int]]:
    """(url, bytes, annotated words) of the selected trafilatura-eval pages."""
    rows = [(page_url(path, item), raw, sum(count_words(s) for s in item.get("with", ())))
            for path, raw, item in trafeval_pages()]
    return [row for row in rows if selected(row[0], every)]


def zyte_records(every: int = 1) -> list[tuple[str, bytes, int]]:
    """(url, bytes, words of the true body) of the selected Zyte pages."""
    rows = [(safe_url_string(url.strip()), raw, count_words(truth))
            for _, raw, url, truth in zyte_pages()]
    return [row for row in rows if selected(row[0], every)]


SETS = {"trafeval": ("trafilatura-eval", trafeval_records),
        "zyte": ("article-extraction-benchmark", zyte_records)}


def write_warc(path: Path, records: list[tuple[str, bytes, int]], source: str,
               variations: bool = False) -> Counter[str]:
    """One 200 ``response`` record (kind article) per page; with ``variations``, each page as one
    of VARIANTS (hash-chosen) and, for some pages, a second capture, a revisit, a redirect to it
    or a 404 beside it. Returns the variants and extra records written."""
    written: Counter[str] = Counter()
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, raw, _ in records:
            if not variations:
                write_response(writer, url, 200, [_HTML], raw, source, "article")
                continue
            pick = int(hashlib.sha1(url.encode()).hexdigest(), 16)
            name, headers, body = variant(VARIANTS[pick % len(VARIANTS)], raw)
            written[name] += 1
            foreign_response(writer, url, 200, headers, body)
            slot = (pick // len(VARIANTS)) % (2 * len(EXTRAS))  # half the pages get one
            extra = EXTRAS[slot] if slot < len(EXTRAS) else None
            if extra == "second capture":
                foreign_response(writer, url, 200, headers, body)
            elif extra == "revisit":
                writer.write_record(writer.create_revisit_record(
                    url, digest="sha1:" + hashlib.sha1(raw).hexdigest(), refers_to_uri=url,
                    refers_to_date="2026-01-01T00:00:00Z"))
            elif extra == "redirect":
                foreign_response(writer, url + ("&" if "?" in url else "?") + "from=old", 301,
                                 [("Location", url)], b"")
            elif extra == "404":
                foreign_response(writer, url.rstrip("/") + "-gone", 404, [_HTML],
                                 b"<html><body><h1>Not found</h1></body></html>")
            if extra:
                written[extra] += 1
    return written


def foreign_response(writer: WARCWriter, url: str, status: int, headers: list[tuple[str, str]],
                     body: bytes) -> None:
    """A ``response`` record as another crawler writes it: headers and body as received."""
    http = StatusAndHeaders(f"{status} X", headers, protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                  http_headers=http))


#: How crawlers record a page: every content-encoding, chunked framing kept, a right or wrong
#: charset in the header, a BOM (UTF-8 pages), XHTML's media type, no Content-Type at all.
VARIANTS = ("plain", "gzip", "deflate", "br", "zstd", "chunked", "chunked-gzip", "charset-header",
            "wrong-charset-header", "bom", "xhtml", "no-content-type")
EXTRAS = ("second capture", "revisit", "redirect", "404")
_HTML = ("Content-Type", CONTENT_TYPE)


def _chunked(body: bytes, size: int = 4096) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def variant(name: str, raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """(variant, HTTP headers, body) of one page as a crawler records it."""
    encoding = decode_html(raw, CONTENT_TYPE).encoding
    if name == "gzip":
        return name, [_HTML, ("Content-Encoding", "gzip")], gzip.compress(raw)
    if name == "deflate":
        return name, [_HTML, ("Content-Encoding", "deflate")], zlib.compress(raw)
    if name == "br":
        return name, [_HTML, ("Content-Encoding", "br")], brotli.compress(raw)
    if name == "zstd":
        return name, [_HTML, ("Content-Encoding", "zstd")], zstd.compress(raw)
    if name == "chunked":
        return name, [_HTML, ("Transfer-Encoding", "chunked")], _chunked(raw)
    if name == "chunked-gzip":
        return name, [_HTML, ("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")], _chunked(
            gzip.compress(raw))
    if name == "charset-header":
        return name, [("Content-Type", f"{CONTENT_TYPE}; charset={encoding}")], raw
    if name == "wrong-charset-header":
        wrong = "iso-8859-1" if encoding == "utf-8" else "utf-8"
        return name, [("Content-Type", f"{CONTENT_TYPE}; charset={wrong}")], raw
    if name == "bom" and encoding == "utf-8" and not raw.startswith(codecs.BOM_UTF8):
        return name, [_HTML], codecs.BOM_UTF8 + raw
    if name == "xhtml":
        return name, [("Content-Type", "application/xhtml+xml")], raw
    if name == "no-content-type":
        return name, [], raw
    return "plain", [_HTML], raw


def drop_is_true(reason: str, raw: bytes, truth_words: int) -> bool:
    """Whether a drop reason holds of this page (see the module docstring)."""
    if reason == "empty":
        return not raw.strip()
    if reason in _BYTE_REASONS:  # not HTML: no markup at all
        return b"<" not in raw[:65536]
    return truth_words < MIN_WORDS


def import_with_cli(warc: Path, db: Path) -> str:
    """`newsdedup import-warc` (``python -m crawler``, this checkout's code) in a child process,
    as a user runs it; its output line."""
    done = subprocess.run([sys.executable, "-m", "crawler", "import-warc", str(warc),
                           "--db", f"sqlite:///{db}"], capture_output=True, text=True, check=True,
                          cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"})
    return done.stdout.strip()


def dedup_with_cli(db: Path) -> tuple[list[list[str]], str]:
    """`newsdedup dedup` on the imported store; the fetched URLs of each story of several pages
    (the sets hold distinct articles: such a story merges different pages, or finds a real copy),
    and the last line of its error output if it failed."""
    done = subprocess.run([sys.executable, "-m", "crawler", "dedup", "--db", f"sqlite:///{db}"],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        return [], f"exit {done.returncode}: " + (done.stderr.strip().splitlines() or [""])[-1]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT m.story_id, a.fetched_url FROM story_members m "
                            "JOIN articles a ON a.id = m.article_id ORDER BY m.story_id").fetchall()
    stories: dict[int, list[str]] = {}
    for story, url in rows:
        stories.setdefault(story, []).append(url)
    return [urls for urls in stories.values() if len(urls) > 1], ""


def account(records: list[tuple[str, bytes, int]], db: Path,
            check_text: bool = False) -> tuple[Counter[str], list[dict]]:
    """Each page's fate: stored, dropped:<reason> (true or wrong) or overwritten; with
    ``check_text``, a stored page whose text is not that of its plain bytes is counted
    (stored:text_differs) and listed."""
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT fetched_url, text FROM articles"))
        n_rows = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    fates: Counter[str] = Counter(rows=n_rows)
    lost: list[dict] = []
    for url, raw, truth_words in records:
        if url in stored:
            fates["stored"] += 1
            if check_text and stored[url] != process_page(raw, url, CONTENT_TYPE).text:
                fates["stored:text_differs"] += 1
                lost.append({"url": url, "fate": "stored with other text"})
            continue
        try:
            process_page(raw, url, CONTENT_TYPE)
        except NotAnArticle as err:
            true = drop_is_true(err.reason, raw, truth_words)
            fates[f"dropped:{err.reason}:{'true' if true else 'wrong'}"] += 1
            if not true:
                lost.append({"url": url, "fate": f"dropped:{err.reason}",
                             "truth_words": truth_words})
            continue
        fates["overwritten"] += 1
        lost.append({"url": url, "fate": "overwritten"})
    return fates, lost


def run(every: int = 1, corpus: str = "trafeval", dedup: bool = False,
        variations: bool = False) -> dict:
    """Build the WARC of one set (``variations``: as crawlers record pages, with extra records),
    import it, account for every page (then, with ``dedup``, run `newsdedup dedup` and list the
    stories of several pages); the summary."""
    source, records_of = SETS[corpus]
    records = records_of(every)
    with tempfile.TemporaryDirectory(prefix="newsdedup-warc-") as tmp:
        warc, db = Path(tmp) / f"{corpus}.warc.gz", Path(tmp) / "import.db"
        written = write_warc(warc, records, source, variations)
        start = time.perf_counter()
        output = import_with_cli(warc, db)
        seconds = time.perf_counter() - start
        fates, lost = account(records, db, check_text=variations)
        merged, dedup_error = dedup_with_cli(db) if dedup else ([], "")
    summary = {"set": corpus, "pages": len(records), "cli": output, "seconds": round(seconds, 1),
               "fates": dict(sorted(fates.items())), "lost": len(lost), "lost_pages": lost,
               "stories_of_several_pages": len(merged), "merged": merged, "dedup_error": dedup_error}
    if variations:
        summary["written"] = dict(sorted(written.items()))
        summary["extras_accounted"] = extras_accounted(output, written)
    return summary


def extras_accounted(output: str, written: Counter[str]) -> bool:
    """Whether the CLI counted each extra record with its true reason: a second capture as
    unchanged, a revisit as skipped:revisit, a redirect as skipped:redirect, a 404 as
    skipped:http_404."""
    said = {name: int(n) for n, name in re.findall(r"(\d+) (unchanged|revisit|redirect|http_404)", output)}
    return (said.get("unchanged", 0), said.get("revisit", 0), said.get("redirect", 0),
            said.get("http_404", 0)) == (written["second capture"], written["revisit"],
                                         written["redirect"], written["404"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="corpus", choices=sorted(SETS), default="trafeval")
    parser.add_argument("--every", type=int, default=1, help="import the hash-selected 1/N")
    parser.add_argument("--dedup", action="store_true", help="then `newsdedup dedup`")
    parser.add_argument("--variations", action="store_true",
                        help="pages as crawlers record them (encodings, charsets, extra records)")
    args = parser.parse_args()
    summary = run(args.every, args.corpus, args.dedup, args.variations)
    print(summary["cli"])
    print(f"{summary['pages']} pages imported in {summary['seconds']} s; "
          f"{summary['fates'].get('rows', 0)} article rows")
    for fate, n in summary["fates"].items():
        print(f"  {fate:34}{n:>5}")
    for page in summary["lost_pages"]:
        print(f"  lost: {page}")
    for urls in summary["merged"]:
        print(f"  one story: {urls}")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("lost_pages", "merged")}))


if __name__ == "__main__":
    main()
