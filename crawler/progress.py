"""Progress while a job runs: the crawl's live line on a terminal (rich), plain lines otherwise;
one line when a step that is usually quick takes long."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)


@contextmanager
def notice_if_slow(seconds: float, say: Callable[[], None]) -> Iterator[None]:
    """Call ``say`` once if the block is still running after ``seconds``: a job that is silent
    for minutes (the dedup compiling its kernels on a machine's first run) looks hung."""
    timer = threading.Timer(seconds, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def progress_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    """Pages fetched, articles new/changed/unchanged, dropped pages, errors, 304s, not-due skips."""
    def get(key: str) -> int:
        return int(stats.get(key, 0))

    return {
        "pages": get("downloader/response_count"),
        "new": get("newsdedup/stored"),
        "changed": get("newsdedup/changed"),
        "unchanged": get("newsdedup/unchanged"),
        "dropped": get("newsdedup/dropped"),
        "errors": get("newsdedup/failed"),
        "not_modified": get("newsdedup/not_modified"),
        "queued": get("scheduler/enqueued") - get("scheduler/dequeued"),
    }


def progress_line(stats: Mapping[str, Any]) -> str:
    c = progress_counts(stats)
    return (f"crawl: {c['pages']} pages, {c['new']} new, {c['changed']} changed, "
            f"{c['unchanged']} unchanged, {c['dropped']} dropped, {c['errors']} errors, "
            f"{c['not_modified']} 304, {c['queued']} queued")


class ProgressExtension:
    """Shows :func:`progress_line` while the spider runs (``NEWSDEDUP_PROGRESS`` = live | plain)."""

    def __init__(self, crawler: Crawler, mode: str, interval: float) -> None:
        self.crawler, self.mode = crawler, mode
        self.interval = 0.25 if mode == "live" else interval
        self.task: LoopingCall | None = None
        self.live: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mode = crawler.settings.get("NEWSDEDUP_PROGRESS") or ""
        if mode not in ("live", "plain"):
            raise NotConfigured
        ext = cls(crawler, mode, crawler.settings.getfloat("NEWSDEDUP_PROGRESS_INTERVAL", 15.0))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def _stats(self) -> dict[str, Any]:
        return self.crawler.stats.get_stats()

    def opened(self) -> None:
        if self.mode == "live":
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text

            self._text = Text
            self.live = Live(Text(progress_line(self._stats())), console=Console(file=sys.stdout),
                             refresh_per_second=4, transient=True)
            self.live.start()
        self.task = LoopingCall(self.tick)
        self.task.start(self.interval, now=False)

    def tick(self) -> None:
        line = progress_line(self._stats())
        if self.live is not None:
            self.live.update(self._text(line))
        else:
            print(line, file=sys.stderr, flush=True)

    def closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.live is not None:
            self.live.stop()
            self.live = None
