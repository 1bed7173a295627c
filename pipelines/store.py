"""StorePipeline: writes Articles through crawler.store and remembers every fetched URL.

Nothing is lost to a failed write: articles are kept in memory until their batch is committed;
a batch that fails is written again one article per transaction, so one bad row costs only
itself; an article that cannot be stored even alone (the database is down, the disk is full) is
counted as ``store_failed`` and handed back to the spider, which leaves the feed or sitemap that
listed it unvalidated: the next run reads that document in full and fetches the article again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.items import Article, RawPage
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker, one_line
from crawler.store.repo import record_seen, storable, store_article

logger = logging.getLogger(__name__)

#: What a write can raise for one row: the database refused it or the driver could not encode it.
_WRITE_ERRORS = (SQLAlchemyError, ValueError)


@dataclass
class _Batch:
    """Articles and dropped pages waiting for one transaction."""

    articles: list[Article] = field(default_factory=list)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)  #: (source, url, outcome)
    since: float = 0.0  #: monotonic time of the first entry

    def __len__(self) -> int:
        return len(self.articles) + len(self.dropped)


class StorePipeline:
    """Upserts articles by canonical URL in batched transactions; records drops as seen URLs."""

    def __init__(self, crawler: Crawler, db_url: str, batch: int, seconds: float) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.batch_size = max(1, batch)
        self.batch_seconds = seconds
        self.sessions = None
        self.batch = _Batch()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipe = cls(
            crawler,
            crawler.settings.get("NEWSDEDUP_DB_URL"),
            crawler.settings.getint("NEWSDEDUP_STORE_BATCH", 50),
            crawler.settings.getfloat("NEWSDEDUP_STORE_BATCH_SECONDS", 10.0),
        )
        crawler.signals.connect(pipe.item_dropped, signal=signals.item_dropped)
        # a crawl that waits for more work (a shared frontier) commits what it has meanwhile
        crawler.signals.connect(pipe._flush, signal=signals.spider_idle)
        return pipe

    def open_spider(self) -> None:
        try:
            self.engine = make_engine(self.db_url)
        except DatabaseError as exc:
            raise CloseSpider(str(exc)) from exc
        self.sessions = make_sessionmaker(self.engine)

    def close_spider(self) -> None:
        if self.sessions is not None:
            self._flush()
            self.engine.dispose()

    def _count(self, source: str, outcome: str) -> None:
        """Count an outcome; a "collided" article (kept beside another page that claimed its key)
        is a stored one too."""
        stats = self.crawler.stats
        for name in ("collided", "stored") if outcome == "collided" else (outcome,):
            stats.inc_value(f"newsdedup/{name}")
            stats.inc_value(f"newsdedup/source/{source}/{name}")

    def _add(self, article: Article | None = None, dropped: tuple[str, str, str] | None = None) -> None:
        if not len(self.batch):
            self.batch.since = time.monotonic()
        if article is not None:
            self.batch.articles.append(article)
        if dropped is not None:
            self.batch.dropped.append(dropped)
        if (len(self.batch) >= self.batch_size
                or time.monotonic() - self.batch.since >= self.batch_seconds):
            self._flush()

    def _write(self, session: Session, articles: list[Article],
               dropped: list[tuple[str, str, str]]) -> list[str]:
        """Write in the session's transaction; the outcome of each article."""
        outcomes = []
        for item in articles:
            outcomes.append(store_article(session, item)[0])
        for _, url, outcome in dropped:
            record_seen(session, url, outcome)
        session.flush()
        return outcomes

    def _commit(self, articles: list[Article], dropped: list[tuple[str, str, str]]) -> list[str]:
        """Write and commit in one transaction (rolled back and raised on failure)."""
        assert self.sessions is not None
        with self.sessions() as session, session.begin():
            return self._write(session, articles, dropped)

    def _flush(self) -> None:
        """Commit the batch; on failure, each entry alone; what still fails is set aside."""
        batch, self.batch = self.batch, _Batch()
        if not len(batch):
            return
        try:
            outcomes = self._commit(batch.articles, batch.dropped)
        except _WRITE_ERRORS as exc:
            if len(batch) == 1:
                self._set_aside(batch, exc)
                return
            self.crawler.stats.inc_value("newsdedup/store_batch_retried")
            logger.warning("store: a batch of %d failed (%s); writing each alone", len(batch),
                           one_line(exc))
            for article in batch.articles:
                self._flush_one(_Batch(articles=[article]))
            for entry in batch.dropped:
                self._flush_one(_Batch(dropped=[entry]))
            return
        for item, outcome in zip(batch.articles, outcomes, strict=True):
            self._count(item.source, outcome)
        self._done(batch)

    def _done(self, batch: _Batch) -> None:
        """The batch is committed or set aside: a shared frontier forgets its requests."""
        frontier = getattr(self.crawler.spider, "frontier", None)
        if frontier is not None:
            frontier.items_done([a.requested_url or a.url for a in batch.articles]
                                + [url for _, url, _ in batch.dropped])

    def _flush_one(self, batch: _Batch) -> None:
        try:
            outcomes = self._commit(batch.articles, batch.dropped)
        except _WRITE_ERRORS as exc:
            self._set_aside(batch, exc)
            return
        for item, outcome in zip(batch.articles, outcomes, strict=True):
            self._count(item.source, outcome)
        self._done(batch)

    def _set_aside(self, batch: _Batch, exc: BaseException) -> None:
        """Articles that could not be stored: counted, and refetched by the next run. A dropped
        page that could not be remembered is simply fetched again."""
        spider = self.crawler.spider
        for item in batch.articles:
            self._count(item.source, "store_failed")
            logger.error("store failed for %s: %s", item.url, one_line(exc))
            if hasattr(spider, "store_failed"):
                spider.store_failed(item.source, item.requested_url or item.url,
                                    f"store failed: {one_line(exc)}")
        self._done(batch)

    def process_item(self, item: object) -> object:
        if not isinstance(item, Article) or self.sessions is None:
            return item
        self._add(article=storable(item))
        return item

    def item_dropped(self, item: object, response: object, exception: BaseException,
                     spider: object = None) -> None:
        """Remember pages that are not articles, so the next run does not fetch them again."""
        if not isinstance(item, RawPage):
            return
        reason = getattr(exception.__cause__, "reason", None)
        if reason is not None and self.sessions is not None:
            self._count(item.source, "dropped")
            self.crawler.stats.inc_value(f"newsdedup/source/{item.source}/dropped/{reason}")
            if item.url not in getattr(self.crawler.spider, "listing_urls", ()):
                self._add(dropped=(item.source, item.url, f"dropped:{reason}"))
                return
        self._done(_Batch(dropped=[(item.source, item.url, "")]))
