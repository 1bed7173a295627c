"""Alembic migrations on SQLite and PostgreSQL: fresh, adopted, idempotent, reversible, in step."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from crawler.cli import main
from crawler.store.db import DatabaseError, make_engine
from crawler.store.migrations import INITIAL_TABLES, head_revision, make_config, script_directory
from crawler.store.models import Base
from crawler.store.views import CURRENT_VIEWS

VIEW_NAMES = {v.name for v in CURRENT_VIEWS}


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return rev


def migrate_to(url: str, target: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(make_config(conn), target)
    engine.dispose()


def test_chain_is_linear_and_numbered() -> None:
    revisions = list(reversed(list(script_directory().walk_revisions())))
    assert [r.revision for r in revisions] == [f"{i:04d}" for i in range(1, len(revisions) + 1)]
    assert revisions[0].down_revision is None
    assert all(r.down_revision == p.revision for p, r in itertools.pairwise(revisions))
    assert head_revision() == revisions[-1].revision


def test_fresh_database_gets_every_migration(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    insp = inspect(engine)
    assert set(insp.get_table_names()) >= INITIAL_TABLES
    assert set(insp.get_view_names()) >= VIEW_NAMES
    assert {"ix_articles_site_published", "ix_articles_fetched_url"} <= {
        ix["name"] for ix in insp.get_indexes("articles")}
    engine.dispose()
    assert revision_of(any_db_url) == head_revision()
    make_engine(any_db_url).dispose()  # a second open changes nothing
    assert revision_of(any_db_url) == head_revision()


def test_models_and_migrations_agree(any_db_url: str) -> None:
    """A model change without its migration fails here: add a revision (docs/migrations.md)."""
    engine = make_engine(any_db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_create_all_database_is_adopted_not_dropped(any_db_url: str) -> None:
    # What `create_all` made before migrations existed: the 0001 schema without alembic_version.
    migrate_to(any_db_url, "0001")
    old = create_engine(any_db_url)
    with old.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO dedup_state (name, params, payload, updated_at) "
                          "VALUES ('lsh', '{}', :payload, '2026-03-01 00:00:00')"), {"payload": b"kept"})
    old.dispose()
    engine = make_engine(any_db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT payload FROM dedup_state")).scalar_one() == b"kept"
    assert set(inspect(engine).get_view_names()) >= VIEW_NAMES
    engine.dispose()
    assert revision_of(any_db_url) == head_revision()


def test_downgrade_to_base_and_back(any_db_url: str) -> None:
    make_engine(any_db_url).dispose()
    engine = create_engine(any_db_url)
    with engine.begin() as conn:
        command.downgrade(make_config(conn), "base")
    assert not (INITIAL_TABLES | VIEW_NAMES) & set(inspect(engine).get_table_names() +
                                                    inspect(engine).get_view_names())
    engine.dispose()
    make_engine(any_db_url).dispose()
    assert revision_of(any_db_url) == head_revision()


def test_partial_or_newer_schema_is_refused_in_one_line(any_db_url: str) -> None:
    engine = create_engine(any_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE articles (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="part of the newsdedup schema") as exc:
        make_engine(any_db_url)
    assert "\n" not in str(exc.value)
    engine = create_engine(any_db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE articles"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
    engine.dispose()
    with pytest.raises(DatabaseError, match=r"revision '9999'.*newer version"):
        make_engine(any_db_url)


def test_concurrent_first_opens_do_not_collide(any_db_url: str) -> None:
    code = "import sys; from crawler.store.db import make_engine; make_engine(sys.argv[1]).dispose()"
    procs = [subprocess.Popen([sys.executable, "-c", code, any_db_url], stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    assert revision_of(any_db_url) == head_revision()


def test_db_commands(any_db_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade", "--db", any_db_url])
    assert result.exit_code == 0 and f"upgraded from an empty database to {head_revision()}" in result.output
    result = runner.invoke(main, ["db", "upgrade", "--db", any_db_url])
    assert f"already at the newest revision {head_revision()}" in result.output
    result = runner.invoke(main, ["db", "current", "--db", any_db_url])
    assert result.output.strip() == f"{head_revision()} (newest)"
    result = runner.invoke(main, ["db", "current", "--db", "sqlite:////nonexistent-dir/x.db"])
    assert result.exit_code == 2 and "no database at /nonexistent-dir/x.db" in result.output
    result = runner.invoke(main, ["db", "upgrade", "--db", "sqlite:////nonexistent-dir/x.db"])
    assert result.exit_code == 2 and "cannot open database" in result.output


def test_migrations_work_from_the_built_package(tmp_path: Path) -> None:
    """setuptools' build copies the migrations and templates (package data); they run from there."""
    repo, lib = Path(__file__).resolve().parents[1], tmp_path / "lib"
    done = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                           "-d", str(lib)], cwd=repo, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for path in ("crawler/store/migrations/env.py", "crawler/store/migrations/script.py.mako",
                 "crawler/store/migrations/versions/0001_initial_schema.py",
                 "crawler/report/templates/report.html.j2", "crawler/report/templates/timeline.svg.j2"):
        assert (lib / path).is_file(), path
    code = ("import sys, crawler.store.migrations as m; from crawler.store.db import make_engine; "
            "from sqlalchemy import inspect; e = make_engine(sys.argv[1]); "
            "print(m.MIGRATIONS_DIR, sorted(inspect(e).get_view_names()))")
    done = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'x.db'}"], cwd=tmp_path,
                          env={"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(str(lib)) and "syndication_lag" in done.stdout
