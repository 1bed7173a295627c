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


def default_db_url() -> str:
    """The database URL from ``$NEWSDEDUP_DB``, else a SQLite file in the working directory."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{DEFAULT_DB_PATH}"


def default_sources_path() -> Path:
    """The sources file from ``$NEWSDEDUP_SOURCES``, else the shipped default list."""
    env = os.environ.get(SOURCES_ENV)
    return Path(env) if env else DEFAULT_SOURCES
