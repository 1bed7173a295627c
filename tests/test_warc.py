"""WARC archive: records written as the middleware does, read back and imported into the store."""

from __future__ import annotations

import codecs
import gzip
import io
import sys
import zlib
from pathlib import Path

import brotli
from click.testing import CliRunner
from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.cli import main
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, SeenUrl
from crawler.warc import MAX_PAYLOAD, read_pages, record_kind, write_response

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

ARTICLE = (Path(__file__).parent / "fixtures" / "pages" / "article.html").read_bytes()
HTML = [("Content-Type", "text/html; charset=utf-8")]


def _write(path: Path) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        html = HTML
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


def _chunked(body: bytes, size: int = 700) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def _raw_deflate(body: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(body) + packer.flush()


#: Bodies as crawlers record them: each content-encoding the crawl accepts (Scrapy sends
#: gzip, deflate, br, zstd), raw deflate (some servers' "deflate"), chunked framing kept, and a
#: body stored decoded under its gzip header.
ENCODED = {
    "gzip": ([("Content-Encoding", "gzip")], gzip.compress(ARTICLE)),
    "deflate": ([("Content-Encoding", "deflate")], zlib.compress(ARTICLE)),
    "raw-deflate": ([("Content-Encoding", "deflate")], _raw_deflate(ARTICLE)),
    "br": ([("Content-Encoding", "br")], brotli.compress(ARTICLE)),
    "zstd": ([("Content-Encoding", "zstd")], zstd.compress(ARTICLE)),
    "chunked": ([("Transfer-Encoding", "chunked")], _chunked(ARTICLE)),
    "chunked-gzip": ([("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")],
                     _chunked(gzip.compress(ARTICLE))),
    "gzip-stored-decoded": ([("Content-Encoding", "gzip")], ARTICLE),
}


def _write_raw(path: Path, records: list[tuple[str, int, list[tuple[str, str]], bytes]]) -> None:
    """Records as another crawler writes them: headers as received, framing and encodings kept."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, status, headers, body in records:
            http = StatusAndHeaders(f"{status} X", headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http))


def test_every_encoding_the_crawl_accepts_reads_back(tmp_path: Path) -> None:
    """brotli made warcio raise (AttributeError: the whole import lost), zstd came back as bytes."""
    path = tmp_path / "enc.warc.gz"
    _write_raw(path, [(f"http://wire.test/{name}", 200, [*HTML, *headers], body)
                      for name, (headers, body) in ENCODED.items()])
    pages = list(read_pages(path))
    assert [p.url.rsplit("/", 1)[1] for p in pages] == list(ENCODED)
    assert all(p.body == ARTICLE and not p.problem and not p.truncated for p in pages)


def test_payloads_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    path = tmp_path / "bad.warc.gz"
    packed = gzip.compress(ARTICLE)
    _write_raw(path, [
        ("http://wire.test/cut", 200, [*HTML, ("Content-Encoding", "gzip")], packed[:len(packed) // 2]),
        ("http://wire.test/unknown", 200, [*HTML, ("Content-Encoding", "zstd")], b"\x28\xb5\x2f\xfd" * 99),
        ("http://wire.test/big", 200, [*HTML, ("Content-Encoding", "gzip")],
         gzip.compress(b"<p>" + b"word " * (MAX_PAYLOAD // 4))),
    ])
    cut, unknown, big = read_pages(path)
    assert cut.truncated and not cut.problem and ARTICLE.startswith(cut.body) and cut.body
    assert unknown.problem == "content_encoding"
    assert big.problem == "too_large"


RUSSIAN = ("<html><head>{meta}<title>Бюджет</title></head><body><article><h1>Бюджет города</h1>"
           + "".join(f"<p>Городской совет утвердил новый транспортный бюджет после долгих дебатов, "
                     f"заседание {i}. Инженеры заявили, что ремонт моста займёт восемнадцать месяцев.</p>"
                     for i in range(6)) + "</article></body></html>")


def test_every_capture_is_counted_with_a_true_reason(tmp_path: Path, sqlite_url: str) -> None:
    """What a user's crawler writes: charsets only in <meta>, lying headers, BOMs, XHTML, the same
    URL twice, revisits, redirects, errors, an unreadable status line, a resource record."""
    legacy = RUSSIAN.format(meta='<meta charset="windows-1251">').encode("cp1251")
    xhtml = (b'<?xml version="1.0" encoding="windows-1251"?>\n'
             + RUSSIAN.format(meta="").replace("<html>", '<html xmlns="http://www.w3.org/1999/xhtml">')
             .encode("cp1251"))
    path = tmp_path / "real.warc.gz"
    _write_raw(path, [
        ("http://ru.test/meta-only", 200, [("Content-Type", "text/html")], legacy),
        ("http://ru.test/header-lies-utf8", 200, HTML, legacy),
        ("http://ru.test/xhtml", 200, [("Content-Type", "application/xhtml+xml")], xhtml),
        ("http://wire.test/latin1-header", 200, [("Content-Type", "text/html; charset=iso-8859-1")],
         ARTICLE),
        ("http://wire.test/bom8", 200, [("Content-Type", "text/html; charset=iso-8859-1")],
         codecs.BOM_UTF8 + ARTICLE),
        ("http://wire.test/bom16", 200, HTML, codecs.BOM_UTF16_LE + ARTICLE.decode().encode("utf-16-le")),
        ("http://wire.test/no-type", 200, [], ARTICLE),
        ("http://wire.test/no-type", 200, [], ARTICLE),  # captured twice
        ("http://wire.test/moved", 301, [("Location", "http://wire.test/no-type")], b""),
        ("http://wire.test/missing", 404, HTML, b"<html><body>Not found</body></html>"),
        ("http://wire.test/down", 503, HTML, ARTICLE),
        ("http://wire.test/empty", 204, [], b""),
        ("http://wire.test/odd-status", "OK", HTML, ARTICLE),
    ])
    with path.open("ab") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_revisit_record(
            "http://wire.test/no-type", digest="sha1:AAAA", refers_to_uri="http://wire.test/no-type",
            refers_to_date="2026-01-01T00:00:00Z",
            http_headers=StatusAndHeaders("200 OK", HTML, protocol="HTTP/1.1")))
        writer.write_record(writer.create_revisit_record(  # no HTTP headers: the spec allows it
            "http://wire.test/no-type", digest="sha1:AAAA", refers_to_uri="http://wire.test/no-type",
            refers_to_date="2026-01-01T00:00:00Z"))
        writer.write_record(writer.create_warc_record("<http://wire.test/resource>", "resource",
                                                      payload=io.BytesIO(ARTICLE),
                                                      warc_content_type="text/html"))
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert ("8 stored, 0 changed, 1 unchanged, 1 dropped, 6 skipped (dropped: 1 empty) (skipped: "
            "1 bad_status, 1 http_404, 1 http_503, 1 redirect, 2 revisit)") in result.output
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        rows = {a.fetched_url: a for a in session.scalars(select(Article))}
    engine.dispose()
    assert {url for url in rows if url.startswith("http://ru.test/")} == {
        "http://ru.test/meta-only", "http://ru.test/header-lies-utf8", "http://ru.test/xhtml"}
    for url, row in rows.items():
        expected = "Городской совет" if url.startswith("http://ru.test/") else "Regional cloud"
        assert expected in row.text, url
    assert "http://wire.test/resource" in rows


def test_a_damaged_warc_stops_with_one_line_and_keeps_what_it_read(tmp_path: Path,
                                                                     sqlite_url: str) -> None:
    """warcio ends silently at a gzip member that fails to decompress: every later record was lost
    without a word."""
    path = tmp_path / "a.warc.gz"
    _write_raw(path, [(f"http://wire.test/{i}", 200, HTML,
                       ARTICLE.replace(b"Regional cloud", f"Cloud {i}".encode())) for i in range(3)])
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3] + b"\x00" * 64 + data[len(data) * 2 // 3 + 64:])
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert result.exit_code == 2
    assert "not a readable WARC file (" in result.output and "2 stored" in result.output
    assert "Traceback" not in result.output and result.output.isascii()
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert len(session.scalars(select(Article)).all()) == 2
    engine.dispose()
    path.write_bytes(data[:-200])  # cut short inside the last record
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert result.exit_code == 2 and "(damaged or cut short at byte" in result.output


def test_an_older_capture_does_not_replace_a_newer_one(tmp_path: Path, sqlite_url: str) -> None:
    """WARCs imported newest first (or a crawl's captures out of order): the older capture is
    counted, not stored over the newer one; a later capture still updates the page."""
    url = "http://wire.test/2026/a.html"
    captures = {"new": ("2026-03-05T10:00:00Z", ARTICLE.replace(b"Regional cloud", b"Updated cloud")),
                "old": ("2026-03-04T10:00:00Z", ARTICLE),
                "newest": ("2026-03-06T10:00:00Z", ARTICLE.replace(b"Regional cloud", b"Latest cloud"))}
    for name, (date, body) in captures.items():
        with (tmp_path / f"{name}.warc.gz").open("wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            http = StatusAndHeaders("200 OK", HTML, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http,
                                                          warc_headers_dict={"WARC-Date": date}))
    outputs = [CliRunner().invoke(main, ["import-warc", str(tmp_path / f"{name}.warc.gz"), "--db",
                                         sqlite_url]).output for name in captures]
    assert "1 stored" in outputs[0]
    assert "0 stored, 0 changed, 0 unchanged, 0 dropped, 1 skipped (skipped: 1 older_capture)" in outputs[1]
    assert "1 changed" in outputs[2]
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert "Latest cloud" in session.scalars(select(Article.text)).one()
    engine.dispose()


def test_import_warc_with_a_malformed_record_is_one_line_and_keeps_what_it_read(tmp_path: Path,
                                                                                 sqlite_url: str) -> None:
    """A good record, then a response record without a target URI and cut short (warcio once
    failed on it with an AttributeError): one error line, exit status 2, the good record stored."""
    path = tmp_path / "bad.warc"
    with path.open("wb") as fh:
        write_response(WARCWriter(fh, gzip=False), "http://wire.test/2026/a.html", 200,
                       [("Content-Type", "text/html; charset=utf-8")], ARTICLE, "wire", "article")
        fh.write(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 9999\r\n\r\nshort")
    result = CliRunner().invoke(main, ["import-warc", str(path), "--db", sqlite_url])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "not a readable WARC file (" in result.stderr
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert [a.fetched_url for a in session.scalars(select(Article))] == ["http://wire.test/2026/a.html"]
    engine.dispose()
