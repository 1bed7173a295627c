"""Run the news spider in this process and summarise what happened per source."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.spiders.news import NewsSpider


def project_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """``crawler.settings`` plus command-line overrides, independent of the working directory."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


@cache
def _known_settings() -> tuple[str, ...]:
    """Every setting Scrapy, its Redis frontier or newsdedup reads, sorted (gathered once)."""
    import scrapy.settings.default_settings as scrapy_defaults
    import scrapy_redis.defaults as frontier_defaults

    import crawler.settings as ours
    from crawler.frontier import frontier_settings

    modules = (scrapy_defaults, frontier_defaults, ours)
    known = {k for module in modules for k in dir(module) if k.isupper()}
    return tuple(sorted(known | set(frontier_settings("redis://127.0.0.1:6379/0", "", 0))))


def unknown_setting(name: str) -> str | None:
    """For a ``-s NAME=VALUE`` that neither Scrapy nor newsdedup reads (a typo, which Scrapy
    would take in silence): what to say, with the nearest known name; None for a known one."""
    import difflib

    known = _known_settings()
    if name in known:
        return None
    near = difflib.get_close_matches(name, known, n=1)
    return f"-s {name}: not a setting Scrapy or newsdedup reads" + (
        f" (did you mean {near[0]}?)" if near else "")


def bad_setting_value(name: str, value: str) -> str | None:
    """Why ``-s NAME=VALUE`` cannot work (a word for a setting whose default is a number or a
    flag: Scrapy raised mid-start, a traceback and exit status 130), or None."""
    default = project_settings().get(name)
    settings = project_settings({name: value})
    try:
        if isinstance(default, bool):
            settings.getbool(name)
        elif isinstance(default, int | float):
            settings.getfloat(name)
    except ValueError:
        wanted = "true or false" if isinstance(default, bool) else "a number"
        return f"-s {name}={value}: {name} takes {wanted}"
    return None


@dataclass
class CrawlSummary:
    """What a crawl did: global counters and, per source, counts and failures."""

    stats: dict[str, Any]
    sources: list[str]
    reached: set[str]
    requested: set[str] = field(default_factory=set)  #: sources with at least one request
    failures: dict[str, list[str]] = field(default_factory=dict)
    finish_reason: str | None = None

    def count(self, key: str) -> int:
        return int(self.stats.get(f"newsdedup/{key}", 0))

    def source_count(self, source: str, key: str) -> int:
        return int(self.stats.get(f"newsdedup/source/{source}/{key}", 0))

    @property
    def unreachable(self) -> list[str]:
        """Sources none of whose feeds, sitemaps or start pages could be fetched (a source with
        nothing due this run is not one)."""
        return [s for s in self.sources if s in self.requested and s not in self.reached]


def run_crawl(settings: Settings, **spider_kwargs: Any) -> CrawlSummary:
    """Crawl once (blocking) and return the summary. The reactor is started here.

    A signal while Scrapy builds the crawl (it imports the pipelines and middlewares then, inside
    a Deferred, where a KeyboardInterrupt became an "Unhandled error in Deferred" traceback) is
    held and given to Scrapy's own handlers once the reactor runs: the crawl stops the Scrapy way.
    Those handlers are for the crawl only: once it ended they would swallow the signals (the
    reactor they stop is gone), so the process's own are put back."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    held: list[int] = []
    for sig in handlers:
        signal.signal(sig, lambda signum, _frame: held.append(signum))
    try:
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(NewsSpider)
        process.crawl(crawler, **spider_kwargs)
        from twisted.internet import reactor  # the one CrawlerProcess installed

        delivered: list[int] = []

        def deliver(signum: int) -> None:
            delivered.append(signum)
            os.kill(os.getpid(), signum)

        for signum in held[:1]:  # once Scrapy's handlers are in (an "after startup" trigger)
            reactor.addSystemEventTrigger("after", "startup", reactor.callLater, 0, deliver, signum)
        process.start()
        if held and not delivered:  # the crawl ended before the reactor ran
            raise KeyboardInterrupt
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    spider = crawler.spider
    stats = dict(crawler.stats.get_stats())
    return CrawlSummary(
        stats=stats,
        sources=[s.name for s in getattr(spider, "sources", [])],
        reached=set(getattr(spider, "reached", set())),
        requested=set(getattr(spider, "requested", set())),
        failures=dict(getattr(spider, "failures", {})),
        finish_reason=stats.get("finish_reason"),
    )
