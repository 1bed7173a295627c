"""Application settings that are not Scrapy knobs: one home for each, with its environment variable."""

from __future__ import annotations

import os
from pathlib import Path

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
#: Environment variable naming the document level's archive directory.
ARCHIVE_ENV = "NEWSDEDUP_ARCHIVE"
#: Default archive directory, relative to the working directory.
DEFAULT_ARCHIVE_DIR = "newsdedup-archive"


def default_level() -> str:
    """The dedup level from ``$NEWSDEDUP_LEVEL``, else passage."""
    return os.environ.get(LEVEL_ENV) or LEVELS[0]


def default_archive_dir() -> Path:
    """The archive directory from ``$NEWSDEDUP_ARCHIVE``, else one in the working directory."""
    return Path(os.environ.get(ARCHIVE_ENV) or DEFAULT_ARCHIVE_DIR)


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
#: Exit status of a crawl stopped by SIGINT/SIGTERM (what it stored is committed).
EXIT_INTERRUPTED = 130
