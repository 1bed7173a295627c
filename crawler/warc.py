"""WARC archive: every fetched response written by a downloader middleware, and read back.

``--warc DIR`` writes ``DIR/newsdedup-<time>-<pid>.warc.gz`` (warcio). Records carry
``NewsDedup-Source`` and ``NewsDedup-Kind`` (article, feed, sitemap, page, robots) so
``newsdedup import-warc`` sends only article pages through extraction and the store.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

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
    url: str
    status: int
    content_type: str | None
    body: bytes
    source: str | None
    kind: str | None
    date: datetime | None


class WarcError(ValueError):
    """A WARC that cannot be read; the message is one line."""


def _page(record: Any) -> WarcPage | None:
    """The page of a ``response`` record with HTTP headers and a payload within the cap."""
    if record.rec_type != "response" or record.http_headers is None:
        return None
    headers = record.rec_headers
    status = int(record.http_headers.get_statuscode() or 0)
    body = record.content_stream().read(MAX_PAYLOAD + 1)
    if len(body) > MAX_PAYLOAD:
        return None
    date = headers.get_header("WARC-Date")
    return WarcPage(
        url=headers.get_header("WARC-Target-URI"), status=status,
        content_type=record.http_headers.get_header("Content-Type"), body=body,
        source=headers.get_header("NewsDedup-Source"), kind=headers.get_header("NewsDedup-Kind"),
        date=datetime.fromisoformat(date.replace("Z", "+00:00")) if date else None,
    )


def read_pages(path: Path) -> Iterator[WarcPage]:
    """The ``response`` records of a WARC (any WARC, not only ours), payload decoded; a file
    warcio cannot parse raises ``WarcError``."""
    with path.open("rb") as fh:
        records = ArchiveIterator(fh)
        while True:
            try:
                record = next(records, None)
                page = None if record is None else _page(record)
            except Exception as exc:  # warcio's parser fails on malformed input with any error
                text = " ".join(str(exc).split()) or type(exc).__name__
                raise WarcError(f"malformed record near byte {fh.tell()}: {text}") from exc
            if record is None:
                return
            if page is not None:
                yield page
