"""The database run lock on SQLite and PostgreSQL: exclusive, renewed, recovered when stale."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from crawler.cli import main
from crawler.config import EXIT_LOCKED
from crawler.lock import (
    CRAWL_LOCK,
    LockHeld,
    default_owner,
    heartbeat,
    held_lock,
    lock_info,
    owner_gone,
    release,
    try_acquire,
)
from crawler.store.db import make_engine

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(any_db_url: str):
    engine = make_engine(any_db_url)
    yield engine
    engine.dispose()


def test_one_owner_at_a_time(engine) -> None:
    assert try_acquire(engine, CRAWL_LOCK, "a:1", ttl=60, now=T0)
    assert not try_acquire(engine, CRAWL_LOCK, "b:2", ttl=60, now=T0 + timedelta(seconds=30))
    assert try_acquire(engine, CRAWL_LOCK, "a:1", ttl=60, now=T0 + timedelta(seconds=30))  # re-entrant
    info = lock_info(engine, CRAWL_LOCK)
    assert info is not None and info.owner == "a:1"
    assert not release(engine, CRAWL_LOCK, "b:2")
    assert release(engine, CRAWL_LOCK, "a:1")
    assert lock_info(engine, CRAWL_LOCK) is None
    assert try_acquire(engine, CRAWL_LOCK, "b:2", ttl=60, now=T0 + timedelta(seconds=31))


def test_stale_lock_is_taken_over_and_the_old_owner_notices(engine) -> None:
    assert try_acquire(engine, CRAWL_LOCK, "dead:1", ttl=60, now=T0)
    assert heartbeat(engine, CRAWL_LOCK, "dead:1", ttl=60, now=T0 + timedelta(seconds=50))
    # renewed at +50 s: still held at +100 s, expired at +111 s
    assert not try_acquire(engine, CRAWL_LOCK, "new:2", ttl=60, now=T0 + timedelta(seconds=100))
    assert try_acquire(engine, CRAWL_LOCK, "new:2", ttl=60, now=T0 + timedelta(seconds=111))
    assert not heartbeat(engine, CRAWL_LOCK, "dead:1", ttl=60, now=T0 + timedelta(seconds=112))
    assert lock_info(engine, CRAWL_LOCK).owner == "new:2"


def test_concurrent_acquirers_exactly_one_wins(engine) -> None:
    barrier = threading.Barrier(8)
    won: list[str] = []

    def contend(owner: str) -> None:
        barrier.wait()
        if try_acquire(engine, CRAWL_LOCK, owner, ttl=60):
            won.append(owner)

    threads = [threading.Thread(target=contend, args=(f"t:{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_held_lock_renews_and_releases(engine) -> None:
    with held_lock(engine, CRAWL_LOCK, "me:1", ttl=60, every=0.05) as beat:
        first = lock_info(engine, CRAWL_LOCK).heartbeat_at
        with pytest.raises(LockHeld, match="me:1"), held_lock(engine, CRAWL_LOCK, "other:2", ttl=60):
            pass
        beat.stopped.wait(0.3)
        assert lock_info(engine, CRAWL_LOCK).heartbeat_at > first
        assert not beat.lost
    assert lock_info(engine, CRAWL_LOCK) is None


def test_crawl_and_run_refuse_while_another_run_holds_the_lock(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    assert try_acquire(engine, CRAWL_LOCK, "elsewhere:42", ttl=600)
    engine.dispose()
    for command in ("crawl", "run"):
        result = CliRunner().invoke(main, [command, "--db", sqlite_url,
                                           "--feed", "http://127.0.0.1:9/feed.xml"])
        assert result.exit_code == EXIT_LOCKED, result.output
        assert "elsewhere:42" in result.output


def test_a_lock_whose_owner_is_gone_from_this_host_is_taken_over_at_once(engine) -> None:
    """Not after the expiry: a killed run's process is known to be gone on its own host. Owners
    that run, and owners on other hosts (not ours to judge), keep it until it expires."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = default_owner().rpartition(":")[0]
    gone = f"{host}:{dead.pid}"
    assert owner_gone(gone) and not owner_gone(default_owner())
    assert not owner_gone(f"elsewhere.example:{dead.pid}") and not owner_gone("no-pid")
    assert try_acquire(engine, CRAWL_LOCK, gone, ttl=3600)
    assert try_acquire(engine, CRAWL_LOCK, default_owner(), ttl=60)
    assert lock_info(engine, CRAWL_LOCK).owner == default_owner()
    assert not try_acquire(engine, CRAWL_LOCK, gone, ttl=60)  # a live owner keeps it
    release(engine, CRAWL_LOCK, default_owner())
    assert try_acquire(engine, CRAWL_LOCK, f"elsewhere.example:{dead.pid}", ttl=3600)
    assert not try_acquire(engine, CRAWL_LOCK, default_owner(), ttl=60)


def test_a_heartbeat_during_the_runs_own_long_write_is_quiet_and_failures_are_one_line(
        sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The demo's first run spends minutes compiling the dedup inside its write transaction; the
    heartbeat's wait for SQLite then printed a multi-line warning with the SQL statement. Busy is
    now an INFO line (the write keeps other runs out anyway); any other failure one WARNING line."""
    import logging
    import sqlite3

    from tests.procs import wait_for

    engine = make_engine(sqlite_url)
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    caplog.set_level(logging.INFO, logger="crawler.lock")

    def heartbeat() -> list[logging.LogRecord]:  # other loggers may be captured too
        return [r for r in caplog.records if r.name == "crawler.lock"]

    with held_lock(engine, CRAWL_LOCK, "a:1", ttl=60, every=0.05):
        writer.execute("BEGIN IMMEDIATE")  # as the run's own dedup transaction
        assert wait_for(heartbeat, timeout=60)
        writer.execute("ROLLBACK")
        busy = heartbeat()
        caplog.clear()
        writer.execute("ALTER TABLE run_locks RENAME TO run_locks_gone")  # a real failure
        assert wait_for(heartbeat, timeout=60)
        writer.execute("ALTER TABLE run_locks_gone RENAME TO run_locks")
        failed = heartbeat()
    writer.close()
    engine.dispose()
    assert {r.levelname for r in busy} == {"INFO"}
    assert {r.levelname for r in failed} == {"WARNING"}
    for record in busy + failed:
        assert "\n" not in record.getMessage() and "[SQL:" not in record.getMessage()
