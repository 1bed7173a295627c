"""Developer helper: ``python -m crawler.store.migrations revision "add crawl runs"``.

Upgrades a scratch SQLite database to the newest revision, then lets Alembic compare it with the
models and write ``versions/NNNN_<slug>.py`` with the next number. Review the file before committing
(autogenerate misses renames and views; see docs/migrations.md).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from crawler.store.migrations import head_revision, make_config, upgrade


def new_revision(message: str, autogenerate: bool = True) -> None:
    next_id = f"{int(head_revision()) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with engine.begin() as conn:
            upgrade(conn)
            command.revision(make_config(conn), message=message, autogenerate=autogenerate, rev_id=next_id)
        engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "revision" or not re.search(r"\w", argv[1]):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print('usage: python -m crawler.store.migrations revision "MESSAGE" [--empty]', file=sys.stderr)
        return 2
    new_revision(argv[1], autogenerate="--empty" not in argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
