"""The record that ties a dedup state directory to its database, and the directory's lock.

Both dedup levels keep their state in files, in one directory per database: the passage
level's index in ``passage/`` (``dedup.index.DedupIndex.save``), the document level's archive
at the top (``dedup.archive.Archive``). Which directory: ``--archive DIR``, else
``crawler.config.default_archive_dir`` (``$NEWSDEDUP_ARCHIVE``, else beside a SQLite database
file), resolved by ``StateDir``. ``job.json`` names the database the directory belongs to: a
directory of another database is refused (one line), never overwritten. The state is derived from the articles
table: a missing or emptied directory is rebuilt from it, and so is state an earlier version
built (``dedup.config.Outdated``: one line says so, ``rebuilding``).
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crawler.config import database_name, default_archive_dir
from dedup.blockio import TMP_SUFFIX, write_atomically
from dedup.config import Outdated

#: The directory's record: which database it belongs to (and the document level's last run).
STATE_FILE = "job.json"
#: The lock file beside the directory (one dedup job at a time per directory).
LOCK_SUFFIX = ".lock"
#: The passage level's index, inside the directory.
PASSAGE_DIR = "passage"
#: Names only a state directory holds (the record, the index, the archive's files).
OURS = frozenset({STATE_FILE, STATE_FILE + TMP_SUFFIX, PASSAGE_DIR, "archive.json", "counts",
                  "shingles.u64"})


class DedupStateError(RuntimeError):
    """The stored dedup state cannot be used as it is (another database's, other parameters)."""


def rebuilding(what: str, folder: Path, exc: Outdated) -> str:
    """The one line a job says when it rebuilds state an upgrade left behind (``Outdated``)."""
    return (f"rebuilding the {what} in {folder} from the articles table, as this version "
            f"cannot extend it: {exc.reason}")


class StateDir:
    """One database's state directory: its record (``job.json``) and its lock."""

    def __init__(self, folder: Path | None, db_url: str) -> None:
        """``folder``: ``--archive``, None for the database's default (``default_archive_dir``)."""
        self.folder = Path(folder) if folder is not None else default_archive_dir(db_url)
        self.database = database_name(db_url)

    def record(self) -> dict | None:
        """``job.json``, or None when the directory has none."""
        path = self.folder / STATE_FILE
        return json.loads(path.read_text()) if path.exists() else None

    def check(self) -> dict | None:
        """The record, after refusing a directory that belongs to another database, or one
        that holds something else (what would be deleted on a rebuild)."""
        state = self.record()
        if state is None and self.folder.is_dir():
            names = {p.name for p in self.folder.iterdir()}
            if names and not names & OURS:
                raise DedupStateError(f"{self.folder} is not empty and holds no dedup state: "
                                      "give an empty or new --archive directory")
        if state is not None and state.get("database") != self.database:
            raise DedupStateError(
                f"the dedup state in {self.folder} belongs to {state.get('database')}, not "
                f"{self.database}: give another --archive directory (or delete this one)")
        return state

    def write(self, **fields: object) -> None:
        """Replace the record (atomically) with this database and ``fields``, keeping the
        fields of the record not given."""
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {**(self.record() or {}), **fields, "database": self.database}
        write_atomically(self.folder / STATE_FILE, json.dumps(state, sort_keys=True))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock file (``DIR.lock`` beside it) or fail at once: two jobs
        writing one directory would corrupt it."""
        path = self.folder.with_name(self.folder.name + LOCK_SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DedupStateError(
                    f"another dedup job is using the state directory {self.folder}") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
