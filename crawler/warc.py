"""WARC archive: every fetched response written by a downloader middleware, and read back.

``--warc DIR`` writes ``DIR/newsdedup-<time>-<pid>.warc.gz`` (warcio). Records carry
``NewsDedup-Source`` and ``NewsDedup-Kind`` (article, feed, sitemap, page, robots) so
``newsdedup import-warc`` sends only article pages through extraction and the store.
"""

from __future__ import annotations

import io
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Self
from urllib.parse import urlsplit

import brotli
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

#: Largest payload read back from a WARC record (the crawl's DOWNLOAD_MAXSIZE).
MAX_PAYLOAD = 10 * 1024 * 1024
#: Hop-by-hop and framing headers: the stored payload is the body as received, de-chunked.
_DROP_HEADERS = {b"transfer-encoding", b"content-length", b"connection", b"keep-alive"}


def warc_path(directory: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return directory / f"newsdedup-{stamp}-{os.getpid()}.warc.gz"


def record_kind(url: str, meta: dict) -> str:
    """What the spider fetched: a document it revalidates, robots.txt, or an article page."""
    if meta.get("doc_kind"):
        return str(meta["doc_kind"])
    if urlsplit(url).path == "/robots.txt" and "doc" not in meta:
        return "robots"
    return "article"


def write_response(writer: WARCWriter, url: str, status: int, headers: list[tuple[str, str]],
                   body: bytes, source: str | None, kind: str) -> None:
    """One ``response`` record with its HTTP status line and headers."""
    http_headers = StatusAndHeaders(f"{status} -", headers, protocol="HTTP/1.1")
    extra = {"NewsDedup-Kind": kind}
    if source:
        extra["NewsDedup-Source"] = source
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                       http_headers=http_headers, warc_headers_dict=extra)
    writer.write_record(record)


