"""`newsdedup crawl --frontier`: one crawl from several worker processes sharing a Redis frontier
and one PostgreSQL database, against syndication-dev served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from scrapy import Request, Spider
from sqlalchemy import func, select

from crawler.evaluation.corpus import Corpus, load_corpus
from crawler.evaluation.runner import EVAL_SETTINGS, sources_toml
from crawler.evaluation.server import CorpusServer, proxy_environment, serve_corpus
from crawler.frontier import KEY_META, TAKING, HostRoundRobinQueue, Keys, connect, crawl_prefix
from crawler.lock import CRAWL_LOCK, held_lock
from crawler.runs import add_worker, merge_statuses
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, CrawlRun, StoryMember
from tests.conftest import answers, require_services, shared_dataset
from tests.procs import descendants, wait_for

pytestmark = pytest.mark.slow

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: A Redis database of its own; each test's crawl also has its own keys (its sources differ).
REDIS_DB = 13
#: Per-site concurrency the crawl as a whole must keep to (each worker alone would allow it too).
PER_SITE = 2


@pytest.fixture
def frontier() -> str:
    if not answers(REDIS_HOST, REDIS_PORT):
        if require_services():
            pytest.fail("Redis on 127.0.0.1:6379 is required (NEWSDEDUP_REQUIRE_SERVICES=1)")
        pytest.skip("no Redis server answers on 127.0.0.1:6379")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(shared_dataset("syndication-dev"))


def _sources(tmp: Path, corpus: Corpus) -> Path:
    """The corpus's sources, with a comment that makes this test's crawl (its Redis keys) unique."""
    path = tmp / "sources.toml"
    path.write_text(f"# crawl {uuid.uuid4().hex}\n" + sources_toml(corpus), encoding="utf-8")
    return path


def _argv(command: str, sources: Path, db_url: str, frontier: str | None, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "crawler", command, "--sources", str(sources), "--db", db_url]
    if frontier:
        argv += ["--frontier", frontier, "--idle-exit", "1"]
    settings = {**EVAL_SETTINGS, "CONCURRENT_REQUESTS_PER_DOMAIN": str(PER_SITE)}
    return argv + [a for k, v in settings.items() for a in ("-s", f"{k}={v}")] + list(extra)


def _start(argv: list[str], server: CorpusServer, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, env=proxy_environment(server.proxy_url, os.environ),
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))


def _article_fetches(server: CorpusServer, corpus: Corpus) -> Counter:
    pages = {(f"{p.site}.test", p.path) for p in corpus.pages}
    return Counter((h, p) for h, p, status in server.requests if (h, p) in pages and status == 200)


def _stories(db_url: str) -> set[frozenset[str]]:
    """The stories as sets of article URLs (ids differ from one database to the other)."""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.execute(select(StoryMember.story_id, Article.url)
                                   .join(Article, Article.id == StoryMember.article_id)).all()
    finally:
        engine.dispose()
    by_story: dict[int, set[str]] = {}
    for story, url in rows:
        by_story.setdefault(story, set()).add(url)
    return {frozenset(urls) for urls in by_story.values()}


def _count_articles(db_url: str) -> tuple[int, int]:
    """(articles stored, distinct URLs among them)."""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            return (session.scalar(select(func.count()).select_from(Article)) or 0,
                    session.scalar(select(func.count(func.distinct(Article.fetched_url)))) or 0)
    finally:
        engine.dispose()


def test_three_workers_fetch_every_page_once_and_find_the_stories_of_one(
        tmp_path: Path, corpus: Corpus, frontier: str, pg_url: str) -> None:
    sources = _sources(tmp_path, corpus)
    with serve_corpus(corpus, latency=0.02) as server:
        logs = [tmp_path / f"worker{i}.log" for i in range(3)]
        workers = [_start(_argv("run", sources, pg_url, frontier, "--no-report"), server, log)
                   for log in logs]
        codes = [w.wait(timeout=240) for w in workers]
        fetched = _article_fetches(server, corpus)
        peaks = server.peak_concurrency
    errors = [log.read_text() for log in logs]
    assert codes == [0, 0, 0], errors
    assert not any("Traceback" in e for e in errors)
    # every article page fetched exactly once by the three, and stored
    assert set(fetched) == {(f"{p.site}.test", p.path) for p in corpus.pages}
    assert max(fetched.values()) == 1, [k for k, n in fetched.items() if n > 1][:5]
    assert _count_articles(pg_url) == (len(corpus.pages), len(corpus.pages))
    # the sites never saw more than the per-site concurrency, three workers or not
    assert max(peaks.values()) <= PER_SITE, peaks
    # one run for the crawl: its workers listed, per-source counts adding up; one dedup, by the last
    out = subprocess.run([sys.executable, "-m", "crawler", "runs", "--db", pg_url, "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    runs = json.loads(out)
    assert len(runs) == 1 and runs[0]["status"] == "ok", runs
    assert len(runs[0]["workers"]) == 3
    assert runs[0]["totals"]["new"] == len(corpus.pages)
    assert runs[0]["totals"]["duplicates"] is not None  # the dedup ran for the crawl
    assert sum(e.count("dedup (") for e in errors) == 1

    # the same corpus crawled by one process: the same stories
    alone = f"sqlite:///{tmp_path / 'alone.db'}"
    with serve_corpus(corpus) as server:
        proc = subprocess.run(_argv("run", _sources(tmp_path, corpus), alone, None, "--no-report"),
                              env=proxy_environment(server.proxy_url, os.environ),
                              capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _stories(pg_url) == _stories(alone)


def test_a_worker_killed_mid_crawl_loses_nothing(tmp_path: Path, corpus: Corpus, frontier: str,
                                                 pg_url: str) -> None:
    sources = _sources(tmp_path, corpus)
    slow = ("-s", "CONCURRENT_REQUESTS=4")
    with serve_corpus(corpus, latency=0.02) as server:
        logs = [tmp_path / f"worker{i}.log" for i in range(3)]
        workers = [_start(_argv("crawl", sources, pg_url, frontier, *slow), server, log) for log in logs]
        assert wait_for(lambda: sum(_article_fetches(server, corpus).values()) >= 40, timeout=120)
        victim = workers[0]
        helpers = descendants(victim.pid)
        victim.send_signal(signal.SIGKILL)
        codes = [w.wait(timeout=240) for w in workers]
        assert codes[0] == -signal.SIGKILL and codes[1:] == [0, 0], [log.read_text() for log in logs]
        assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers), timeout=10)
        # the next run (one worker is enough) finishes whatever is left
        again = subprocess.run(_argv("crawl", sources, pg_url, frontier), capture_output=True,
                               text=True, timeout=240,
                               env=proxy_environment(server.proxy_url, os.environ))
        fetched = _article_fetches(server, corpus)
    assert again.returncode == 0, again.stderr[-2000:]
    assert set(fetched) == {(f"{p.site}.test", p.path) for p in corpus.pages}
    assert _count_articles(pg_url) == (len(corpus.pages), len(corpus.pages))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_server_binary() -> str:
    """redis-server, for the tests that run a Redis of their own (skipped without it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if require_services():
            pytest.fail("redis-server is required (NEWSDEDUP_REQUIRE_SERVICES=1)")
        pytest.skip("redis-server is not installed")
    return binary


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen, str]]:
    """A Redis server of this test's own, on a free port (to be stopped by the test)."""
    binary = _redis_server_binary()
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    assert wait_for(lambda: answers(REDIS_HOST, port), timeout=10)
    yield proc, f"redis://127.0.0.1:{port}/0"
    proc.kill()
    proc.wait()


