"""ExtractPipeline: RawPage -> Article through crawler.content (decode, repair, extract), off the reactor."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.asyncio import run_in_thread

from crawler.content.page import NotAnArticle, PageResult, process_page
from crawler.items import Article, RawPage
from crawler.urls import canonical_url, host_of, same_site


def parse_published(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime as a datetime (naive values are taken as UTC)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_article(page: RawPage, result: PageResult) -> Article:
    """Combine the fetched page and its extraction; the storage key is the same-site canonical URL."""
    final = canonical_url(page.final_url)
    declared = result.canonical_url
    key = canonical_url(declared) if declared and same_site(declared, final) else final
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


class ExtractPipeline:
    """Turns each RawPage into an Article, or drops it with a counted reason."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: object) -> object:
        if not isinstance(item, RawPage):
            return item
        try:
            result = await run_in_thread(process_page, item.body, item.final_url, item.content_type)
        except NotAnArticle as exc:
            self.crawler.stats.inc_value(f"newsdedup/dropped/{exc.reason}")
            raise DropItem(f"not an article ({exc.reason}): {item.final_url}") from exc
        return to_article(item, result)