class WarcMiddleware:
    """Downloader middleware writing each response (before decompression) to the WARC file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fh: IO[bytes] = path.open("wb")
        self.writer = WARCWriter(self.fh, gzip=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        directory = crawler.settings.get("NEWSDEDUP_WARC_DIR")
        if not directory:
            raise NotConfigured
        from scrapy import signals

        mw = cls(warc_path(Path(directory)))
        crawler.signals.connect(mw.close, signal=signals.spider_closed)
        return mw

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, values in response.headers.items() if k.lower() not in _DROP_HEADERS
                   for v in values]
        write_response(self.writer, response.url, response.status, headers, response.body,
                       request.meta.get("source"), record_kind(request.url, request.meta))
        return response

    def close(self) -> None:
        self.fh.close()


@dataclass(frozen=True)
class WarcPage:
    """One capture of a URL: a ``response`` or ``resource`` record, or a ``revisit`` (no payload
    of its own: an earlier capture had the same one)."""

    url: str
    status: int  #: HTTP status (200 for a resource record, 0 when the status line is unreadable)
    content_type: str | None
    body: bytes  #: the payload as the server meant it: de-chunked, content-encoding undone
    source: str | None
    kind: str | None
    date: datetime | None
    record: str = "response"
    problem: str = ""  #: why the payload cannot be read ("too_large", "content_encoding"), or ""
    truncated: bool = False  #: the capture was cut short (WARC-Truncated, or a compressed stream ends early)


class _Records(ArchiveIterator):
    """warcio's iterator, noting whether the last gzip member ended: warcio ends silently at a
    member that fails to decompress or is cut short (a damaged or truncated .warc.gz)."""

    damaged = False

    def close(self) -> None:
        decompressor = self.reader.decompressor if self.reader else None
        self.damaged = decompressor is not None and not getattr(decompressor, "eof", True)
        super().close()


def read_pages(path: Path) -> Iterator[WarcPage]:
    """The captures of a WARC (any WARC, not only ours): response, resource and revisit records
    of http(s) URLs, in file order. Raises ArchiveLoadFailed after the last record read whole
    when the file is damaged or cut short, or a record is malformed."""
    with path.open("rb") as fh:
        records = _Records(fh)
        yield from _captures(_parsed(records, fh))
        if records.damaged:
            raise ArchiveLoadFailed(f"damaged or cut short at byte {records.offset}")


def _parsed(records: ArchiveIterator, fh: IO[bytes]) -> Iterator[ArcWarcRecord]:
    """warcio's records; its parser fails on a malformed record with any error (a response
    without a target URI: AttributeError), raised here as ArchiveLoadFailed in one line."""
    iterator = iter(records)
    while True:
        try:
            record = next(iterator, None)
        except Exception as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise ArchiveLoadFailed(f"malformed record near byte {fh.tell()}: {text}") from exc
        if record is None:
            return
        yield record


def _captures(records: Iterator[ArcWarcRecord]) -> Iterator[WarcPage]:
    for record in records:
        if record.rec_type not in _CAPTURES:
            continue
        headers = record.rec_headers
        url = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
        if not url.lower().startswith(("http://", "https://")):
            continue  # dns:, whois:, metadata of the crawl: not pages
        http = record.http_headers
        if record.rec_type == "resource":
            status, content_type = 200, headers.get_header("Content-Type")
            body, problem, cut = _payload(record.raw_stream, None, None)
        elif http is None and record.rec_type == "revisit":  # a revisit need not repeat the headers
            status, content_type, body, problem, cut = 0, None, b"", "", False
        elif http is None:
            continue
        else:
            status, content_type = _status(http), http.get_header("Content-Type")
            body, problem, cut = _payload(record.raw_stream, http.get_header("Transfer-Encoding"),
                                          http.get_header("Content-Encoding"))
        date = headers.get_header("WARC-Date")
        yield WarcPage(
            url=url, status=status, content_type=content_type, body=body,
            source=headers.get_header("NewsDedup-Source"), kind=headers.get_header("NewsDedup-Kind"),
            date=_date(date), record=record.rec_type, problem=problem,
            truncated=cut or bool(headers.get_header("WARC-Truncated")),
        )


_CAPTURES = frozenset({"response", "resource", "revisit"})


def _status(http: StatusAndHeaders) -> int:
    try:
        return int((http.get_statuscode() or "0").split()[0])
    except (ValueError, IndexError):
        return 0


def _date(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _payload(stream: IO[bytes], transfer: str | None,
             encoding: str | None) -> tuple[bytes, str, bool]:
    """The body, its problem and whether a compressed stream ended early: de-chunked when
    recorded raw, then each content-encoding undone (last applied first), at most MAX_PAYLOAD
    bytes. A body that does not start as its declared encoding is taken as it is: crawlers often
    store the decoded body with the header kept."""
    if transfer and "chunked" in transfer.lower():
        stream = ChunkedDataReader(stream)  # falls back to the raw bytes if not really chunked
    body, cut = stream.read(MAX_PAYLOAD + 1), False
    for name in reversed([e.strip().lower() for e in (encoding or "").split(",")]):
        if len(body) > MAX_PAYLOAD:
            break
        if name in ("", "identity"):
            continue
        decoder = _DECODERS.get(name)
        if decoder is None:
            return body, "" if _looks_plain(body) else "content_encoding", cut
        try:
            body, complete = decoder(body)
        except (zlib.error, brotli.error, zstd.ZstdError, EOFError):
            return body, "" if _looks_plain(body) else "content_encoding", cut
        cut = cut or (not complete and len(body) <= MAX_PAYLOAD)
    return body, "too_large" if len(body) > MAX_PAYLOAD else "", cut


def _looks_plain(body: bytes) -> bool:
    """Markup and no NUL byte in the first KiB: a body stored decoded under its encoding header."""
    head = body[:1024]
    return b"<" in head and b"\x00" not in head


def _inflate(body: bytes, wbits: int) -> tuple[bytes, bool]:
    """zlib/gzip/raw deflate, at most MAX_PAYLOAD + 1 bytes, and whether the stream was whole
    (a truncated one gives what it holds)."""
    decompressor = zlib.decompressobj(wbits)
    out = decompressor.decompress(body, MAX_PAYLOAD + 1)
    if not out and not decompressor.eof:
        raise zlib.error("no deflate data")
    return out, decompressor.eof


def _deflate(body: bytes) -> tuple[bytes, bool]:
    """HTTP's deflate: zlib-wrapped as specified, or raw deflate as some servers send it."""
    try:
        return _inflate(body, zlib.MAX_WBITS)
    except zlib.error:
        return _inflate(body, -zlib.MAX_WBITS)


def _unbrotli(body: bytes) -> tuple[bytes, bool]:
    decompressor = brotli.Decompressor()
    return decompressor.process(body, output_buffer_limit=MAX_PAYLOAD + 1), decompressor.is_finished()


def _unzstd(body: bytes) -> tuple[bytes, bool]:
    decompressor = zstd.ZstdDecompressor()
    return decompressor.decompress(body, max_length=MAX_PAYLOAD + 1), decompressor.eof


#: The content-encodings the crawl accepts (Scrapy's HttpCompressionMiddleware) and x-gzip.
_DECODERS: dict[str, Callable[[bytes], tuple[bytes, bool]]] = {
    "gzip": lambda body: _inflate(body, 16 + zlib.MAX_WBITS),
    "x-gzip": lambda body: _inflate(body, 16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "br": _unbrotli,
    "zstd": _unzstd,
}
