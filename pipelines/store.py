"""StorePipeline: writes Articles through crawler.store and remembers every fetched URL."""

from __future__ import annotations

import logging
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DropItem
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.items import Article, RawPage
from crawler.store.db import DatabaseError, make_engine, make_sessionmaker
from crawler.store.repo import record_seen, upsert_article

logger = logging.getLogger(__name__)


class StorePipeline:
    """Upserts articles by canonical URL in batched transactions; records drops as seen URLs."""

    def __init__(self, crawler: Crawler, db_url: str, batch: int) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.batch = max(1, batch)
        self.session: Session | None = None
        self.pending = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipe = cls(
            crawler,
            crawler.settings.get("NEWSDEDUP_DB_URL"),
            crawler.settings.getint("NEWSDEDUP_STORE_BATCH", 50),
        )
        crawler.signals.connect(pipe.item_dropped, signal=signals.item_dropped)
        return pipe

    def open_spider(self) -> None:
        try:
            self.engine = make_engine(self.db_url)
        except DatabaseError as exc:
            raise CloseSpider(str(exc)) from exc
        self.session = make_sessionmaker(self.engine)()

    def close_spider(self) -> None:
        if self.session is not None:
            self._commit()
            self.session.close()
            self.engine.dispose()

    def _count(self, source: str, outcome: str) -> None:
        stats = self.crawler.stats
        stats.inc_value(f"newsdedup/{outcome}")
        stats.inc_value(f"newsdedup/source/{source}/{outcome}")

    def _commit(self) -> None:
        assert self.session is not None
        try:
            self.session.commit()
            self.pending = 0
        except SQLAlchemyError as exc:
            self.session.rollback()
            self.crawler.stats.inc_value("newsdedup/store_errors")
            logger.error("store: commit failed, batch rolled back: %s", exc)

    def process_item(self, item: object) -> object:
        if not isinstance(item, Article) or self.session is None:
            return item
        try:
            outcome, article_id = upsert_article(self.session, item)
            if outcome == "collided":  # stored beside another page that claimed its key
                self._count(item.source, "collided")
            outcome = "stored" if outcome in ("new", "collided") else outcome
            for url in {item.url, item.fetched_url, item.requested_url} - {""}:
                record_seen(self.session, url, outcome, article_id)
        except SQLAlchemyError as exc:
            self.session.rollback()
            self.crawler.stats.inc_value("newsdedup/store_errors")
            raise DropItem(f"store failed for {item.url}: {exc}") from exc
        self._count(item.source, outcome)
        self.pending += 1
        if self.pending >= self.batch:
            self._commit()
        return item

    def item_dropped(self, item: object, response: object, exception: BaseException,
                     spider: object = None) -> None:
        """Remember pages that are not articles, so the next run does not fetch them again."""
        if not isinstance(item, RawPage) or self.session is None:
            return
        reason = getattr(exception.__cause__, "reason", None)
        if reason is None:
            return
        self._count(item.source, "dropped")
        self.crawler.stats.inc_value(f"newsdedup/source/{item.source}/dropped/{reason}")
        if item.url not in getattr(self.crawler.spider, "listing_urls", ()):
            record_seen(self.session, item.url, f"dropped:{reason}")
