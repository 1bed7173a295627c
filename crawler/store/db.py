"""Engine and session set-up. Nothing connects at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler.config import sqlite_path
from crawler.store.migrations import (
    MigrationError,
    UpgradeResult,
    current_revision,
    head_revision,
    upgrade,
)


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message is one clear line."""


def one_line(exc: BaseException) -> str:
    """The first line of a driver's error (SQLAlchemy appends the statement and parameters)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: How long a SQLite statement waits for another connection's write lock.
SQLITE_BUSY_MS = 30_000


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _read_only_sqlite(url: URL) -> URL:
    """``url`` as the read-only commands open it. A SQLite file in a directory nothing can write
    (a read-only mount, a backup) cannot be read the ordinary way: WAL mode needs a -shm file
    beside the database, which SQLite cannot create there. Such a file is opened immutable
    (nothing can change it while it is read); one left with an unfinished write-ahead log (a
    -wal file and no -shm) cannot be read correctly so, and is one clear error instead."""
    path = sqlite_path(url)
    if path is None:
        return url
    path = path.resolve()
    shm, wal = Path(f"{path}-shm"), Path(f"{path}-wal")
    if not path.is_file() or os.access(path.parent, os.W_OK) or shm.exists():
        return url
    if wal.exists() and wal.stat().st_size:
        raise DatabaseError(f"cannot read {path} in place: its directory is read-only and it holds "
                            f"unfinished writes ({wal.name} without {shm.name}); copy the three files "
                            "to a writable directory and read the copy")
    return url.set(database=f"file:{quote(str(path))}",
                   query={"mode": "ro", "immutable": "1", "uri": "true"})


#: How a SQLite URL is written, for the errors of a URL that is not one.
SQLITE_FORMS = "a SQLite file is sqlite:///relative/path.db or sqlite:////absolute/path.db"


def parse_url(url: str) -> URL:
    """``url`` parsed, or a one-line ``DatabaseError`` that names the usual mistakes: a bare file
    name, ``sqlite://name.db`` (a host, not a file: SQLite would silently use memory) and
    ``postgres://`` (not a SQLAlchemy dialect)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        hint = f"; {SQLITE_FORMS}" if "://" not in url else ""
        raise DatabaseError(f"invalid database URL {url!r}: {one_line(exc)}{hint}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.host:
        raise DatabaseError(f"invalid database URL {url!r}: {parsed.host!r} is read as a host name, "
                            f"not a file; {SQLITE_FORMS}")
    if parsed.get_backend_name() == "postgres":
        raise DatabaseError(f"invalid database URL {url!r}: PostgreSQL's URLs start with "
                            "postgresql+psycopg://, e.g. postgresql+psycopg://USER@HOST/DB")
    return parsed


def _unwritable(engine: Engine) -> str | None:
    """For a SQLite file that cannot be opened: its directory is missing, or the file or its
    directory is read-only (SQLite itself says only "unable to open database file")."""
    path = sqlite_path(engine.url)
    if path is None:
        return None
    path = path.resolve()
    if not path.parent.is_dir():
        return f"there is no directory {path.parent}"
    for target, what in ((path, "file"), (path.parent, "directory")):
        if target.exists() and not os.access(target, os.W_OK):
            return (f"the database {what} {target} is read-only (newsdedup writes the file and "
                    "its -wal and -shm files beside it)")
    return None


@contextmanager
def _one_line_errors(engine: Engine) -> Iterator[None]:
    """Turn driver, SQLAlchemy and migration failures into one-line ``DatabaseError``s."""
    try:
        yield
    except OperationalError as exc:
        engine.dispose()
        reason = _unwritable(engine) or "; ".join(  # one line: psycopg adds a hint line
            line.strip() for line in str(exc.orig).splitlines() if line.strip())
        raise DatabaseError(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot use database: {one_line(exc)}") from exc
    except MigrationError as exc:
        engine.dispose()
        raise DatabaseError(str(exc)) from exc


def make_engine(url: str, migrate: bool = True, read_only: bool = False) -> Engine:
    """An engine for any SQLAlchemy URL, checked by connecting once.

    With ``migrate`` the schema is brought to the newest migration (see ``migrate_schema``);
    ``read_only`` (the commands that only read) also reads a SQLite file in a read-only directory.
    """
    parsed = parse_url(url)
    target = _read_only_sqlite(parsed) if read_only and not migrate else parsed
    try:
        engine = create_engine(target, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseError(f"invalid database URL {url!r}: {one_line(exc)}") from exc
    if engine.dialect.name == "sqlite" and target is parsed:
        event.listen(engine, "connect", _sqlite_pragmas)
    with _one_line_errors(engine):
        if migrate:
            migrate_schema(engine)
        else:
            with engine.connect():
                pass
    return engine


def migrate_schema(engine: Engine) -> UpgradeResult:
    """Apply pending migrations in one transaction; an unversioned old database is adopted."""
    with _one_line_errors(engine), engine.begin() as conn:
        return upgrade(conn)


def schema_revision(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision or None, the newest revision this code knows)."""
    with _one_line_errors(engine), engine.connect() as conn:
        return current_revision(conn), head_revision()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
