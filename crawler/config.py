"""Application settings that are not Scrapy knobs: one home for each, with its environment variable."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url

#: Exit status of a command stopped by SIGINT/SIGTERM; its home is the entry point, which needs it
#: before anything heavy is imported.
from crawler.launch import EXIT_INTERRUPTED as EXIT_INTERRUPTED

#: Environment variable holding the database URL (any SQLAlchemy URL).
DB_URL_ENV = "NEWSDEDUP_DB"
#: Environment variable naming the sources file.
SOURCES_ENV = "NEWSDEDUP_SOURCES"
#: Default SQLite file, relative to the working directory.
DEFAULT_DB_PATH = "newsdedup.db"
#: The sources file shipped with the package.
DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")


#: Environment variable choosing the dedup level: "passage" (default) or "document".
LEVEL_ENV = "NEWSDEDUP_LEVEL"
#: The dedup levels: passage (copies, quotes, digests, links; the index in the database) and
#: document (copies only; an on-disk archive for stores too large for memory).
LEVELS = ("passage", "document")
#: Environment variable naming the dedup state directory (both levels; ``crawler.statedir``).
ARCHIVE_ENV = "NEWSDEDUP_ARCHIVE"
#: Where a server database's state directory goes by default: one per database, named by it.
DEFAULT_STATE_HOME = "$XDG_STATE_HOME/newsdedup (~/.local/state/newsdedup)"


def default_level() -> str:
    """The dedup level from ``$NEWSDEDUP_LEVEL``, else passage."""
    return os.environ.get(LEVEL_ENV) or LEVELS[0]


def sqlite_path(url: str | URL) -> Path | None:
    """The file a SQLite database URL names (as written: relative to the working directory);
    None for another database, an in-memory one or a ``file:`` URI (SQLite's own syntax,
    with its own options: the read-only commands open a file so)."""
    url = make_url(url)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def database_name(db_url: str) -> str:
    """The database a state directory belongs to: its URL without password (SQLite: absolute
    path)."""
    url = make_url(db_url)
    path = sqlite_path(url)
    if path is not None:
        url = url.set(database=str(path.resolve()))
    return url.render_as_string(hide_password=True)


def default_archive_dir(db_url: str) -> Path:
    """The dedup state directory of the database ``db_url``: ``$NEWSDEDUP_ARCHIVE``, else
    beside a SQLite database file (``news.db`` -> ``news-archive``), else one per database
    under the user's state directory (``~/.local/state/newsdedup/<database>-<digest>``: the
    same wherever the job runs from, never another database's)."""
    env = os.environ.get(ARCHIVE_ENV)
    if env:
        return Path(env)
    db = sqlite_path(db_url)
    if db is not None:
        return db.with_name(f"{db.stem}-archive")
    url = make_url(db_url)
    home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(database_name(db_url).encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", url.database or url.get_backend_name())
    return home / "newsdedup" / f"{name}-{digest}"


def default_db_url() -> str:
    """The database URL from ``$NEWSDEDUP_DB``, else a SQLite file in the working directory."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{DEFAULT_DB_PATH}"


def default_sources_path() -> Path:
    """The sources file from ``$NEWSDEDUP_SOURCES``, else the shipped default list."""
    env = os.environ.get(SOURCES_ENV)
    return Path(env) if env else DEFAULT_SOURCES

#: The database lock every crawl takes: expires this many seconds after the last heartbeat (a run
#: killed without releasing it is taken over then).
LOCK_TTL_SECONDS = 300.0
#: Taking the lock waits at most this long for SQLite's write lock; a run writing for longer holds
#: the database, and the new run exits as when the lock is held.
LOCK_BUSY_SECONDS = 5.0
#: A running crawl renews its lock this often.
LOCK_HEARTBEAT_SECONDS = 60.0
#: A source that failed this many runs in a row is flagged by `newsdedup sources`.
FAILING_RUNS = 5
#: Exit status of a crawl that reached no source, or could not store some article (the next run
#: fetches it again): the run is recorded ``failed`` or ``partial``.
EXIT_FAILED = 1
#: Exit status of a crawl that found the lock held by another run.
EXIT_LOCKED = 3
