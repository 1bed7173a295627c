"""ExtractPipeline: RawPage -> Article through crawler.content (decode, repair, extract), off the reactor.

Extraction is CPU-bound Python (lxml, trafilatura, readability) that holds the GIL, so a thread
is not enough to keep the reactor responsive: with ``NEWSDEDUP_EXTRACT_WORKERS`` > 0 it runs in
that many worker processes (started with the spider, shut down when it closes); with 0 it runs
in a thread of this process, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.asyncio import is_asyncio_available, run_in_thread
from twisted.internet.defer import CancelledError, Deferred

from crawler import settings
from crawler.content.page import NotAnArticle, PageResult, process_page
from crawler.items import Article, RawPage
from crawler.urls import canonical_url, host_of, same_site
from crawler.workers import die_with_parent

logger = logging.getLogger(__name__)

#: Workers are forked from a clean single-threaded server process that has already imported the
#: content path, never from the crawling process (whose threads could hold locks at fork time).
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_PRELOAD = ["crawler.content.page"]


def parse_published(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime as a datetime (naive values are taken as UTC)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def declared_key(declared: str | None, final: str) -> str | None:
    """The page's rel=canonical as a storage key: only on the same site, and never the site's
    home page (CMSs that point every story at the front page would make them one article)."""
    if not declared or not same_site(declared, final):
        return None
    parts = urlsplit(declared)
    return None if parts.path in ("", "/") and not parts.query else canonical_url(declared)


def to_article(page: RawPage, result: PageResult) -> Article:
    """Combine the fetched page and its extraction; the storage key is the same-site canonical URL."""
    final = canonical_url(page.final_url)
    declared = result.canonical_url
    key = declared_key(declared, final) or final
    published = parse_published(result.published) or parse_published(page.hint_published)
    return Article(
        url=key,
        fetched_url=page.final_url,
        source=page.source,
        site=host_of(key),
        status=page.status,
        fetched_at=page.fetched_at,
        text=result.text,
        title=result.title or page.hint_title,
        author=result.author,
        published=published,
        sitename=result.sitename,
        language=result.language,
        declared_canonical=declared,
        encoding=result.encoding,
        repairs=result.repaired,
        raw_html=page.body,
        requested_url=page.url,
    )


def _ready() -> bool:
    return True


async def _wait(future: Future[Any]) -> Any:
    """Await a concurrent.futures.Future from Scrapy code, under any reactor."""
    if is_asyncio_available():
        return await asyncio.wrap_future(future)
    from twisted.internet import reactor

    deferred: Deferred[Any] = Deferred()

    def done(fut: Future[Any]) -> None:
        if fut.cancelled():
            reactor.callFromThread(deferred.errback, CancelledError())
        elif fut.exception() is not None:
            reactor.callFromThread(deferred.errback, fut.exception())
        else:
            reactor.callFromThread(deferred.callback, fut.result())

    future.add_done_callback(done)
    return await deferred


class ExtractPipeline:
    """Turns each RawPage into an Article, or drops it with a counted reason."""

    def __init__(self, crawler: Crawler, workers: int = 0) -> None:
        self.crawler = crawler
        self.workers = max(0, workers)
        self.pool: ProcessPoolExecutor | None = None
        self.starting: Future[ProcessPoolExecutor] | None = None  #: the pool open_spider is starting

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        # the shipped default also when the setting is absent (a bare Crawler in tests)
        return cls(crawler, crawler.settings.getint("NEWSDEDUP_EXTRACT_WORKERS",
                                                    settings.NEWSDEDUP_EXTRACT_WORKERS))

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(_START_METHOD)
        if _START_METHOD == "forkserver":
            context.set_forkserver_preload(_PRELOAD)
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=die_with_parent,
                                   initargs=(os.getpid(),))

    def _start(self) -> ProcessPoolExecutor:
        """A pool whose workers are all running (each answered once). Blocks: runs in a thread."""
        pool = self._new_pool()
        try:
            for future in [pool.submit(_ready) for _ in range(self.workers)]:
                future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return pool

    def open_spider(self) -> None:
        """Start the workers in the background: fetching begins while they import the content
        path; the first page to extract waits for them."""
        if self.workers and self.pool is None and self.starting is None:
            starter = ThreadPoolExecutor(1, thread_name_prefix="extract-pool-start")
            self.starting = starter.submit(self._start)
            starter.shutdown(wait=False)

    async def close_spider(self) -> None:
        """Shut the workers down (every page is processed by now)."""
        starting, self.starting = self.starting, None
        if starting is not None:
            with contextlib.suppress(Exception):  # it failed: nothing to shut down
                self.pool = await _wait(starting)
        pool, self.pool = self.pool, None
        if pool is not None:
            await run_in_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def _pool_ready(self) -> ProcessPoolExecutor | None:
        """The running pool; None (extract in a thread) when there is none or it cannot start."""
        starting = self.starting
        if starting is not None:
            try:
                pool = await _wait(starting)
            except Exception as exc:  # any failure to start processes
                pool = None
                if self.starting is starting:
                    logger.error("extract: worker processes could not be started (%r); "
                                 "extracting in a thread instead", exc)
                    self.workers = 0
            if self.starting is starting:
                self.starting = None
                self.pool = pool
        if not self.workers:
            return None
        if self.pool is None:  # used without open_spider (ad-hoc use), or after a worker died
            self.pool = self._new_pool()
        return self.pool

    async def _extract_once(self, args: tuple[bytes, str, str | None]) -> PageResult:
        pool = await self._pool_ready()
        if pool is None:
            return await run_in_thread(process_page, *args)
        try:
            # NotAnArticle pickles with its reason: it is raised here as in the thread.
            return await _wait(pool.submit(process_page, *args))
        except BrokenProcessPool:
            if self.pool is pool:  # the first page to see it replaces the pool
                self.pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    async def _extract(self, item: RawPage) -> PageResult:
        args = (item.body, item.final_url, item.content_type)
        try:
            return await self._extract_once(args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory) and every page pending in the pool failed
            # with it: try once more in a new pool; a page that kills that one too is dropped.
            logger.warning("extract: a worker process died; pool restarted (%s)", item.final_url)
        try:
            return await self._extract_once(args)
        except BrokenProcessPool:
            self.crawler.stats.inc_value("newsdedup/extract_errors")
            raise DropItem(f"extraction worker died twice on {item.final_url}") from None

    async def process_item(self, item: object) -> object:
        if not isinstance(item, RawPage):
            return item
        try:
            result = await self._extract(item)
        except NotAnArticle as exc:
            self.crawler.stats.inc_value(f"newsdedup/dropped/{exc.reason}")
            raise DropItem(f"not an article ({exc.reason}): {item.final_url}") from exc
        return to_article(item, result)
