"""Item pipelines built by Scrapy from settings: extraction off the reactor, storage, drops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select

from crawler.items import Article, RawPage
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article as ArticleRow
from crawler.store.models import SeenUrl
from pipelines.extract import ExtractPipeline
from pipelines.store import StorePipeline

ARTICLE_HTML = (Path(__file__).parent / "fixtures" / "pages" / "article.html").read_bytes()


def raw_page(body: bytes = ARTICLE_HTML, url: str = "https://tech.example/2026/03/04/x.html",
             content_type: str | None = "text/html; charset=utf-8") -> RawPage:
    return RawPage(url=url, final_url=url, source="example", status=200, body=body,
                   content_type=content_type, fetched_at=datetime(2026, 3, 5, tzinfo=UTC),
                   hint_title="Feed title", hint_published="2026-03-04T00:00:00+00:00")


def extract(item: object, crawler=None) -> object:
    crawler = crawler or get_crawler()
    pipe = build_from_crawler(ExtractPipeline, crawler)
    return asyncio.run(pipe.process_item(item))


def test_extract_pipeline_turns_a_page_into_an_article() -> None:
    art = extract(raw_page())
    assert isinstance(art, Article)
    # same-site rel=canonical is the storage key, tracking parameters removed
    assert art.url == "https://tech.example/2026/03/04/regional-cloud-gpu.html"
    assert art.site == "tech.example"
    assert art.title == "Regional cloud providers race to add GPU capacity"
    assert art.author == "Mei Lin"
    assert art.published == datetime(2026, 3, 4, 1, 15, tzinfo=UTC)
    assert "“We are selling capacity before the racks are even installed,”" in art.text
    assert "Most read" not in art.text and "All rights reserved" not in art.text
    assert art.raw_html == ARTICLE_HTML
    assert art.repairs == ()


def test_cross_site_canonical_is_kept_but_not_the_key() -> None:
    page = raw_page(url="https://mirror.example/copy.html")
    art = extract(page)
    assert art.url == "https://mirror.example/copy.html"
    assert art.declared_canonical.startswith("https://tech.example/2026/03/04/regional-cloud-gpu")


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
     b"", b"<html><body><nav><a href='/a'>A</a> <a href='/b'>B</a></nav></body></html>"],
)
def test_non_articles_are_dropped_with_a_counted_reason(body: bytes) -> None:
    crawler = get_crawler()
    with pytest.raises(DropItem, match="not an article"):
        extract(raw_page(body=body), crawler)
    dropped = {k: v for k, v in crawler.stats.get_stats().items()
               if k.startswith("newsdedup/dropped/")}
    assert sum(dropped.values()) == 1


def test_store_pipeline_upserts_and_remembers_urls(sqlite_url: str) -> None:
    crawler = get_crawler(settings_dict={"NEWSDEDUP_DB_URL": sqlite_url, "NEWSDEDUP_STORE_BATCH": 1})
    pipe = build_from_crawler(StorePipeline, crawler)
    pipe.open_spider()
    art = extract(raw_page())
    assert pipe.process_item(art) is art
    assert pipe.process_item(art) is art  # same text again: unchanged, no second row
    dropped = raw_page(url="https://tech.example/tag/cloud/", body=b"<html><body></body></html>")
    with pytest.raises(DropItem) as info:
        extract(dropped)
    pipe.item_dropped(dropped, None, info.value)
    pipe.close_spider()
    assert crawler.stats.get_value("newsdedup/stored") == 1
    assert crawler.stats.get_value("newsdedup/unchanged") == 1
    assert crawler.stats.get_value("newsdedup/source/example/stored") == 1
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(ArticleRow)) == 1
        outcomes = dict(session.execute(select(SeenUrl.url, SeenUrl.outcome)).all())
    engine.dispose()
    assert outcomes["https://tech.example/2026/03/04/regional-cloud-gpu.html"] == "unchanged"
    assert outcomes["https://tech.example/2026/03/04/x.html"] == "unchanged"
    assert outcomes.get("https://tech.example/tag/cloud/", "").startswith("dropped:")
