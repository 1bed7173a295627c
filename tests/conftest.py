"""Shared fixtures: data locations, databases (SQLite always, PostgreSQL when it answers)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_HOST, PG_PORT = "127.0.0.1", 5432


@pytest.fixture(autouse=True, scope="session")
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Dedup state directories of server databases (``~/.local/state/newsdedup/...`` by
    default) go to a temporary directory, for this process and the ones it starts."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        yield


def require_services() -> bool:
    return os.environ.get("NEWSDEDUP_REQUIRE_SERVICES") == "1"


def shared_dataset(name: str) -> Path:
    """A dataset under ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data not beside the checkout)")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


def answers(host: str, port: int) -> bool:
    """Whether a server accepts connections on ``host:port`` (a service tests need)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema on 127.0.0.1:5432/test, dropped afterwards."""
    if not answers(PG_HOST, PG_PORT):
        if require_services():
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required (NEWSDEDUP_REQUIRE_SERVICES=1)")
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")
