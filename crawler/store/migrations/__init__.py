"""Schema migrations (Alembic), configured in code so they run from an installed package.

``upgrade(connection)`` brings any database to the newest revision: a new database gets every
migration, a database created before migrations existed (by ``create_all``) is adopted by stamping
it at the initial revision, and nothing is ever dropped. Revisions are numbered ``0001``, ``0002``…
in ``versions/``; see docs/migrations.md for adding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

MIGRATIONS_DIR = Path(__file__).resolve().parent
INITIAL_REVISION = "0001"
#: Tables of the initial revision: an unversioned database holding all of them is adopted.
INITIAL_TABLES = frozenset(
    {"articles", "seen_urls", "dedup_runs", "stories", "story_members", "passage_links", "dedup_state"}
)
#: Key of the PostgreSQL advisory lock that serialises concurrent upgrades.
PG_LOCK_KEY = 0x6E657773  # "news"


class MigrationError(RuntimeError):
    """The database schema cannot be brought to this version; the message is one clear line."""


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None  # revision before the upgrade (None: empty or unversioned database)
    after: str
    adopted: bool  # an unversioned database of the initial schema was stamped, not recreated

    @property
    def changed(self) -> bool:
        return self.before != self.after


def make_config(connection: Connection | None = None) -> Config:
    """An Alembic config without alembic.ini; ``connection`` is the one migrations run on."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(make_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise MigrationError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, None when it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def _check_known(revision: str | None, scripts: ScriptDirectory) -> None:
    if revision is None:
        return
    known = {rev.revision for rev in scripts.walk_revisions()}
    if revision not in known:
        raise MigrationError(
            f"the database schema is at revision {revision!r}, which this version of newsdedup does "
            "not know (was it written by a newer version?)"
        )


def _lock(connection: Connection) -> None:
    """Serialise concurrent upgrades of one database (held until the transaction ends)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _needs_adoption(connection: Connection) -> bool:
    """True for an unversioned database made by ``create_all`` from the initial models."""
    tables = set(inspect(connection).get_table_names())
    ours = tables & INITIAL_TABLES
    if not ours:
        return False
    if ours != INITIAL_TABLES:
        missing = ", ".join(sorted(INITIAL_TABLES - ours))
        raise MigrationError(f"the database holds part of the newsdedup schema (missing: {missing}); "
                             "refusing to change it")
    return True


def upgrade(connection: Connection, target: str = "head") -> UpgradeResult:
    """Migrate the database on ``connection`` (in a transaction the caller commits) to ``target``."""
    scripts = script_directory()
    if target == "head":  # the common case, without taking the lock: already up to date
        head = scripts.get_current_head()
        if head is not None and current_revision(connection) == head:
            return UpgradeResult(head, head, False)
    _lock(connection)
    before = current_revision(connection)
    _check_known(before, scripts)
    cfg = make_config(connection)
    adopted = False
    if before is None and _needs_adoption(connection):
        command.stamp(cfg, INITIAL_REVISION)
        adopted = True
    command.upgrade(cfg, target)
    after = current_revision(connection) or ""
    return UpgradeResult(before, after, adopted)
