"""A crawl against a server that misbehaves on purpose: every fault is counted, none stops the run."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, CrawlRunSource, SeenUrl
from tests.faultserver import fault_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("faults")
    db_url = f"sqlite:///{tmp / 'faults.db'}"
    with fault_server() as server:
        sources = tmp / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "faulty"\nfeeds = ["{server.base}/feed.xml"]\n'
            f'[[source]]\nname = "broken-feed"\nfeeds = ["{server.base}/invalid.xml"]\n'
            f'[[source]]\nname = "huge-sitemap"\nsitemaps = ["{server.base}/huge-sitemap.xml"]\n'
        )
        cmd = [sys.executable, "-m", "crawler", "crawl", "--db", db_url, "--sources", str(sources),
               "--stats", str(tmp / "stats.json"),
               "-s", "RETRY_TIMES=1", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "DOWNLOAD_MAXSIZE=8000000",
               "-s", "NEWSDEDUP_BACKOFF_BASE=0.1", "-s", "NEWSDEDUP_MAX_URLS_PER_DOCUMENT=20",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=INFO"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)})
        hits = list(server.hits)
        flaky = server.count("/flaky.html")
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        stored = set(session.scalars(select(Article.fetched_url)))
        seen = dict(session.execute(select(SeenUrl.url, SeenUrl.outcome)).all())
        dropped = {r.source: json.loads(r.dropped_reasons) for r in session.scalars(select(CrawlRunSource))}
    engine.dispose()
    return {"proc": proc, "stats": json.loads((tmp / "stats.json").read_text()), "hits": hits,
            "flaky": flaky, "stored": stored, "seen": seen, "base": server.base,
            "dropped_reasons": dropped}


def test_run_completes_without_a_traceback_and_says_what_it_left(crawl: dict) -> None:
    """The timeout, the reset, the 429 and the 500 are left to the next run: the run is partial
    and exits 1 (it was `ok` and exited 0 before); the redirect loop alone would not do it."""
    proc = crawl["proc"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert crawl["stats"]["stats"]["finish_reason"] == "finished"
    assert crawl["stats"]["status"] == "partial"
    # slow, reset, rst, cut, toolong429, always500
    assert crawl["stats"]["stats"]["newsdedup/faults"] == 6
    assert "6 request(s) failed by a fault of the network or the server" in proc.stderr


def test_good_and_retried_pages_are_stored(crawl: dict) -> None:
    """HTML served as application/octet-stream or with no Content-Type too (the first was
    dropped as not_html)."""
    base = crawl["base"]
    assert crawl["stored"] == {f"{base}/{p}.html" for p in ("ok", "flaky", "octet", "untyped")}
    assert crawl["flaky"] == 2  # 503 with Retry-After: 1, then 200


def test_retry_after_is_honoured(crawl: dict) -> None:
    times = [t for t, p in crawl["hits"] if p == "/flaky.html"]
    assert times[1] - times[0] >= 0.9


def test_every_fault_is_counted(crawl: dict) -> None:
    stats = crawl["stats"]["stats"]
    assert stats["newsdedup/dropped/binary"] == 1
    assert stats["newsdedup/source/faulty/dropped/binary"] == 1
    assert stats["newsdedup/retry_after_too_long"] == 1
    assert stats["newsdedup/invalid_feed"] == 1
    assert stats["newsdedup/truncated_url_lists"] == 1
    failures = "\n".join(crawl["stats"]["failures"]["faulty"])
    for path in ("/slow.html", "/reset.html", "/rst.html", "/cut.html", "/toolong429.html",
                 "/always500.html"):
        assert path in failures, failures
    assert "HTTP 429" in failures and "HTTP 500" in failures
    # set aside for a true reason, in the run's record as a dropped page is (before: a counter
    # no run record or summary showed, and the declared-too-large page a failure retried forever)
    assert stats["newsdedup/source/faulty/dropped/too_large"] == 2  # the size cap, the gzip bomb
    assert stats["newsdedup/source/faulty/dropped/robots"] == 1
    assert crawl["dropped_reasons"]["faulty"] == {"binary": 1, "robots": 1, "too_large": 2}
    assert "broken-feed" in crawl["stats"]["failures"]


def test_a_reset_or_a_cut_body_is_one_readable_line(crawl: dict) -> None:
    """Not the HTTP client's repr of its inner failures ("[<twisted.python.failure.Failure
    twisted.internet.error.ConnectionDone: ...>]"), in the summary, the log or the run record."""
    base, proc = crawl["base"], crawl["proc"]
    failures = crawl["stats"]["failures"]["faulty"]
    assert f"{base}/reset.html: connection closed by the server before any response" in failures
    assert f"{base}/rst.html: connection reset; body cut short (less than announced) mid-response" \
        in failures
    assert any(line.startswith(f"{base}/cut.html: ") and "body cut short" in line for line in failures)
    ours = [line for line in proc.stderr.splitlines()  # Scrapy's own log (-v) is Scrapy's word
            if "[news]" in line or line.startswith("  faulty: ")]
    assert len(ours) > 6 and not [line for line in ours if "twisted" in line]


def test_robots_rules_and_crawl_delay_are_obeyed(crawl: dict) -> None:
    assert not [p for _, p in crawl["hits"] if p.startswith("/private/")]
    assert crawl["stats"]["stats"]["newsdedup/crawl_delay_max"] == pytest.approx(0.3)
    # The HTTP client itself resends a request whose persistent connection was reset, at once.
    times = sorted(t for t, p in crawl["hits"] if p not in ("/robots.txt", "/reset.html"))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.25


def test_nothing_half_stored(crawl: dict) -> None:
    base = crawl["base"]
    assert crawl["seen"][f"{base}/binary.html"] == "dropped:binary"
    assert f"{base}/slow.html" not in crawl["seen"]  # failures are retried next run