def test_redis_going_away_stops_the_worker_with_one_line_and_keeps_what_it_stored(
        tmp_path: Path, corpus: Corpus, own_redis: tuple[subprocess.Popen, str]) -> None:
    redis_proc, url = own_redis
    db_url = f"sqlite:///{tmp_path / 'lost.db'}"
    sources = _sources(tmp_path, corpus)
    with serve_corpus(corpus, latency=0.02) as server:
        log = tmp_path / "worker.log"
        worker = _start(_argv("crawl", sources, db_url, url, "-s", "CONCURRENT_REQUESTS=2"), server, log)
        assert wait_for(lambda: sum(_article_fetches(server, corpus).values()) >= 30, timeout=120)
        redis_proc.kill()
        code = worker.wait(timeout=120)
        stderr = log.read_text()
        stored, _ = _count_articles(db_url)
        # nothing stored is lost: a crawl after it (here in one process) completes the store
        again = subprocess.run(_argv("crawl", sources, db_url, None), capture_output=True, text=True,
                               timeout=240, env=proxy_environment(server.proxy_url, os.environ))
    assert code == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if "frontier" in line]
    assert len(said) == 1 and said[0].startswith("newsdedup: error: the frontier went away"), stderr
    assert stored > 0
    assert again.returncode == 0, again.stderr[-2000:]
    assert _count_articles(db_url)[0] == len(corpus.pages)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        first = session.get(CrawlRun, 1)
        assert first is not None and first.status == "failed" and "went away" in (first.error or "")
    engine.dispose()


