"""The crawl's progress line."""

from __future__ import annotations

from crawler.progress import progress_counts, progress_line


def test_progress_line() -> None:
    stats = {"downloader/response_count": 12, "newsdedup/stored": 5, "newsdedup/failed": 2,
             "newsdedup/not_modified": 3, "scheduler/enqueued": 20, "scheduler/dequeued": 14}
    assert progress_counts(stats)["queued"] == 6
    assert progress_line(stats) == ("crawl: 12 pages, 5 new, 0 changed, 0 unchanged, 0 dropped, "
                                    "2 errors, 3 not modified, 6 queued")
