"""`newsdedup schedule` end to end on 127.0.0.1: revalidation, recorded runs, WARC, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crawler.cli import main
from crawler.evaluation.corpus import load_corpus
from crawler.evaluation.runner import EVAL_SETTINGS
from crawler.evaluation.server import serve_corpus
from crawler.lock import CRAWL_LOCK, lock_info
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, FetchState
from tests.conftest import shared_dataset
from tests.seedsite import build_seed_corpus

pytestmark = pytest.mark.slow

#: Every run may refetch every due document at once: intervals of zero.
FAST = [*(f"{k}={v}" for k, v in EVAL_SETTINGS.items()), "NEWSDEDUP_FETCH_MIN_INTERVAL=0",
        "NEWSDEDUP_FETCH_INITIAL_INTERVAL=0"]


def _settings_argv() -> list[str]:
    return [arg for pair in FAST for arg in ("-s", pair)]


def _env(tmp: Path, proxy: str | None = None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
    if proxy:
        env |= {"http_proxy": proxy, "HTTP_PROXY": proxy}
    return env


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two scheduled runs over the seed site (feeds given, sitemaps found in robots.txt)."""
    tmp = tmp_path_factory.mktemp("schedule")
    corpus = load_corpus(build_seed_corpus(shared_dataset("seeds"), tmp / "corpus"))
    sources = tmp / "sources.toml"
    sources.write_text("\n".join(f'[[source]]\nname = "{s.name}"\nfeeds = ["{s.feed}"]\n'
                                 "robots_sitemaps = true\n" for s in corpus.sites))
    db_url = f"sqlite:///{tmp / 'scheduled.db'}"
    with serve_corpus(corpus) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "crawler", "schedule", "--every", "1s", "--max-runs", "2",
             "--db", db_url, "--sources", str(sources), "--warc", str(tmp / "warc"),
             *_settings_argv()],
            capture_output=True, text=True, timeout=180, env=_env(tmp, server.proxy_url))
        requests = server.requests
    engine = make_engine(db_url)
    yield {"proc": proc, "requests": requests, "corpus": corpus, "db_url": db_url, "tmp": tmp,
           "sessions": make_sessionmaker(engine)}
    engine.dispose()


