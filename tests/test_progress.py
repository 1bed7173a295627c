"""The crawl's progress line."""

from __future__ import annotations

from crawler.progress import progress_counts, progress_line


def test_progress_line() -> None:
    stats = {"downloader/response_count": 12, "newsdedup/stored": 5, "newsdedup/failed": 2,
             "newsdedup/not_modified": 3, "scheduler/enqueued": 20, "scheduler/dequeued": 14}
    assert progress_counts(stats)["queued"] == 6
    assert progress_line(stats) == ("crawl: 12 pages, 5 new, 0 changed, 0 unchanged, 0 dropped, "
                                    "2 errors, 3 304, 6 queued")


def test_plain_progress_lines_go_to_stderr(capsys) -> None:
    from scrapy.utils.test import get_crawler

    from crawler.progress import ProgressExtension
    from crawler.spiders.news import NewsSpider

    crawler = get_crawler(NewsSpider, {"NEWSDEDUP_PROGRESS": "plain"})
    crawler.stats.open_spider()
    crawler.stats.set_value("downloader/response_count", 4)
    ext = ProgressExtension.from_crawler(crawler)
    ext.tick()
    # the last line: Scrapy's own log lines come first when an earlier test installed its handler
    assert capsys.readouterr().err.splitlines()[-1].startswith("crawl: 4 pages, 0 new")


def test_no_progress_unless_asked() -> None:
    import pytest
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from crawler.progress import ProgressExtension
    from crawler.spiders.news import NewsSpider

    with pytest.raises(NotConfigured):
        ProgressExtension.from_crawler(get_crawler(NewsSpider, {"NEWSDEDUP_PROGRESS": ""}))
