"""The fault suite: what an operator does to a running crawler (PostgreSQL stopped mid-crawl, a full
disk, kill -9, two runs at once, hostile feeds) never loses an article, never reads a local file,
and always ends with the exit status and run status the README's "Leaving it running" states.

Every case runs the real ``newsdedup`` command against a real site on 127.0.0.1; the PostgreSQL
outage uses a cluster of our own (``tests/pgcluster.py``), never the shared one.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from crawler.lock import CRAWL_LOCK, default_owner, held_lock, lock_info, owner_gone
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, CrawlRun, SeenUrl
from tests import pgcluster
from tests.conftest import require_services
from tests.hostilesite import HostileServer, hostile_site, sources_toml
from tests.mounts import read_only, tmpfs
from tests.procs import alive, descendants, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: Loopback politeness; one worker-free process unless a case needs the workers.
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "RETRY_TIMES=0",
        "-s", "NEWSDEDUP_EXTRACT_WORKERS=0", "-s", "LOG_LEVEL=WARNING"]


def newsdedup(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, "NO_PROXY": "*"})


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crawler", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "NO_PROXY": "*"})


def crawl_args(db_url: str, sources: Path, *extra: str) -> list[str]:
    return ["crawl", "--db", db_url, "--sources", str(sources), *FAST, *extra]


def stored(db_url: str) -> tuple[Counter, list[str]]:
    """(how many rows per fetched article path, every stored text) of the database."""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.execute(select(Article.fetched_url, Article.text)).all()
    finally:
        engine.dispose()
    paths = Counter("/" + url.split("/", 3)[3] if url.startswith("http") else url for url, _ in rows)
    return paths, [text for _, text in rows]


def last_run(db_url: str) -> CrawlRun:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).one()
    finally:
        engine.dispose()


def assert_once_each(db_url: str, server: HostileServer) -> None:
    """Every article of the site stored exactly once, nothing else (no local file)."""
    paths, texts = stored(db_url)
    expected = set(server.article_paths())
    assert {p for p in paths if p.startswith("/a/")} >= expected - {"/a/long.html"}
    assert all(count == 1 for count in paths.values()), paths
    assert len(paths) == len(expected), sorted(paths)
    assert not [t for t in texts if server.canaries.marker in t]


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]


# -- hostile URLs -------------------------------------------------------------------------------
def test_local_files_linked_from_remote_content_are_never_read(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    with hostile_site(tmp_path, articles=4) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server, feeds=("/feed.xml", "/feed.json"),
                                        sitemaps=("/sitemap-index.xml",), pages=("/index.html",)))
        for canary in server.canaries.files.values():
            os.utime(canary, (0, 0))  # an atime that a read would move
        proc = newsdedup(*crawl_args(db_url, sources, "--stats", str(tmp_path / "stats.json")))
        accessed = [p for p in server.canaries.files.values() if p.stat().st_atime > 0]
    no_traceback(proc)
    stats = json.loads((tmp_path / "stats.json").read_text())
    counters = stats["stats"]
    # the feed link, the JSON Feed url, the sitemap <loc>, the index's child, the page's feed link
    assert counters["newsdedup/refused_scheme"] == 5
    assert counters["newsdedup/invalid_url"] == 2  # counted, not requested; the links after kept
    assert "newsdedup/spider_errors" not in counters
    assert_once_each(db_url, server)
    assert not accessed
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        urls = list(session.scalars(select(SeenUrl.url))) + list(session.scalars(select(Article.url)))
    engine.dispose()
    assert urls and not [u for u in urls if not u.startswith("http://127.0.0.1:")]
    _, texts = stored(db_url)
    assert not [t for t in texts if server.canaries.marker in t]
    failures = "\n".join(stats["failures"]["hostile"])
    assert "/redirect-file.html: HTTP 302" in failures  # a redirect to file:// is not followed
    assert "max redirections" in failures  # a redirect loop is a failed page, retried next run
    assert proc.returncode == 0 and last_run(db_url).status == "ok"


def test_a_bad_row_costs_nothing_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """A NUL in the author and headline and a canonical URL over 2,048 characters: the rows are
    cleaned and stored with the rest of their batch; the next run fetches nothing again."""
    with hostile_site(tmp_path, articles=8) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))
        first = newsdedup(*crawl_args(pg_url, sources, "-s", "NEWSDEDUP_STORE_BATCH=50"))
        no_traceback(first)
        assert first.returncode == 0, first.stderr[-2000:]
        assert_once_each(pg_url, server)
        hits = len([p for p in server.hits if p.startswith("/a/")])
        second = newsdedup(*crawl_args(pg_url, sources))
        assert second.returncode == 0
        assert len([p for p in server.hits if p.startswith("/a/")]) == hits  # nothing refetched
    engine = make_engine(pg_url)
    with make_sessionmaker(engine)() as session:
        rows = {r.fetched_url.rsplit("/", 1)[1]: r for r in session.scalars(select(Article))}
    engine.dispose()
    assert rows["nul.html"].author == "Ann Smith"
    long_key = [r.url for r in rows.values() if "long-" in r.url]
    assert len(long_key) == 1 and len(long_key[0]) == 2048
    assert last_run(pg_url).status == "ok"


# -- store failures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    reason = pgcluster.can_run()
    if reason:
        if require_services():
            pytest.fail(f"an own PostgreSQL cluster is required: {reason}")
        pytest.skip(reason)
    pytest.importorskip("psycopg")
    with pgcluster.own_cluster() as pg:
        yield pg


@pytest.fixture
def own_pg(cluster):
    """The own cluster with an empty database."""
    cluster.reset()
    return cluster


def test_postgresql_stopped_mid_crawl_loses_nothing(tmp_path: Path, own_pg) -> None:
    """The server stops while articles are being stored and comes back before the crawl ends:
    the run says so (partial, exit 1) and the next ordinary run stores what was missed, once."""
    with hostile_site(tmp_path, articles=24) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))

        server.act_at({5: own_pg.stop, 20: own_pg.start})
        first = newsdedup(*crawl_args(own_pg.url, sources, "-s", "NEWSDEDUP_STORE_BATCH=2",
                                      "-s", "CONCURRENT_REQUESTS=1"))
        server.act_at(None)
        assert own_pg.running(), "\n".join(server.hits) + first.stderr[-6000:]
        no_traceback(first)
        assert first.returncode == 1, first.stderr[-2000:]
        assert "could not be stored; the next run fetches them again" in first.stderr
        run = last_run(own_pg.url)
        assert run.status == "partial" and json.loads(run.stats)["newsdedup/store_failed"] > 0
        paths, _ = stored(own_pg.url)
        assert len(paths) < len(server.article_paths())
        second = newsdedup(*crawl_args(own_pg.url, sources))
        no_traceback(second)
        assert second.returncode == 0, second.stderr[-2000:]
        assert last_run(own_pg.url).status == "ok"
        assert_once_each(own_pg.url, server)


def test_postgresql_gone_until_the_crawl_ends_is_one_error_line(tmp_path: Path, own_pg) -> None:
    """The server stops mid-crawl and is still down when the run ends: one error line, exit 1;
    once it is back, the next run takes the dead run's lock at once, marks it abandoned and
    stores every article once."""
    with hostile_site(tmp_path, articles=12) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))

        server.act_at({5: own_pg.stop})
        first = newsdedup(*crawl_args(own_pg.url, sources, "-s", "CONCURRENT_REQUESTS=1"))
        server.act_at(None)
        own_pg.start()
        no_traceback(first)
        assert first.returncode == 1
        assert "newsdedup: error: the database failed during the run" in first.stderr
        second = newsdedup(*crawl_args(own_pg.url, sources))
        no_traceback(second)
        assert second.returncode == 0, second.stderr[-2000:]
        assert_once_each(own_pg.url, server)
    engine = make_engine(own_pg.url)
    with make_sessionmaker(engine)() as session:
        statuses = list(session.scalars(select(CrawlRun.status).order_by(CrawlRun.id)))
    engine.dispose()
    assert statuses[-2:] == ["abandoned", "ok"]


def test_a_full_disk_loses_nothing(tmp_path: Path) -> None:
    """SQLite on a 4 MB tmpfs that fills up mid-crawl and has room again before the crawl ends
    (the fetch state is saved): the next run stores every article once."""
    with tmpfs(tmp_path / "disk", "4m") as disk:
        db_url = f"sqlite:///{disk / 'full.db'}"
        with hostile_site(tmp_path, articles=60) as server:
            sources = tmp_path / "sources.toml"
            sources.write_text(sources_toml(server))
            newsdedup("db", "upgrade", "--db", db_url)
            ballast = disk / "ballast"
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            ballast.write_bytes(b"\0" * (free - 300_000))  # room for a few articles only

            server.act_at({50: ballast.unlink})  # room again before the crawl ends
            first = newsdedup(*crawl_args(db_url, sources, "-s", "NEWSDEDUP_STORE_BATCH=5",
                                          "-s", "CONCURRENT_REQUESTS=1"))
            server.act_at(None)
            no_traceback(first)
            assert first.returncode == 1, first.stderr[-2000:]
            paths, _ = stored(db_url)
            assert len(paths) < len(server.article_paths())
            assert last_run(db_url).status == "partial"
            second = newsdedup(*crawl_args(db_url, sources))
            no_traceback(second)
            assert second.returncode == 0, second.stderr[-2000:]
            assert_once_each(db_url, server)


def test_a_full_disk_under_the_dedup_state_is_one_line(tmp_path: Path) -> None:
    """The dedup state directory on a disk that is full (the database elsewhere): `dedup` and
    `run` printed an OSError traceback; now one line and exit status 1, the run recorded
    `failed`, and once there is room the next dedup takes every article."""
    db_url = f"sqlite:///{tmp_path / 'news.db'}"
    with tmpfs(tmp_path / "disk", "2m") as disk, hostile_site(tmp_path, articles=8) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))
        assert newsdedup(*crawl_args(db_url, sources)).returncode == 0
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize))
        archive = ["--archive", str(disk / "state")]
        for args in (["dedup", "--db", db_url, *archive],
                     ["dedup", "--db", db_url, "--level", "document", *archive],
                     ["run", "--no-report", *crawl_args(db_url, sources)[1:], *archive]):
            proc = newsdedup(*args)
            no_traceback(proc)
            assert proc.returncode == 1, (args, proc.stderr[-2000:])
            line = "newsdedup: error: a file could not be written during the run (No space left"
            assert proc.stderr.count("newsdedup: error:") == 1 and line in proc.stderr, proc.stderr
        run = last_run(db_url)
        assert run.status == "failed" and "No space left" in (run.error or "")
        ballast.unlink()
        after = newsdedup("dedup", "--db", db_url, *archive)
        assert after.returncode == 0, after.stderr[-2000:]
        assert "10 articles (10 new)" in after.stderr


# -- locks ------------------------------------------------------------------------------------
def test_a_second_run_while_sqlite_is_busy_exits_3(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'busy.db'}"
    assert newsdedup("db", "upgrade", "--db", db_url).returncode == 0
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a first run writing a long batch does
    try:
        started = time.monotonic()
        proc = newsdedup("crawl", "--db", db_url, "--feed", "http://127.0.0.1:9/feed.xml", *FAST)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    no_traceback(proc)
    assert proc.returncode == 3, proc.stderr
    assert "busy" in proc.stderr and waited < 25


def test_kill_9_leaves_no_workers_and_no_lock(tmp_path: Path) -> None:
    """The killed crawl's extraction workers exit with it; the next run takes its lock at once
    (its owner is gone from this host), marks it abandoned and stores every article once."""
    db_url = f"sqlite:///{tmp_path / 'k.db'}"
    with hostile_site(tmp_path, articles=30, delay=0.2) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))
        args = crawl_args(db_url, sources, "-s", "NEWSDEDUP_EXTRACT_WORKERS=1",
                          "-s", "NEWSDEDUP_STORE_BATCH=2", "-s", "CONCURRENT_REQUESTS=2")
        proc = start(*args)
        assert wait_for(lambda: len([p for p in server.hits if p.startswith("/a/")]) >= 8,
                                  timeout=120)
        workers = descendants(proc.pid)
        assert workers, "the crawl started no worker processes"
        proc.kill()
        proc.wait()
        assert wait_for(lambda: not [p for p in workers if alive(p)], timeout=10), \
            "extraction workers outlived the killed crawl"
        engine = make_engine(db_url)
        info = lock_info(engine, CRAWL_LOCK)
        engine.dispose()
        assert info is not None and owner_gone(info.owner)
        started = time.monotonic()
        second = newsdedup(*crawl_args(db_url, sources))
        assert time.monotonic() - started < 60
        no_traceback(second)
        assert second.returncode == 0, second.stderr[-2000:]
        assert_once_each(db_url, server)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        statuses = list(session.scalars(select(CrawlRun.status).order_by(CrawlRun.id)))
    engine.dispose()
    assert statuses == ["abandoned", "ok"]


def test_a_live_holder_on_this_host_keeps_the_lock(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with held_lock(engine, CRAWL_LOCK, owner=default_owner()):
        proc = newsdedup("dedup", "--db", sqlite_url)
    engine.dispose()
    no_traceback(proc)
    assert proc.returncode == 3 and "holds the 'crawl' lock" in proc.stderr


# -- crash-safe dedup state ---------------------------------------------------------------------
_CRASH_IN_SAVE = """
import os, signal, sys
import numpy as np
real_save, calls = np.save, [0]
def crashing_save(file, arr, *args, **kwargs):
    calls[0] += 1
    if calls[0] == 4:  # half of the fourth array written, then the process dies
        import io
        buf = io.BytesIO(); real_save(buf, arr, *args, **kwargs)
        data = buf.getvalue()[: max(1, len(buf.getvalue()) // 2)]
        if hasattr(file, "write"):
            file.write(data); file.flush()
        else:
            open(file, "wb").write(data)
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(file, arr, *args, **kwargs)
np.save = crashing_save
from crawler.cli import main
main(sys.argv[1:])
"""


def _stories(db_url: str) -> set[frozenset[str]]:
    from crawler.store.models import StoryMember

    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        rows = session.execute(select(StoryMember.story_id, Article.url).join(Article)).all()
    engine.dispose()
    groups: dict[int, set[str]] = {}
    for story, url in rows:
        groups.setdefault(story, set()).add(url)
    return {frozenset(g) for g in groups.values()}


def test_a_dedup_killed_while_saving_the_archive_leaves_it_usable(tmp_path: Path) -> None:
    """An incremental document-level dedup killed half-way through writing the archive's arrays:
    the next dedup runs without --rebuild and finds the stories a rebuild finds."""
    db_url = f"sqlite:///{tmp_path / 'd.db'}"
    archive = tmp_path / "archive"
    dedup = ["dedup", "--db", db_url, "--level", "document", "--archive", str(archive)]
    for batch in ("one", "two"):  # two sites: the second crawl brings new articles
        with hostile_site(tmp_path / batch, articles=6) as server:
            sources = tmp_path / f"{batch}.toml"
            sources.write_text(sources_toml(server))
            assert newsdedup(*crawl_args(db_url, sources)).returncode == 0
        if batch == "one":
            assert newsdedup(*dedup).returncode == 0
    crash = subprocess.run([sys.executable, "-c", _CRASH_IN_SAVE, *dedup],
                           capture_output=True, text=True, cwd=REPO, timeout=240)
    assert crash.returncode == -signal.SIGKILL, crash.stderr[-2000:]
    after = newsdedup(*dedup)
    no_traceback(after)
    assert after.returncode == 0, after.stderr[-2000:]
    assert "(incremental): 16 articles (8 new)" in after.stderr  # the summary line is on stderr
    for path in archive.glob("*.npy"):
        np.load(path)  # every array file left is whole
    recovered = _stories(db_url)
    assert newsdedup("dedup", "--db", db_url, "--level", "document", "--archive",
                     str(tmp_path / "rebuilt"), "--rebuild").returncode == 0
    assert _stories(db_url) == recovered


# -- faults of the network or the server ---------------------------------------------------------
def test_pages_cut_short_make_the_run_partial_and_the_next_run_stores_them(tmp_path: Path) -> None:
    """Two article pages whose connection drops half-way through the body: before, the run was
    `ok` with exit status 0 though two articles were missing; now it is `partial`, exit status
    1, and says so; the next run fetches both and stores every article once."""
    db_url = f"sqlite:///{tmp_path / 'cut.db'}"
    with hostile_site(tmp_path, articles=6) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))
        server.cut = {"/a/2.html", "/a/4.html"}
        first = newsdedup(*crawl_args(db_url, sources))
        no_traceback(first)
        assert first.returncode == 1, first.stderr[-2000:]
        assert "2 request(s) failed by a fault of the network or the server" in first.stderr
        run = last_run(db_url)
        assert run.status == "partial" and json.loads(run.stats)["newsdedup/faults"] == 2
        paths, _ = stored(db_url)
        assert not {"/a/2.html", "/a/4.html"} & set(paths)
        server.cut = set()
        second = newsdedup(*crawl_args(db_url, sources))
        no_traceback(second)
        assert second.returncode == 0, second.stderr[-2000:]
        assert last_run(db_url).status == "ok"
        assert_once_each(db_url, server)


# -- smaller cases -------------------------------------------------------------------------------
def test_crawl_exits_1_when_every_source_failed(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'f.db'}"
    proc = newsdedup("crawl", "--db", db_url, "--feed", "http://127.0.0.1:9/feed.xml", *FAST)
    no_traceback(proc)
    assert proc.returncode == 1 and "no source answered" in proc.stderr
    assert last_run(db_url).status == "failed"


def test_a_read_only_database_says_so(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "2m") as disk:
        db_url = f"sqlite:///{disk / 'ro.db'}"
        assert newsdedup("db", "upgrade", "--db", db_url).returncode == 0
        read_only(disk)
        proc = newsdedup("crawl", "--db", db_url, "--feed", "http://127.0.0.1:9/feed.xml", *FAST)
    no_traceback(proc)
    assert proc.returncode == 2
    assert "read-only" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_two_dedups_on_postgresql_never_collide(pg_url: str, tmp_path: Path) -> None:
    with hostile_site(tmp_path, articles=6) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(sources_toml(server))
        assert newsdedup(*crawl_args(pg_url, sources)).returncode == 0
    procs = [start("dedup", "--db", pg_url) for _ in range(2)]
    results = [(p.communicate(timeout=240)[1], p.returncode) for p in procs]
    for err, _ in results:
        assert "Traceback" not in err, err[-2000:]
    assert sorted(code for _, code in results) in ([0, 0], [0, 3])