def test_another_crawl_finds_the_lock_held(tmp_path: Path, frontier: str, sqlite_url: str) -> None:
    """The lock belongs to the crawl its workers share: a crawl of other sources (with or
    without a frontier) exits 3 while it is held."""
    ours, theirs = tmp_path / "ours.toml", tmp_path / "theirs.toml"
    ours.write_text('[[source]]\nname = "a"\nfeeds = ["http://a.test/feed.xml"]\n')
    theirs.write_text('[[source]]\nname = "b"\nfeeds = ["http://b.test/feed.xml"]\n')
    engine = make_engine(sqlite_url)
    owner = f"crawl {crawl_prefix(ours.read_text())}"
    with held_lock(engine, CRAWL_LOCK, owner):
        for extra in (["--frontier", frontier], []):
            proc = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--sources", str(theirs),
                                   "--db", sqlite_url, *extra], capture_output=True, text=True,
                                  timeout=60)
            assert proc.returncode == 3, proc.stderr
            assert "holds the 'crawl' lock" in proc.stderr
    engine.dispose()


def test_unreachable_frontier_is_one_line(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "s.toml"
    sources.write_text('[[source]]\nname = "a"\nfeeds = ["http://a.test/feed.xml"]\n')
    proc = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--db",
                           sqlite_url, "--frontier", f"redis://127.0.0.1:{_free_port()}/0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("newsdedup: error: the frontier redis://127.0.0.1:")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_worker_counts_add_up(sqlite_url: str) -> None:
    from crawler.runs import end_shared_run, one_run, start_run

    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)

    def row(source: str, status: str, new: int, reasons: dict[str, int]) -> dict:
        counts = dict.fromkeys(("fetched", "changed", "unchanged", "failed", "dropped",
                                "not_modified", "not_due"), 1)
        return {"source": source, "status": status, **counts, "new": new,
                "dropped_reasons": reasons, "errors": []}

    with sessions() as session:
        run_id = start_run(session, "crawl", "crawl x")
        add_worker(session, run_id, "h:1", {"newsdedup/stored": 3}, [row("a", "ok", 3, {"short": 1})],
                   "finished")
        add_worker(session, run_id, "h:2", {"newsdedup/stored": 4},
                   [row("a", "idle", 4, {"short": 2, "empty": 1}), row("b", "failed", 0, {})], "finished")
        assert end_shared_run(session, run_id) == "partial"
        data = one_run(session, run_id)
    engine.dispose()
    assert data is not None and data["workers"] == ["h:1", "h:2"]
    by_source = {s["source"]: s for s in data["sources"]}
    assert by_source["a"]["new"] == 7 and by_source["a"]["fetched"] == 2
    assert by_source["a"]["status"] == "ok" and by_source["b"]["status"] == "failed"
    assert by_source["a"]["dropped_reasons"] == {"empty": 1, "short": 3}
    assert merge_statuses("idle", "failed") == "failed" and merge_statuses("idle", "idle") == "idle"


