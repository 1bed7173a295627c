"""The ``news`` spider: discovers article URLs from feeds, sitemaps and start pages and fetches them.

It never extracts text: it yields :class:`crawler.items.RawPage` and leaves decoding, repair and
extraction to the item pipelines.
"""

from __future__ import annotations

import gzip
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.config import default_sources_path
from crawler.discovery import (
    DiscoveryError,
    Link,
    feed_links_in_page,
    page_links,
    parse_feed,
    parse_sitemap,
)
from crawler.items import RawPage
from crawler.sources import Source, adhoc_sources, load_sources
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker
from crawler.store.repo import seen_urls
from crawler.urls import canonical_url

#: Sitemaps nest; deeper indexes than this are ignored.
MAX_SITEMAP_DEPTH = 3
#: Largest decompressed .xml.gz sitemap accepted (a gzip bomb stops here).
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


def _split(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v]
    return [v for v in value.replace(",", " ").split() if v]


def _gunzip_capped(body: bytes, limit: int) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise DiscoveryError(f"decompressed sitemap exceeds {limit} bytes")
    return data


class NewsSpider(scrapy.Spider):
    """Crawl the configured sources (or ad-hoc feeds/sitemaps/URLs) for articles."""

    name = "news"

    def __init__(
        self,
        sources_file: str | None = None,
        feeds: str | list[str] | None = None,
        sitemaps: str | list[str] | None = None,
        urls: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sources_file = sources_file
        self.adhoc = (_split(feeds), _split(sitemaps), _split(urls))
        self.sources: list[Source] = []
        self.seen: set[str] = set()  # stored by earlier runs
        self.queued: set[str] = set()  # requested in this run
        self.listing_urls: set[str] = set()
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.reached: set[str] = set()

    # -- start -----------------------------------------------------------------------------
    def _load_sources(self) -> list[Source]:
        if any(self.adhoc):
            return adhoc_sources(*self.adhoc)
        path = self.sources_file or self.settings.get("NEWSDEDUP_SOURCES") or default_sources_path()
        return load_sources(path)

    def _load_seen(self) -> set[str]:
        if not self.settings.getbool("NEWSDEDUP_SKIP_SEEN", True):
            return set()
        try:
            engine = make_engine(self.settings.get("NEWSDEDUP_DB_URL"))
        except DatabaseError as exc:
            raise CloseSpider(str(exc)) from exc
        try:
            with make_sessionmaker(engine)() as session:
                return seen_urls(session)
        finally:
            engine.dispose()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.sources = self._load_sources()
        self.seen = self._load_seen()
        self.crawler.stats.set_value("newsdedup/sources", len(self.sources))
        for source in self.sources:
            for url in source.feeds:
                yield self._request(url, source, self.parse_feed, priority=10)
            for url in source.sitemaps:
                yield self._request(url, source, self.parse_sitemap, priority=10, depth=0)
            for url in source.start_urls:
                self.listing_urls.add(canonical_url(url))
                yield self._request(url, source, self.parse_start, priority=5)

    def _request(self, url: str, source: Source, callback: Any, priority: int = 0,
                 **meta: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=priority,
            meta={"source": source.name, "origin": url, **meta},
            dont_filter=True,
        )

    # -- discovery callbacks ---------------------------------------------------------------
    def _source_of(self, response: Response) -> Source:
        name = response.meta["source"]
        return next(s for s in self.sources if s.name == name)

    def _discovery_failed(self, response: Response, kind: str, exc: Exception) -> None:
        source = response.meta["source"]
        self.crawler.stats.inc_value(f"newsdedup/invalid_{kind}")
        self.failures[source].append(f"{response.url}: invalid {kind} ({exc})")
        self.logger.warning("invalid %s %s: %s", kind, response.url, exc)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """A feed's entries become article requests."""
        self.reached.add(response.meta["source"])
        try:
            links = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._discovery_failed(response, "feed", exc)
            return
        yield from self._article_requests(links, self._source_of(response))

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Sitemap indexes are followed; urlset entries become article requests."""
        self.reached.add(response.meta["source"])
        body = response.body
        try:
            if body[:2] == b"\x1f\x8b":
                body = _gunzip_capped(body, MAX_SITEMAP_BYTES)
            doc = parse_sitemap(body, response.url)
        except (DiscoveryError, OSError, EOFError) as exc:
            self._discovery_failed(response, "sitemap", exc)
            return
        source = self._source_of(response)
        if doc.is_index:
            depth = response.meta.get("depth", 0) + 1
            if depth > MAX_SITEMAP_DEPTH:
                return
            for link in doc.links:
                yield self._request(link.url, source, self.parse_sitemap, priority=10, depth=depth)
        else:
            yield from self._article_requests(doc.links, source)

    def parse_start(self, response: Response) -> Iterator[scrapy.Request | RawPage]:
        """A start page may itself be an article; its links and advertised feeds are followed."""
        self.reached.add(response.meta["source"])
        source = self._source_of(response)
        yield from self.parse_article(response)
        if not hasattr(response, "text"):
            return
        for feed in feed_links_in_page(response.text, response.url):
            yield self._request(feed, source, self.parse_feed, priority=10)
        links = [Link(url) for url in page_links(response.text, response.url)]
        yield from self._article_requests(links, source)

    def _too_old(self, link: Link) -> bool:
        """Google News sitemap entries older than NEWSDEDUP_NEWS_MAX_AGE_DAYS are not fetched."""
        days = self.settings.getfloat("NEWSDEDUP_NEWS_MAX_AGE_DAYS", 0)
        if not (link.news and days > 0 and link.published):
            return False
        try:
            when = datetime.fromisoformat(link.published.replace("Z", "+00:00"))
        except ValueError:
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when < datetime.now(UTC) - timedelta(days=days)

    def _article_requests(self, links: Sequence[Link], source: Source) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        limit = self.settings.getint("NEWSDEDUP_MAX_URLS_PER_DOCUMENT", 50_000)
        if len(links) > limit:
            stats.inc_value("newsdedup/truncated_url_lists")
            self.logger.warning("%s: %d URLs listed, only the first %d taken", source.name,
                                len(links), limit)
            links = links[:limit]
        for link in links:
            if self._too_old(link):
                stats.inc_value("newsdedup/skipped_too_old")
                continue
            url = canonical_url(link.url)
            if url in self.queued:
                continue
            self.queued.add(url)
            if url in self.seen:
                stats.inc_value("newsdedup/skipped_seen")
                stats.inc_value(f"newsdedup/source/{source.name}/skipped_seen")
                continue
            stats.inc_value("newsdedup/discovered")
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={"source": source.name, "hint_title": link.title,
                      "hint_published": link.published},
            )

    # -- articles --------------------------------------------------------------------------
    def parse_article(self, response: Response) -> Iterator[RawPage]:
        """Yield the fetched bytes; extraction happens in the pipelines."""
        yield RawPage(
            url=canonical_url(response.request.url if response.request else response.url),
            final_url=response.url,
            source=response.meta["source"],
            status=response.status,
            body=response.body,
            content_type=(response.headers.get(b"Content-Type") or b"").decode("latin-1") or None,
            fetched_at=datetime.now(UTC),
            hint_title=response.meta.get("hint_title"),
            hint_published=response.meta.get("hint_published"),
        )

    def on_error(self, failure: Failure) -> None:
        """Count and remember a failed request; the crawl goes on."""
        request = failure.request  # type: ignore[attr-defined]
        source = request.meta.get("source", "?")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # robots.txt and the download-size cap end up here: counted, not a failure.
            self.crawler.stats.inc_value(f"newsdedup/source/{source}/ignored")
            return
        reason = failure.getErrorMessage() or failure.type.__name__
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"HTTP {response.status}"
        self.crawler.stats.inc_value("newsdedup/failed")
        self.crawler.stats.inc_value(f"newsdedup/source/{source}/failed")
        self.failures[source].append(f"{request.url}: {reason}")
        self.logger.warning("failed %s (%s): %s", request.url, source, reason)
