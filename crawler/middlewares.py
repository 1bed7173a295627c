"""Downloader middlewares for politeness (robots.txt Crawl-delay, Retry-After and back-off), and
the spider middleware that makes a callback's exception a counted failure."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent
    or unparseable. Dates in the past give 0."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(retries_done: int, base: float, cap: float) -> float:
    """Exponential back-off: base, 2·base, 4·base, … capped."""
    return min(cap, base * (2**retries_done))


class _OneLineErrors(logging.Filter):
    """Scrapy logs a failed robots.txt download with a traceback; the message alone says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt rules plus the ``Crawl-delay`` it parses but does not apply.

    The download slot of a host with a Crawl-delay gets that delay (capped by
    ``NEWSDEDUP_MAX_CRAWL_DELAY``), concurrency 1 and no jitter; AutoThrottle leaves it alone.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_crawl_delay = crawler.settings.getfloat("NEWSDEDUP_MAX_CRAWL_DELAY", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        robots_logger = logging.getLogger(RobotsTxtMiddleware.__module__)
        if not any(isinstance(f, _OneLineErrors) for f in robots_logger.filters):
            robots_logger.addFilter(_OneLineErrors())
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        await super().process_request(request)
        if request.meta.get("dont_obey_robotstxt") or not request.url.startswith("http"):
            return
        parser = self._parsers.get(urlparse_cached(request).netloc)
        if parser is None or not hasattr(parser, "crawl_delay"):
            return
        agent = self._robotstxt_useragent or request.headers.get(b"User-Agent", self._default_useragent)
        delay = parser.crawl_delay(agent)
        if not delay:
            return
        delay = min(float(delay), self.max_crawl_delay)
        request.meta["autothrottle_dont_adjust_delay"] = True
        request.meta["crawl_delay"] = delay  # for every worker of a shared frontier too
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None and (slot.delay < delay or slot.concurrency != 1 or slot.jitter):
            # One request at a time, never sooner than the Crawl-delay after the last one.
            slot.delay, slot.concurrency, slot.jitter = max(slot.delay, delay), 1, 0.0
        self.crawler.stats.max_value("newsdedup/crawl_delay_max", delay)


class BackoffRetryMiddleware(RetryMiddleware):
    """Retries 429/5xx after the server's ``Retry-After`` (capped), else with exponential back-off.

    A ``Retry-After`` longer than ``NEWSDEDUP_RETRY_AFTER_MAX`` is not waited for: the request is
    given up and counted, and the crawl goes on.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("NEWSDEDUP_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("NEWSDEDUP_BACKOFF_MAX", 30.0)
        self.retry_after_max = settings.getfloat("NEWSDEDUP_RETRY_AFTER_MAX", 120.0)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        stats = self.crawler.stats
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is not None and wait > self.retry_after_max:
            stats.inc_value("newsdedup/retry_after_too_long")
            return response
        if wait is None:
            wait = backoff_seconds(request.meta.get("retry_times", 0), self.backoff_base, self.backoff_max)
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        stats.inc_value("newsdedup/retry_wait_seconds", round(wait))
        if wait > 0:
            await asyncio.sleep(wait)
        return retry


class CallbackErrorMiddleware:
    """A callback's exception is handed to the spider's ``callback_failed`` (counted, in the
    summary, left to the next run) instead of Scrapy's traceback, which no run status saw."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception,
                                 spider: Spider | None = None) -> list[Any] | None:
        handler = getattr(self.crawler.spider, "callback_failed", None)
        if handler is None or isinstance(exception, CloseSpider):
            return None  # Scrapy's own handling (CloseSpider: a stop asked for, no failure)
        handler(response, exception)
        return []
