"""Alembic environment: runs on the connection handed over by ``crawler.store.migrations``.

No alembic.ini: the configuration is built in code (see ``migrations.make_config``), so the
migrations work from an installed package. Run from the command line with
``newsdedup db upgrade``; new revisions: ``python -m crawler.store.migrations revision "MSG"``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from crawler.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: autogenerate batch operations
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them on a database")
run_migrations_online()