def test_two_runs_complete(scheduled: dict) -> None:
    proc = scheduled["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "turn 2 ended: ok" in proc.stderr and "done after 2 turn(s)" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_second_run_revalidates_feeds_and_sitemaps_and_fetches_no_article(scheduled: dict) -> None:
    requests = scheduled["requests"]
    corpus = scheduled["corpus"]
    documents = {(s.host, p) for s in corpus.sites for p in ("/feed.xml", "/sitemap.xml")}
    articles = {(page.url.split("/")[2], page.path) for page in corpus.pages}
    statuses: dict[tuple[str, str], list[int]] = {}
    for host, path, status in requests:
        statuses.setdefault((host, path), []).append(status)
    # every feed and sitemap (found through robots.txt): read once, then revalidated: 304
    assert {key: statuses.get(key) for key in documents} == {key: [200, 304] for key in documents}
    # every article page fetched exactly once, all before the first revalidation
    assert {key: statuses.get(key) for key in articles} == {key: [200] for key in articles}
    first_304 = next(i for i, r in enumerate(requests) if r[2] == 304)
    assert all(i < first_304 for i, r in enumerate(requests) if (r[0], r[1]) in articles)
    others = Counter(path for host, path, _ in requests if (host, path) not in documents | articles)
    assert set(others) == {"/robots.txt"}


def test_runs_are_recorded_per_source(scheduled: dict) -> None:
    result = CliRunner().invoke(main, ["runs", "--db", scheduled["db_url"], "--json"])
    second, first = json.loads(result.output)
    sites = len(scheduled["corpus"].sites)
    assert (first["status"], second["status"]) == ("ok", "ok")
    assert first["totals"]["new"] == len(scheduled["corpus"].pages)
    assert first["totals"]["fetched"] == len(scheduled["corpus"].pages)
    assert second["totals"] | {"duplicates": None} == {
        "fetched": 0, "new": 0, "changed": 0, "unchanged": 0, "failed": 0, "dropped": 0,
        "not_modified": 2 * sites, "not_due": 0, "duplicates": None}
    assert all(s["duplicates"] is not None for s in first["sources"] + second["sources"])
    assert {s["status"] for s in second["sources"]} == {"ok"}
    with scheduled["sessions"]() as session:
        parents = {row.url: row.parent for row in session.scalars(select(FetchState))
                   if row.kind == "sitemap"}
        assert lock_info(session.get_bind(), CRAWL_LOCK) is None
    assert parents == {f"http://{s.host}/sitemap.xml": f"http://{s.host}/robots.txt"
                       for s in scheduled["corpus"].sites}


def test_the_warc_archive_imports_to_the_same_articles(scheduled: dict, sqlite_url: str) -> None:
    files = sorted(str(p) for p in (scheduled["tmp"] / "warc").glob("*.warc.gz"))
    assert len(files) == 2
    result = CliRunner().invoke(main, ["import-warc", *files, "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        imported = {a.url: (a.source, a.text) for a in session.scalars(select(Article))}
    engine.dispose()
    with scheduled["sessions"]() as session:
        crawled = {a.url: (a.source, a.text) for a in session.scalars(select(Article))}
    assert imported == crawled and len(crawled) == len(scheduled["corpus"].pages)


# -- SIGTERM during a run ----------------------------------------------------------------------
ARTICLE = (Path(__file__).parent / "fixtures" / "pages" / "article.html").read_bytes()


class _SlowSite(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/feed.xml":
            items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>"
                            for p in ("/fast.html", "/slow.html"))
            body = f"<rss version='2.0'><channel><title>S</title>{items}</channel></rss>".encode()
            ctype, extra = "application/rss+xml", {"ETag": '"feed-1"'}
        elif self.path == "/fast.html":
            body, ctype, extra = ARTICLE, "text/html; charset=utf-8", {}
        elif self.path == "/slow.html":
            time.sleep(3)
            body, ctype, extra = ARTICLE.replace(b"Regional", b"Slow"), "text/html; charset=utf-8", {}
        else:
            body, ctype, extra = b"", "text/plain", {}
        self.send_response(200 if body or self.path == "/robots.txt" else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def test_sigterm_stops_the_run_cleanly(tmp_path: Path) -> None:
    hits: list[str] = []
    handler = type("Handler", (_SlowSite,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db_url = f"sqlite:///{tmp_path / 'stop.db'}"
    base = f"http://127.0.0.1:{server.server_address[1]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "schedule", "--every", "1h", "--db", db_url,
         "--feed", f"{base}/feed.xml", *_settings_argv()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while not {"/fast.html", "/slow.html"} <= set(hits) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the fast article reaches the store
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, err[-3000:]
    assert "turn 1 ended: interrupted" in err and "stopped by signal after 1 turn(s)" in err
    runs = json.loads(CliRunner().invoke(main, ["runs", "--db", db_url, "--json"]).output)
    assert [r["status"] for r in runs] == ["interrupted"]
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        stored = set(session.scalars(select(Article.fetched_url)))
        feed = session.get(FetchState, f"{base}/feed.xml")
    assert lock_info(engine, CRAWL_LOCK) is None
    engine.dispose()
    assert f"{base}/fast.html" in stored
    assert feed is not None and feed.etag is None  # read in full again next time


def test_a_schedule_with_max_runs_exits_1_when_a_run_left_something(tmp_path: Path) -> None:
    """`schedule --max-runs 1` whose run reached no source (the run's exit status 1): the
    scheduler ended with status 0 before, hiding it from the script or unit that started it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    db_url = f"sqlite:///{tmp_path / 'sched.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "schedule", "--every", "1h", "--max-runs", "1",
         "--db", db_url, "--feed", f"http://127.0.0.1:{closed}/feed.xml", *_settings_argv()],
        capture_output=True, text=True, timeout=300, env=_env(tmp_path), cwd=Path(__file__).parents[1])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "turn 1 ended: failed or incomplete" in proc.stderr
    assert "schedule: done after 1 turn(s), 1 failed or incomplete" in proc.stderr
