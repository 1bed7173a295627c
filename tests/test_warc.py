"""WARC archive: records written as the middleware does, read back and imported into the store."""

from __future__ import annotations

import gzip
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from warcio.warcwriter import WARCWriter

from crawler.cli import main
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, SeenUrl
from crawler.warc import read_pages, record_kind, write_response

ARTICLE = (Path(__file__).parent / "fixtures" / "pages" / "article.html").read_bytes()


def _write(path: Path) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        html = [("Content-Type", "text/html; charset=utf-8")]
        write_response(writer, "http://wire.test/2026/a.html", 200, html, ARTICLE, "wire", "article")
        # as received: gzip content-encoding, decoded on the way back
        write_response(writer, "http://wire.test/2026/b.html", 200,
                       [*html, ("Content-Encoding", "gzip")],
                       gzip.compress(ARTICLE.replace(b"Regional cloud", b"Other cloud")), None, "article")
        write_response(writer, "http://wire.test/feed.xml", 200,
                       [("Content-Type", "application/rss+xml")], b"<rss/>", "wire", "feed")
        write_response(writer, "http://wire.test/gone.html", 404, html, b"gone", "wire", "article")
        write_response(writer, "http://wire.test/png.html", 200, html, b"\x89PNG\r\n\x1a\n" * 50,
                       "wire", "article")


def test_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    _write(path)
    pages = list(read_pages(path))
    assert [(p.url, p.status, p.kind) for p in pages][:3] == [
        ("http://wire.test/2026/a.html", 200, "article"), ("http://wire.test/2026/b.html", 200, "article"),
        ("http://wire.test/feed.xml", 200, "feed")]
    assert pages[0].body == ARTICLE and pages[0].source == "wire"
    assert pages[1].body == ARTICLE.replace(b"Regional cloud", b"Other cloud")
    assert pages[1].source is None and pages[0].date is not None


def test_record_kind() -> None:
    assert record_kind("http://a.test/feed.xml", {"doc_kind": "feed"}) == "feed"
    assert record_kind("http://a.test/robots.txt", {"dont_obey_robotstxt": True}) == "robots"
    assert record_kind("http://a.test/x.html", {"source": "a", "doc": "http://a.test/feed"}) == "article"


def test_import_warc_stores_articles_through_the_pipelines(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "a.warc.gz"
    _write(path)
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "2 stored, 0 changed, 0 unchanged, 1 dropped, 2 skipped" in result.output
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        rows = {a.fetched_url: a.source for a in session.scalars(select(Article))}
        seen = dict(session.execute(select(SeenUrl.url, SeenUrl.outcome)).all())
    engine.dispose()
    assert rows == {"http://wire.test/2026/a.html": "wire", "http://wire.test/2026/b.html": "wire.test"}
    assert seen["http://wire.test/png.html"] == "dropped:binary"
    again = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert "0 stored, 0 changed, 2 unchanged" in again.output


def test_import_warc_with_a_malformed_record_is_one_line_and_stores_nothing(tmp_path: Path,
                                                                            sqlite_url: str) -> None:
    """A good record, then a response record without a target URI (warcio fails on it with an
    AttributeError): one error line, exit status 2, and the good record is not stored either."""
    path = tmp_path / "bad.warc"
    with path.open("wb") as fh:
        write_response(WARCWriter(fh, gzip=False), "http://wire.test/2026/a.html", 200,
                       [("Content-Type", "text/html; charset=utf-8")], ARTICLE, "wire", "article")
        fh.write(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 9999\r\n\r\nshort")
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "not a readable WARC file (malformed record" in result.stderr
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(Article)).all() == []
    engine.dispose()
