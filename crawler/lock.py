"""A lock held in the database so two crawl runs never overlap, on one machine or several.

One row per lock name in ``run_locks``: owner, heartbeat, expiry. Taking it is one conditional
statement (an INSERT of the row, else an UPDATE that only matches a free or expired row), so it is
atomic on SQLite and PostgreSQL alike. The holder renews the expiry from a heartbeat thread; a
holder that died is replaced once its expiry has passed (stale-lock recovery), at once when it
was a process of this host that no longer runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from crawler.config import LOCK_BUSY_SECONDS
from crawler.store.db import SQLITE_BUSY_MS, one_line
from crawler.store.models import RunLock

logger = logging.getLogger(__name__)

#: The lock crawl, run and every scheduled run take.
CRAWL_LOCK = "crawl"


@dataclass(frozen=True)
class LockInfo:
    owner: str
    acquired_at: datetime | None
    heartbeat_at: datetime | None
    expires_at: datetime | None


class LockHeld(RuntimeError):
    """Another live owner holds the lock."""

    def __init__(self, name: str, info: LockInfo | None, who: str = "another process") -> None:
        self.info = info
        if info and info.acquired_at and info.expires_at:
            who = (f"{info.owner} since {info.acquired_at:%Y-%m-%d %H:%M:%S}Z, expires "
                   f"{info.expires_at:%H:%M:%S}Z unless renewed")
        super().__init__(f"another run holds the '{name}' lock: {who}")


def default_owner() -> str:
    """``host:pid``: who holds a lock, readable in ``run_locks`` and error messages."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def owner_gone(owner: str | None, host: str | None = None) -> bool:
    """Whether ``owner`` (``host:pid``) is a process of this host that no longer runs (a zombie
    counts as gone). Owners on other hosts are never judged: their lock expires instead."""
    name, sep, pid = (owner or "").rpartition(":")
    if not sep or name != (host or socket.gethostname()) or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


@contextmanager
def _writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that waits at most LOCK_BUSY_SECONDS for SQLite's write lock (another run
    writing for longer means it is running: the caller reports the lock as held)."""
    with engine.begin() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(LOCK_BUSY_SECONDS * 1000)}")
        try:
            yield conn
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


def _sqlite_busy(exc: OperationalError) -> bool:
    """SQLite's write lock is held by another connection (for longer than we waited)."""
    return getattr(exc.orig, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_LOCKED")


def try_acquire(engine: Engine, name: str, owner: str, ttl: float,
                now: datetime | None = None) -> bool:
    """Take the lock if it is free, expired, already ours or held by a process of this host
    that is gone. True when we hold it now."""
    now = _now(now)
    values = {"owner": owner, "acquired_at": now, "heartbeat_at": now,
              "expires_at": now + timedelta(seconds=ttl)}
    try:
        with _writing(engine) as conn:
            conn.execute(insert(RunLock).values(name=name, **values))
        return True
    except IntegrityError:
        pass  # the row exists: take it only if nobody live holds it
    holder = lock_info(engine, name)
    free = [RunLock.owner.is_(None), RunLock.owner == owner, RunLock.expires_at < now]
    if holder is not None and owner_gone(holder.owner):
        free.append(RunLock.owner == holder.owner)
    with _writing(engine) as conn:
        result = conn.execute(
            update(RunLock).where(RunLock.name == name).where(or_(*free)).values(**values)
        )
        return result.rowcount == 1


def heartbeat(engine: Engine, name: str, owner: str, ttl: float, now: datetime | None = None) -> bool:
    """Renew our lock's expiry. False when we no longer hold it (it expired and was taken)."""
    now = _now(now)
    with _writing(engine) as conn:
        result = conn.execute(
            update(RunLock).where(RunLock.name == name, RunLock.owner == owner)
            .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl))
        )
        return result.rowcount == 1


def release(engine: Engine, name: str, owner: str) -> bool:
    """Free the lock if we hold it."""
    with engine.begin() as conn:
        result = conn.execute(
            update(RunLock).where(RunLock.name == name, RunLock.owner == owner)
            .values(owner=None, expires_at=None)
        )
        return result.rowcount == 1


def lock_info(engine: Engine, name: str) -> LockInfo | None:
    """Who holds the lock, or None when it is free."""
    with engine.connect() as conn:
        row = conn.execute(select(RunLock).where(RunLock.name == name)).first()
    if row is None or row.owner is None:
        return None
    return LockInfo(row.owner, row.acquired_at, row.heartbeat_at, row.expires_at)


class _Heartbeat(threading.Thread):
    def __init__(self, engine: Engine, name: str, owner: str, ttl: float, every: float) -> None:
        super().__init__(name=f"lock-heartbeat-{name}", daemon=True)
        self.engine, self.lock_name, self.owner, self.ttl, self.every = engine, name, owner, ttl, every
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                if not heartbeat(self.engine, self.lock_name, self.owner, self.ttl):
                    self.lost = True
                    logger.error("lock %r was lost (expired and taken by another run)", self.lock_name)
                    return
            except Exception as exc:  # a database hiccup: try again next beat
                # SQLite busy: this run's own long write (a dedup), which keeps others out anyway
                busy = isinstance(exc, OperationalError) and _sqlite_busy(exc)
                (logger.info if busy else logger.warning)("lock heartbeat failed: %s", one_line(exc))


@contextmanager
def held_lock(engine: Engine, name: str = CRAWL_LOCK, owner: str | None = None,
              ttl: float = 300.0, every: float = 60.0,
              keep: Callable[[], bool] | None = None) -> Iterator[_Heartbeat]:
    """Hold the lock for the block, renewing it in a background thread; raises LockHeld. An
    owner shared by several processes (the workers of one crawl) all take and renew it; the
    block's ``keep()`` true at its end leaves it held for the others."""
    owner = owner or default_owner()
    try:
        acquired = try_acquire(engine, name, owner, ttl)
    except OperationalError as exc:
        if not _sqlite_busy(exc):
            raise
        raise LockHeld(name, None, f"the database stayed busy for {LOCK_BUSY_SECONDS:.0f} s "
                       "(another run is writing to it)") from None
    if not acquired:
        raise LockHeld(name, lock_info(engine, name))
    beat = _Heartbeat(engine, name, owner, ttl, every)
    beat.start()
    try:
        yield beat
    finally:
        beat.stopped.set()
        beat.join(timeout=5)
        try:
            if keep is None or not keep():
                release(engine, name, owner)
        except SQLAlchemyError as exc:
            # the database is unreachable: the next run takes the lock over (its owner is gone)
            logger.warning("lock %r not released: %s", name, one_line(exc))
