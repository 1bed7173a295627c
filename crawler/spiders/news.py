"""The ``news`` spider: discovers article URLs from feeds, sitemaps and start pages and fetches them.

It never extracts text: it yields :class:`crawler.items.RawPage` and leaves decoding, repair and
extraction to the item pipelines.
"""

from __future__ import annotations

import gzip
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import scrapy
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from crawler.config import default_sources_path
from crawler.discovery import (
    DiscoveryError,
    Link,
    feed_links_in_page,
    page_links,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
    robots_url,
)
from crawler.fetchstate import (
    DocState,
    FetchOutcome,
    IntervalPolicy,
    apply_outcome,
    body_hash,
    conditional_headers,
    is_due,
)
from crawler.items import RawPage
from crawler.sources import Source, adhoc_sources, load_sources
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker, one_line
from crawler.store.repo import is_seen, load_fetch_states, save_fetch_states, seen_urls, url_key
from crawler.urls import canonical_url, unfetchable

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
        self.queued_docs: set[tuple[str, str]] = set()  # (source, document URL) requested this run
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.reached: set[str] = set()
        self.requested: set[str] = set()  # sources with at least one request this run
        self.states: dict[str, DocState] = {}  # feeds, sitemaps, start pages: from earlier runs
        self.outcomes: dict[str, FetchOutcome] = {}  # the same, fetched in this run
        self.incomplete: set[str] = set()  # documents some of whose listed URLs failed
        self.doc_of: dict[str, str] = {}  # article URL fetched (url_key) -> the document listing it
        self.frontier: Any = None  # the shared Redis frontier (crawler.frontier), set by its scheduler
        self.now = datetime.now(UTC)

    # -- start -----------------------------------------------------------------------------
    def _load_sources(self) -> list[Source]:
        if any(self.adhoc):
            return adhoc_sources(*self.adhoc)
        path = self.sources_file or self.settings.get("NEWSDEDUP_SOURCES") or default_sources_path()
        return load_sources(path)

    def _load_store(self) -> tuple[set[str], dict[str, DocState]]:
        """URLs already fetched (unless refetching) and the revalidation state of documents."""
        try:
            engine = make_engine(self.settings.get("NEWSDEDUP_DB_URL"))
        except DatabaseError as exc:
            raise CloseSpider(str(exc)) from exc
        try:
            with make_sessionmaker(engine)() as session:
                seen = seen_urls(session) if self.settings.getbool("NEWSDEDUP_SKIP_SEEN", True) else set()
                return seen, load_fetch_states(session)
        finally:
            engine.dispose()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.sources = self._load_sources()
        self.seen, self.states = self._load_store()
        self.crawler.stats.set_value("newsdedup/sources", len(self.sources))
        for source in self.sources:
            for url in source.feeds:
                for request in self._doc_request(url, source, "feed", self.parse_feed):
                    yield request
            for url in source.sitemaps:
                for request in self._doc_request(url, source, "sitemap", self.parse_sitemap, depth=0):
                    yield request
            for url in source.start_urls:
                self.listing_urls.add(canonical_url(url))
                for request in self._doc_request(url, source, "page", self.parse_start, priority=5):
                    yield request
            if source.robots_sitemaps:
                for robots in dict.fromkeys(robots_url(u) for u in source.urls):
                    yield self._request(robots, source, self.parse_robots, priority=10,
                                        handle_httpstatus_all=True)

    def _request(self, url: str, source: Source, callback: Any, priority: int = 0,
                 headers: dict[str, str] | None = None, **meta: Any) -> scrapy.Request:
        if self.frontier is None:  # a shared crawl's worker may not be the one to fetch it
            self.requested.add(source.name)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=priority,
            headers=headers,
            meta={"source": source.name, "origin": url, **meta},
            dont_filter=True,
        )

    # -- revalidated documents: feeds, sitemaps, start pages ----------------------------------
    def _doc_request(self, url: str, source: Source, kind: str, callback: Any,
                     parent: str | None = None, priority: int = 10,
                     **meta: Any) -> Iterator[scrapy.Request]:
        """A conditional request for a feed, sitemap or start page, unless it was already
        requested this run or (with NEWSDEDUP_ONLY_DUE) is not due yet."""
        key = (source.name, url)
        if key in self.queued_docs or not self._fetchable(url, source.name):
            return
        self.queued_docs.add(key)
        state = self.states.get(url)
        if self.settings.getbool("NEWSDEDUP_ONLY_DUE") and not is_due(state, self.now):
            self._count(source.name, "not_due")
            return
        headers = conditional_headers(state) if self.settings.getbool("NEWSDEDUP_REVALIDATE", True) else {}
        yield self._request(url, source, callback, priority=priority, headers=headers,
                            doc_kind=kind, doc_parent=parent, handle_httpstatus_list=[304], **meta)

    def _count(self, source: str, key: str) -> None:
        self.crawler.stats.inc_value(f"newsdedup/{key}")
        self.crawler.stats.inc_value(f"newsdedup/source/{source}/{key}")

    def _fetchable(self, url: str, source: str) -> bool:
        """Only valid http(s) URLs are requested; any other found in a feed, sitemap or page is
        counted (``refused_scheme``, ``invalid_url``) and logged, never fetched (a port out of
        range made Scrapy raise, losing the rest of the document's links)."""
        problem = unfetchable(url)
        if problem is None:
            return True
        if problem == "is not an http(s) URL":
            self._count(source, "refused_scheme")
            self.logger.warning("not fetched (only http and https are): %.200s (%s)", url, source)
        else:
            self._count(source, "invalid_url")
            self.logger.warning("not fetched: %.200s %s (%s)", url, problem, source)
        return False

    def store_failed(self, source: str, url: str, reason: str) -> None:
        """The store pipeline could not store the article fetched from ``url``: the document
        that listed it is saved without validators, so the next run reads it in full and
        fetches the article again (its URL was not remembered as seen)."""
        self.failures[source].append(f"{url}: {reason}")
        doc = self.doc_of.get(url)
        if doc is not None:
            self._incomplete(doc)

    def callback_failed(self, response: Response, exc: Exception) -> None:
        """A callback raised on ``response`` (input nothing else catches, or a bug): the page or
        document is a failure left to the next run (counted ``spider_errors``, named in the
        summary, its document read in full next time), not a traceback in an ``ok`` run that
        lost the rest of the document's links for good."""
        source = response.meta.get("source", "?")
        url = self._origin(response)
        reason = f"could not be read ({type(exc).__name__}: {one_line(exc)})"
        self._count(source, "failed")
        self._count(source, "spider_errors")
        self.failures[source].append(f"{url}: {reason}")
        doc = response.meta.get("doc") or (url if response.meta.get("doc_kind") else None)
        if doc is not None:
            self._incomplete(doc)
        self.logger.warning("failed %s (%s): %s", url, source, reason)

    def _incomplete(self, doc: str) -> None:
        """Some URL the document ``doc`` listed failed: its fetch state keeps no validators. With a
        shared frontier the worker that fetched ``doc`` may be another one: it is told there."""
        self.incomplete.add(doc)
        if self.frontier is not None:
            self.frontier.document_incomplete(doc)

    def already_stored(self, url: str) -> bool:
        """Whether the database holds a final outcome for ``url`` (a request taken back from a
        worker that died may have been stored by it)."""
        engine = make_engine(self.settings.get("NEWSDEDUP_DB_URL"), migrate=False)
        try:
            with make_sessionmaker(engine)() as session:
                return is_seen(session, canonical_url(url))
        finally:
            engine.dispose()

    @staticmethod
    def _origin(response: Response) -> str:
        """The URL the spider asked for (before redirects)."""
        return response.meta.get("origin") or response.url

    def _doc_fetched(self, response: Response, kind: str) -> bool:
        """Remember the response's validators; True when it is a 304 (nothing to parse)."""
        meta = response.meta
        url, source = self._origin(response), meta["source"]
        self.reached.add(source)
        self._count(source, "documents")
        headers = response.headers
        self.outcomes[url] = FetchOutcome(
            url=url, source=source, kind=meta.get("doc_kind", kind), parent=meta.get("doc_parent"),
            status=response.status,
            etag=(headers.get(b"ETag") or b"").decode("latin-1") or None,
            last_modified=(headers.get(b"Last-Modified") or b"").decode("latin-1") or None,
            content_hash=body_hash(response.body) if response.status != 304 else None,
        )
        if response.status == 304:
            self._count(source, "not_modified")
            return True
        return False

    def _known_children(self, response: Response) -> Iterator[scrapy.Request]:
        """On a 304, the sitemaps and feeds this document listed last time are revalidated."""
        source = self._source_of(response)
        parent = self._origin(response)
        callbacks = {"sitemap": self.parse_sitemap, "feed": self.parse_feed, "page": self.parse_start}
        for state in list(self.states.values()):
            if state.parent == parent and state.source == source.name and state.kind in callbacks:
                extra = {"depth": response.meta.get("depth", 0) + 1} if state.kind == "sitemap" else {}
                yield from self._doc_request(state.url, source, state.kind, callbacks[state.kind],
                                             parent=parent, **extra)

    def closed(self, reason: str) -> None:
        """Store the documents' new validators and intervals in one transaction. A document is
        stored without validators (read in full next time) when some URL it listed failed or the
        crawl did not finish."""
        if not self.outcomes:
            return
        policy = IntervalPolicy(
            min_seconds=self.settings.getfloat("NEWSDEDUP_FETCH_MIN_INTERVAL", 600),
            initial_seconds=self.settings.getfloat("NEWSDEDUP_FETCH_INITIAL_INTERVAL", 1800),
            max_seconds=self.settings.getfloat("NEWSDEDUP_FETCH_MAX_INTERVAL", 86400),
        )
        finished = reason == "finished"
        if self.frontier is not None:  # links that failed in other workers
            self.incomplete |= self.frontier.incomplete_documents()
        now = datetime.now(UTC)
        new_states = []
        for url, outcome in self.outcomes.items():
            complete = finished and url not in self.incomplete
            new_states.append(apply_outcome(self.states.get(url), replace(outcome, complete=complete),
                                            policy, now))
        try:
            engine = make_engine(self.settings.get("NEWSDEDUP_DB_URL"))
        except DatabaseError as exc:
            # The previous states stay: a document they validate was read in full by then.
            self.logger.error("fetch state not saved: %s", exc)
            return
        try:
            with make_sessionmaker(engine)() as session, session.begin():
                save_fetch_states(session, new_states)
        except SQLAlchemyError as exc:
            self.logger.error("fetch state not saved: %s", one_line(exc))
        finally:
            engine.dispose()

    # -- discovery callbacks ---------------------------------------------------------------
    def _source_of(self, response: Response) -> Source:
        name = response.meta["source"]
        return next(s for s in self.sources if s.name == name)

    def _discovery_failed(self, response: Response, kind: str, exc: Exception) -> None:
        source = response.meta["source"]
        self.crawler.stats.inc_value(f"newsdedup/invalid_{kind}")
        self.failures[source].append(f"{response.url}: invalid {kind} ({exc})")
        self.logger.warning("invalid %s %s: %s", kind, response.url, exc)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        """The ``Sitemap:`` lines of a robots.txt become sitemap requests."""
        if response.status >= 400:
            return
        self.reached.add(response.meta["source"])
        source = self._source_of(response)
        for url in robots_sitemaps(response.body, response.url):
            self.crawler.stats.inc_value("newsdedup/robots_sitemaps")
            yield from self._doc_request(url, source, "sitemap", self.parse_sitemap,
                                         parent=self._origin(response), depth=0)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """A feed's entries become article requests."""
        if self._doc_fetched(response, "feed"):
            yield from self._known_children(response)
            return
        try:
            links = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._discovery_failed(response, "feed", exc)
            return
        yield from self._article_requests(links, self._source_of(response), self._origin(response))

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Sitemap indexes are followed; urlset entries become article requests."""
        if self._doc_fetched(response, "sitemap"):
            yield from self._known_children(response)
            return
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
                yield from self._doc_request(link.url, source, "sitemap", self.parse_sitemap,
                                             parent=self._origin(response), depth=depth)
        else:
            yield from self._article_requests(doc.links, source, self._origin(response))

    def parse_start(self, response: Response) -> Iterator[scrapy.Request | RawPage]:
        """A start page may itself be an article; its links and advertised feeds are followed."""
        if self._doc_fetched(response, "page"):
            yield from self._known_children(response)
            return
        source = self._source_of(response)
        yield from self.parse_article(response)
        if not hasattr(response, "text"):
            return
        for feed in feed_links_in_page(response.text, response.url):
            yield from self._doc_request(feed, source, "feed", self.parse_feed,
                                         parent=self._origin(response))
        links = [Link(url) for url in page_links(response.text, response.url)]
        yield from self._article_requests(links, source, self._origin(response))

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

    def _article_requests(self, links: Sequence[Link], source: Source,
                          doc: str) -> Iterator[scrapy.Request]:
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
            if not self._fetchable(link.url, source.name):
                continue
            url = canonical_url(link.url)
            if url in self.queued:
                continue
            self.queued.add(url)
            if url_key(url) in self.seen:
                stats.inc_value("newsdedup/skipped_seen")
                stats.inc_value(f"newsdedup/source/{source.name}/skipped_seen")
                continue
            stats.inc_value("newsdedup/discovered")
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={"source": source.name, "hint_title": link.title,
                      "hint_published": link.published, "doc": doc},
                # self.queued already keeps repeats out; Scrapy's duplicate filter would also
                # end a redirect loop silently, where it must count as a failed page
                dont_filter=True,
            )

    # -- articles --------------------------------------------------------------------------
    def parse_article(self, response: Response) -> Iterator[RawPage]:
        """Yield the fetched bytes; extraction happens in the pipelines."""
        meta = response.meta
        self.reached.add(meta["source"])  # its site answered, whoever read the feed that listed it
        self.crawler.stats.inc_value(f"newsdedup/source/{meta['source']}/fetched")
        url = canonical_url(response.request.url if response.request else response.url)
        # the feed or sitemap that listed it (a start page lists itself): see store_failed
        doc = meta.get("doc") or (self._origin(response) if meta.get("doc_kind") else None)
        if doc is not None:
            self.doc_of[url_key(url)] = doc
        yield RawPage(
            url=url,
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
        try:
            self._on_error(failure, request)
        finally:
            if self.frontier is not None:  # counted: out of the ledger
                self.frontier.release(request)

    @cached_property
    def retryable(self) -> frozenset[int]:
        """The statuses Scrapy retries (``RETRY_HTTP_CODES``): a request that failed with one
        failed by the server's fault, not by the page's own answer; read once a crawl."""
        return frozenset(int(code) for code in self.settings.getlist("RETRY_HTTP_CODES"))

    def _on_error(self, failure: Failure, request: scrapy.Request) -> None:
        source = request.meta.get("source", "?")
        self.requested.add(source)
        aside = _set_aside(failure)
        if aside is not None:  # a true reason not to fetch it, as a dropped page has one
            self._count(source, "dropped")
            self._count(source, f"dropped/{aside}")
            return
        reason = failure_reason(failure.value)
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"HTTP {response.status}"
        self._count(source, "failed")
        if not _redirect_loop(failure) and (response is None or response.status in self.retryable):
            # the network or the server failed it (a timeout, a reset, a cut body, 5xx, 429),
            # not the page's own answer (a 404, a redirect loop): the run is partial
            self._count(source, "faults")
        self.failures[source].append(f"{request.url}: {reason}")
        if request.meta.get("doc"):
            self._incomplete(request.meta["doc"])
        if request.meta.get("doc_kind"):
            url = request.meta["origin"]
            self.outcomes[url] = FetchOutcome(
                url=url, source=source, kind=request.meta["doc_kind"],
                parent=request.meta.get("doc_parent"), status=getattr(response, "status", None),
                error=reason)
        self.logger.warning("failed %s (%s): %s", request.url, source, reason)


def _set_aside(failure: Failure) -> str | None:
    """Why a request was given up on purpose ("robots": robots.txt forbids it; "too_large": over
    DOWNLOAD_MAXSIZE, as declared or once decompressed; "ignored": another middleware's rule),
    or None for a failure, which the next run retries. Scrapy says which only in its messages."""
    if failure.check(HttpError) or _redirect_loop(failure):
        return None
    message = str(failure.value)
    if "download max size" in message or "DOWNLOAD_MAXSIZE" in message:
        return "too_large"
    if failure.check(IgnoreRequest):
        return "robots" if "robots.txt" in message else "ignored"
    return None


#: What the HTTP client's inner reasons mean, by class name (Twisted wraps them in a list whose
#: repr is all a bare message shows: "[<twisted.python.failure.Failure ...ConnectionDone...>]").
_INNER_REASONS = {
    "ConnectionDone": "connection closed by the server",
    "ConnectionLost": "connection reset",
    "_DataLoss": "body cut short (less than announced)",
    "PotentialDataLoss": "body cut short (less than announced)",
}


def failure_reason(exc: BaseException) -> str:
    """One readable line for why a request failed: Scrapy's own message, or, for the HTTP client's
    wrapped failures (a reset, a cut body), what each inner failure means and when it came
    ("connection reset before any response", "body cut short (less than announced) mid-response")."""
    wrapped = exc if hasattr(exc, "reasons") else exc.__cause__
    inner = getattr(wrapped, "reasons", None)
    if not inner:
        message = str(exc) or type(exc).__name__
    else:
        when = "before any response" if type(wrapped).__name__ == "ResponseNeverReceived" else "mid-response"
        parts = []
        for failure in inner:
            value = getattr(failure, "value", failure)
            name = type(value).__name__
            if type(value).__module__.startswith("OpenSSL"):  # args: [(lib, func, reason), ...]
                found = [e[-1] for e in (value.args[0] if value.args else []) if isinstance(e, tuple)]
                parts.append(f"TLS failed ({'; '.join(found) or value})")
            else:
                parts.append(_INNER_REASONS.get(name) or f"{name}: {value}".rstrip(": "))
        message = f"{'; '.join(dict.fromkeys(parts))} {when}"
    return " ".join(message.split()).rstrip(".")


def _redirect_loop(failure: Failure) -> bool:
    """Scrapy gives up a redirect chain (a loop, or longer than REDIRECT_MAX_TIMES) with an
    IgnoreRequest: the page was not fetched, which is a failure to retry next run."""
    return failure.check(IgnoreRequest) is not None and "max redirections" in str(failure.value)
