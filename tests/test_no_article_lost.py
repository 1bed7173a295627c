"""No article lost (issue 14): every distinct page of a WARC is stored, or dropped for a true reason."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from warcio.warcwriter import WARCWriter

from crawler.cli import main
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article
from crawler.warc import write_response
from tests.conftest import REPO, shared_dataset

HTML = [("Content-Type", "text/html; charset=utf-8")]
SENTENCES = [
    "The regional council approved the new transport budget after a long debate on Tuesday night.",
    "Engineers said the bridge repairs would take at least eighteen months to complete in full.",
    "Local traders welcomed the decision but warned that parking charges must stay affordable.",
    "The opposition leader called the plan a missed chance to invest in cycling and walking routes.",
    "A public consultation on the timetable changes will open next month and run for six weeks.",
    "Officials expect the first new buses to enter service on the northern routes by the autumn.",
]


def article(title: str, seed: int, canonical: str | None = None) -> bytes:
    """A small article page of its own text (the sentences rotated by ``seed``)."""
    body = "".join(f"<p>{title}: {SENTENCES[(seed + i) % len(SENTENCES)]}</p>" for i in range(6))
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f"<html><head><title>{title}</title>{link}</head><body><article><h1>{title}</h1>"
            f"{body}</article></body></html>").encode()


def write(path: Path, pages: list[tuple[str, bytes]]) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, body in pages:
            write_response(writer, url, 200, HTML, body, "test", "article")


def import_and_rows(path: Path, db_url: str) -> tuple[str, dict[str, str]]:
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", db_url])
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        rows = {a.fetched_url: a.url for a in session.scalars(select(Article))}
    engine.dispose()
    return result.output, rows


def test_query_strings_keep_articles_apart(tmp_path: Path, sqlite_url: str) -> None:
    """Class 1: ?storyID=331300 and ?storyID=331198 were one key; the second replaced the first.
    Tracking parameters still fold one article's URLs into one key."""
    base = "http://sports.example/index.jsp?storyID="
    pages = [(base + "331300", article("Cup final", 0)), (base + "331198", article("Transfer news", 2)),
             ("http://blog.example/?p=1021", article("Budget", 1)),
             ("http://blog.example/?p=1022", article("Bridge", 3)),
             ("http://blog.example/?p=1021&utm_source=rss&fbclid=x", article("Budget", 1))]
    write(tmp_path / "a.warc.gz", pages)
    output, rows = import_and_rows(tmp_path / "a.warc.gz", sqlite_url)
    assert "4 stored, 0 changed, 1 unchanged, 0 dropped" in output
    assert sorted(rows.values()) == ["http://blog.example/?p=1021", "http://blog.example/?p=1022",
                                     base + "331198", base + "331300"]


def test_two_pages_claiming_one_key_are_both_kept(tmp_path: Path, sqlite_url: str) -> None:
    """Pages that declare one rel=canonical (a CMS that points every story at its section) but hold
    different articles are both stored, the second under its own URL, and counted; a later
    change of the same page still updates it in place."""
    section = "http://cms.example/news/"
    first = ("http://cms.example/news/story.php?id=1", article("Council budget", 0, section))
    second = ("http://cms.example/news/story.php?id=2", article("Bridge repairs", 3, section))
    write(tmp_path / "a.warc.gz", [first, second, first])
    output, rows = import_and_rows(tmp_path / "a.warc.gz", sqlite_url)
    assert "2 stored, 0 changed, 1 unchanged" in output
    assert "1 stored beside another page that claimed the same URL" in output
    assert rows == {first[0]: section, second[0]: second[0]}
    write(tmp_path / "b.warc.gz", [(second[0], article("Bridge repairs, updated", 4, section))])
    output, rows = import_and_rows(tmp_path / "b.warc.gz", sqlite_url)
    assert "0 stored, 1 changed" in output and len(rows) == 2


def test_trafilatura_eval_warc_loses_no_article() -> None:
    """A WARC of real pages as fetched (a hash-selected fifth of trafilatura-eval's 990, ~200
    pages, each with its own URL) imported by `newsdedup import-warc`: every page is stored, or
    dropped for a reason true of it (its annotated article text is under MIN_WORDS words)."""
    shared_dataset("trafilatura-eval")
    sys.path.insert(0, str(REPO))
    from bench.import_warc import run

    summary = run(every=5)
    assert summary["pages"] > 150
    assert summary["lost_pages"] == []
    assert summary["fates"]["rows"] == summary["fates"]["stored"]
    assert summary["fates"]["stored"] + sum(
        n for fate, n in summary["fates"].items() if fate.startswith("dropped:")) == summary["pages"]


def test_home_page_canonical_is_not_a_storage_key(tmp_path: Path, sqlite_url: str) -> None:
    """Stories that all declare the site's front page as rel=canonical keep their own URLs."""
    home = "http://cms.example/"
    pages = [("http://cms.example/news/view.php?id=1", article("Council budget", 0, home)),
             ("http://cms.example/news/view.php?id=2", article("Bridge repairs", 3, home))]
    write(tmp_path / "a.warc.gz", pages)
    output, rows = import_and_rows(tmp_path / "a.warc.gz", sqlite_url)
    assert "2 stored" in output and "claimed the same URL" not in output
    assert rows == {url: url for url, _ in pages}


def test_real_pages_as_crawlers_record_them_lose_nothing() -> None:
    """A hash-selected fifth of the Zyte pages (~40), each as a crawler may record it (gzip,
    deflate, br or zstd bodies, chunked framing, right and wrong charset headers, a BOM, XHTML,
    no Content-Type), with second captures, revisits, redirects and 404s: every page is stored
    with the text of its plain bytes, and every extra record is counted for what it is (the br
    records made the whole import fail before)."""
    shared_dataset("article-extraction-benchmark")
    sys.path.insert(0, str(REPO))
    from bench.import_warc import run

    summary = run(every=5, corpus="zyte", variations=True)
    assert summary["pages"] > 25 and len(summary["written"]) > 8
    assert summary["lost_pages"] == []
    assert summary["fates"]["stored"] == summary["pages"] == summary["fates"]["rows"]
    assert summary["extras_accounted"]


def test_real_pages_served_as_real_servers_serve_them_keep_their_text() -> None:
    """Real pages (a hash-selected 1/40 of both sets, ~30) with a stray NUL byte, as UTF-16
    without a BOM, and re-encoded in their script's legacy codec under a server's default
    ``charset=ISO-8859-1`` header with a right <meta>, or with no charset at all: each keeps the
    text of its plain UTF-8 bytes (dropped as binary, or damaged, before)."""
    shared_dataset("trafilatura-eval")
    shared_dataset("article-extraction-benchmark")
    sys.path.insert(0, str(REPO))
    from bench.serve_variants import charset_variants, pages, script_of, text_of, with_meta

    checked = Counter()
    for url, html in pages(40):
        reference = text_of(with_meta(html, "utf-8").encode(), url, "text/html")
        if reference.startswith("DROP:"):
            continue
        script = script_of(html)
        for name, body, content_type in charset_variants(html, script):
            if name in ("nul-stray", "utf-16-header") or (name.endswith(
                    ("/header-latin1+meta", "/none")) and script not in ("western", None)):
                assert text_of(body, url, content_type) == reference, (name, url)
                checked[name.split("/")[-1]] += 1
    assert checked["nul-stray"] >= 5 and checked["header-latin1+meta"] >= 1, checked
