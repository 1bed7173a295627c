"""docs/sql.md: every example query runs on SQLite and PostgreSQL; the views give the right numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from crawler.store.db import make_engine, make_sessionmaker
from tests.report_fixtures import seed_sample

DOC = Path(__file__).resolve().parents[1] / "docs" / "sql.md"
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


@pytest.fixture
def conn(any_db_url: str) -> Iterator[Connection]:
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as session:
        seed_sample(session)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def rows(conn: Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(text(sql))]


def test_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example{i + 1}" for i in range(len(EXAMPLES))])
def test_doc_example_runs_and_answers(conn: Connection, sql: str) -> None:
    result = rows(conn, sql.strip().rstrip(";"))
    assert result, "every example returns rows on the documented sample store"


def test_story_overview(conn: Connection) -> None:
    (fab,) = rows(conn, "SELECT * FROM story_overview WHERE canonical_url = 'https://wire.example/fab'")
    assert (fab["member_count"], fab["site_count"], fab["quoted_by"]) == (3, 3, 1)
    assert fab["canonical_site"] == "wire.example" and fab["canonical_reason"] == "earliest publication"
    assert fab["spread_seconds"] == 26 * 3600
    assert str(fab["first_seen"]).startswith("2026-03-01 08:00:00")
    assert str(fab["last_seen"]).startswith("2026-03-02 10:00:00")
    assert rows(conn, "SELECT COUNT(*) AS n FROM story_overview")[0]["n"] == 4


def test_syndication_lag_and_pairs(conn: Connection) -> None:
    lags = rows(conn, "SELECT original_site, copy_site, lag_seconds, similarity FROM syndication_lag "
                      "ORDER BY lag_seconds")
    assert [(r["original_site"], r["copy_site"], r["lag_seconds"]) for r in lags] == [
        ("wire.example", "daily.example", 1800),
        ("wire.example", "daily.example", 7200),
        ("wire.example", "mirror.example", 93600),
    ]
    pairs = rows(conn, "SELECT * FROM syndication_pairs ORDER BY copy_site")
    assert [(p["copy_site"], p["copies"], p["min_lag_seconds"], p["avg_lag_seconds"], p["max_lag_seconds"])
            for p in pairs] == [("daily.example", 2, 1800, 4500, 7200),
                                ("mirror.example", 1, 93600, 93600, 93600)]
    assert float(pairs[0]["avg_similarity"]) == pytest.approx(0.96)


def test_article_quotes(conn: Connection) -> None:
    (quote,) = rows(conn, "SELECT * FROM article_quotes")
    assert (quote["quoting_site"], quote["source_site"]) == ("blog.example", "wire.example")
    assert quote["passage"].startswith("The plant will make chips")
    assert quote["passage_chars"] == len(quote["passage"])
    assert quote["lag_seconds"] == 2 * 86400 + 3600  # 1 Mar 08:00 -> 3 Mar 09:00


def test_source_duplicate_rates(conn: Connection) -> None:
    got = {r["source"]: (r["articles"], r["originals"], r["duplicates"], r["quoting"],
                         r["not_deduplicated"], float(r["duplicate_rate"]))
           for r in rows(conn, "SELECT * FROM source_duplicate_rates")}
    assert got == {
        "wire": (2, 2, 0, 0, 0, 0.0),
        "daily": (2, 0, 2, 0, 0, 1.0),
        "mirror": (1, 0, 1, 0, 0, 1.0),
        "blog": (1, 0, 0, 1, 0, 0.0),
        "other": (1, 0, 0, 0, 0, 0.0),
    }
