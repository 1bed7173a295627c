"""Item pipelines built by Scrapy from settings: extraction off the reactor, storage, drops."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select

import pipelines.extract as extract_module
from crawler.content.errors import NotAnArticle
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


def extract(item: object, crawler=None, workers: int = 0) -> object:
    """One item through an opened and closed ExtractPipeline (0 workers: in a thread)."""
    crawler = crawler or get_crawler(settings_dict={"NEWSDEDUP_EXTRACT_WORKERS": workers})
    pipe = build_from_crawler(ExtractPipeline, crawler)

    async def run() -> object:
        pipe.open_spider()
        try:
            return await pipe.process_item(item)
        finally:
            await pipe.close_spider()

    return asyncio.run(run())


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
    crawler = get_crawler(settings_dict={"NEWSDEDUP_EXTRACT_WORKERS": 0})
    with pytest.raises(DropItem, match="not an article"):
        extract(raw_page(body=body), crawler)
    dropped = {k: v for k, v in crawler.stats.get_stats().items()
               if k.startswith("newsdedup/dropped/")}
    assert sum(dropped.values()) == 1


# --- extraction in worker processes (NEWSDEDUP_EXTRACT_WORKERS > 0) ---------------------------


def test_the_shipped_settings_extract_in_worker_processes() -> None:
    from crawler import settings

    assert settings.NEWSDEDUP_EXTRACT_WORKERS >= 1
    assert build_from_crawler(ExtractPipeline, get_crawler()).workers == \
        settings.NEWSDEDUP_EXTRACT_WORKERS  # the same default when the setting is absent
    crawler = get_crawler(settings_dict={"NEWSDEDUP_EXTRACT_WORKERS": "3"})
    assert build_from_crawler(ExtractPipeline, crawler).workers == 3


@pytest.mark.parametrize("url", ["https://tech.example/2026/03/04/x.html",
                                 "https://mirror.example/copy.html"])
def test_worker_processes_give_the_same_article_as_the_thread(url: str) -> None:
    in_thread = extract(raw_page(url=url), workers=0)
    in_pool = extract(raw_page(url=url), workers=1)
    assert isinstance(in_pool, Article)
    assert in_pool == in_thread


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, b"",
     b"<html><body><nav><a href='/a'>A</a> <a href='/b'>B</a></nav></body></html>",
     b"<html>" + b"x" * (11 * 1024 * 1024)],  # over MAX_BODY_BYTES: a reason with a detail
)
def test_not_an_article_crosses_the_process_boundary_with_its_reason(body: bytes) -> None:
    def drop(workers: int) -> tuple[DropItem, dict]:
        crawler = get_crawler(settings_dict={"NEWSDEDUP_EXTRACT_WORKERS": workers})
        with pytest.raises(DropItem, match="not an article") as info:
            extract(raw_page(body=body), crawler)
        stats = {k: v for k, v in crawler.stats.get_stats().items()
                 if k.startswith("newsdedup/dropped/")}
        return info.value, stats

    thread_exc, thread_stats = drop(0)
    pool_exc, pool_stats = drop(1)
    cause = pool_exc.__cause__
    assert isinstance(cause, NotAnArticle)
    assert cause.reason == thread_exc.__cause__.reason
    assert str(cause) == str(thread_exc.__cause__)
    assert str(pool_exc) == str(thread_exc)
    assert pool_stats == thread_stats == {f"newsdedup/dropped/{cause.reason}": 1}


def test_worker_pool_is_shut_down_when_the_spider_closes() -> None:
    pipe = build_from_crawler(ExtractPipeline,
                              get_crawler(settings_dict={"NEWSDEDUP_EXTRACT_WORKERS": 2}))

    async def run():
        pipe.open_spider()
        art = await pipe.process_item(raw_page())
        pool = pipe.pool
        processes = list(pool._processes.values())  # the executor's worker processes
        await pipe.close_spider()
        return art, pool, processes

    art, pool, processes = asyncio.run(run())
    assert isinstance(art, Article)
    assert len(processes) == 2
    assert pipe.pool is None
    assert all(p.exitcode is not None for p in processes)
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(int)


def test_a_dead_worker_is_replaced_and_the_page_extracted() -> None:
    pipe = build_from_crawler(ExtractPipeline,
                              get_crawler(settings_dict={"NEWSDEDUP_EXTRACT_WORKERS": 1}))

    async def run():
        pipe.open_spider()
        try:
            first = await pipe.process_item(raw_page())
            old = pipe.pool
            pid = await asyncio.wrap_future(old.submit(os.getpid))
            os.kill(pid, signal.SIGKILL)
            second = await pipe.process_item(raw_page())
            return first, second, old, pipe.pool
        finally:
            await pipe.close_spider()

    first, second, old, new = asyncio.run(run())
    assert second == first
    assert new is not old


def test_workers_that_cannot_start_fall_back_to_a_thread(monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(extract_module, "_START_METHOD", "no-such-start-method")
    art = extract(raw_page(), workers=1)
    assert art == extract(raw_page(), workers=0)
    assert "extracting in a thread instead" in caplog.text


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