def test_a_request_is_claimed_with_its_queueing_and_in_a_ledger_once_it_leaves_the_queue(
        frontier: str) -> None:
    """Claim + queue and pop + ledger are each one step in Redis: a worker killed between two
    separate calls left a request claimed but never queued, or popped but in no ledger, so no
    worker ever fetched it (seen once in CI: a page missing after a kill -9)."""
    client = connect(frontier)
    keys = Keys(f"newsdedup:test-{uuid.uuid4().hex}")
    queue = HostRoundRobinQueue(server=client, spider=Spider(name="t"), key=keys.requests)
    try:
        first = Request("http://a.test/1", meta={KEY_META: "fp1"})
        assert queue.push(first, claim=(keys.dupefilter, "fp1"))
        assert not queue.push(Request("http://a.test/1", meta={KEY_META: "fp1"}),
                              claim=(keys.dupefilter, "fp1"))
        assert queue.push(Request("http://b.test/2", meta={KEY_META: "fp2"}))  # a retry: no claim
        assert len(queue) == 2 and client.sismember(keys.dupefilter, "fp1")
        ledger = keys.ledger("w1")
        raw = queue.pop_into(ledger)
        assert raw is not None and client.hget(ledger, TAKING) == raw and len(queue) == 1
        assert queue._decode_request(raw).url == "http://a.test/1"  # equal scores: by bytes
    finally:
        client.delete(keys.requests, keys.hosts, keys.dupefilter, keys.ledger("w1"))


def test_crawl_prefix_is_the_crawl_of_its_sources() -> None:
    assert crawl_prefix("a") == crawl_prefix("a") != crawl_prefix("b")
    assert crawl_prefix("a").startswith("newsdedup:")


def test_readme_and_help_name_the_frontier_options() -> None:
    from click.testing import CliRunner

    from crawler.cli import main
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command_list = readme.split("## Command line\n", 1)[1].split("```\n", 2)[1]
    for command in ("crawl", "run", "schedule"):
        out = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
        for option in ("--frontier", "--idle-exit", "NEWSDEDUP_FRONTIER"):
            assert option in out, (command, option)
    assert "[--frontier redis://HOST:PORT/DB [--idle-exit SECONDS]]" in command_list


def test_schedule_passes_the_frontier_to_each_run() -> None:
    from crawler.cli import _crawl_argv

    argv = _crawl_argv(sources_file=Path("s.toml"), feeds=(), sitemaps=(), urls=(), refetch=False,
                       overrides=(), stats_file=None, warc_dir=None, frontier="redis://r:6379/2",
                       idle_exit=3.0)
    assert argv[argv.index("--frontier") + 1] == "redis://r:6379/2"
    assert argv[argv.index("--idle-exit") + 1] == "3.0"


def test_redis_back_with_the_crawls_keys_goes_on_under_a_run_of_its_own(
        tmp_path: Path, corpus: Corpus) -> None:
    """Redis restarted mid-crawl (saved on shutdown, loaded on start): the next crawl with the
    same frontier joined the dead crawl's run record, already `failed`, and ended it `failed`,
    exit status 1, "nothing answered" (the feeds were claimed by the dead crawl), though it stored
    the rest. Now it records a run of its own, `ok`, exit status 0, every page stored once."""
    binary = _redis_server_binary()
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def redis_server() -> subprocess.Popen:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir",
                                 str(tmp_path), "--save", "3600 1", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL)
        assert wait_for(lambda: answers(REDIS_HOST, port), timeout=10)
        return proc

    db_url = f"sqlite:///{tmp_path / 'back.db'}"
    sources = _sources(tmp_path, corpus)
    redis_proc = redis_server()
    try:
        with serve_corpus(corpus, latency=0.02) as server:
            log = tmp_path / "worker.log"
            worker = _start(_argv("crawl", sources, db_url, url, "-s", "CONCURRENT_REQUESTS=2"), server, log)
            assert wait_for(lambda: sum(_article_fetches(server, corpus).values()) >= 30, timeout=120)
            redis.Redis.from_url(url).shutdown(save=True)  # the crawl's keys kept on disk
            redis_proc.wait(timeout=30)
            assert worker.wait(timeout=120) == 1, log.read_text()[-2000:]
            redis_proc = redis_server()
            assert redis.Redis.from_url(url).dbsize() > 0
            again = subprocess.run(_argv("crawl", sources, db_url, url), capture_output=True, text=True,
                                   timeout=300, env=proxy_environment(server.proxy_url, os.environ))
    finally:
        redis_proc.kill()
        redis_proc.wait()
    assert "Traceback" not in again.stderr
    assert again.returncode == 0, again.stderr[-2000:]
    assert _count_articles(db_url) == (len(corpus.pages), len(corpus.pages))
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        statuses = list(session.scalars(select(CrawlRun.status).order_by(CrawlRun.id)))
    engine.dispose()
    assert statuses == ["failed", "ok"]
