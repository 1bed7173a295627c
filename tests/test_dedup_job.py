"""The dedup job over the store: persisted index, incremental matching, rebuild, explain."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crawler.cli import main
from crawler.dedup_job import DedupStateError, run_dedup
from crawler.items import Article as ArticleItem
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import DedupRun, StoryMember
from crawler.store.repo import upsert_article
from dedup import DedupConfig

FIXTURES = Path(__file__).parent / "fixtures"
HTML = (FIXTURES / "pages" / "article.html").read_text(encoding="utf-8")
PARAS = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p>(.*?)</p>", HTML)]
FILLER = json.loads((FIXTURES / "seedsite" / "fillers.json").read_text())["pages"]
TITLE = "Regional cloud providers race to add GPU capacity"


def item(site: str, paras: list[str], title: str, day: int) -> ArticleItem:
    url = f"https://{site}/2026/03/{day:02d}/story.html"
    return ArticleItem(
        url=url, fetched_url=url, source=site, site=site, status=200,
        fetched_at=datetime(2026, 3, day, tzinfo=UTC), text="\n".join(paras), title=title,
        author=None, published=datetime(2026, 3, day, 8, tzinfo=UTC), sitename=site,
        language="en", declared_canonical=url, encoding="utf-8", repairs=(), raw_html=b"<html/>",
        requested_url=url,
    )


ORIGINAL = item("a.example", PARAS, TITLE, 4)
COPY = item("b.example", ["SINGAPORE (Wire) — Our correspondent reports from the region today.",
                          *PARAS[:3]], TITLE, 5)
OTHER = item("c.example", FILLER[0]["paragraphs"], FILLER[0]["title"], 6)
LATE_COPY = item("d.example", [*PARAS[:4], "This article first appeared on a partner site."],
                 TITLE, 7)


def stories(session) -> dict[str, int]:
    from crawler.store.models import Article

    rows = session.execute(select(Article.site, StoryMember.story_id).join(StoryMember))
    return dict(rows.all())


def groups(mapping: dict[str, int]) -> set[frozenset[str]]:
    out: dict[int, set[str]] = {}
    for site, story in mapping.items():
        out.setdefault(story, set()).add(site)
    return {frozenset(v) for v in out.values()}


@pytest.fixture
def store(sqlite_url: str):
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_incremental_matches_new_articles_and_equals_rebuild(store, sqlite_url: str) -> None:
    with store() as session:
        for art in (ORIGINAL, COPY, OTHER):
            upsert_article(session, art)
        session.commit()
        first = run_dedup(session)
        assert (first.mode, first.new) == ("rebuild", 3)
        assert groups(stories(session)) == {frozenset({"a.example", "b.example"}),
                                            frozenset({"c.example"})}
        upsert_article(session, LATE_COPY)
        session.commit()
        second = run_dedup(session)
        assert (second.mode, second.new) == ("incremental", 1)
        incremental = groups(stories(session))
        assert frozenset({"a.example", "b.example", "d.example"}) in incremental
        third = run_dedup(session, rebuild=True)
        assert (third.mode, third.new) == ("rebuild", 4)
        assert groups(stories(session)) == incremental
        assert session.scalar(select(DedupRun.mode).order_by(DedupRun.id.desc())) == "rebuild"


def test_index_built_with_other_settings_is_detected(store) -> None:
    with store() as session:
        upsert_article(session, ORIGINAL)
        session.commit()
        run_dedup(session)
        other = replace(DedupConfig(), shingle_size=DedupConfig().shingle_size + 1)
        with pytest.raises(DedupStateError, match="--rebuild"):
            run_dedup(session, config=other)
        assert run_dedup(session, config=other, rebuild=True).mode == "rebuild"


def test_explain_command(store, sqlite_url: str) -> None:
    with store() as session:
        for art in (ORIGINAL, COPY, OTHER):
            upsert_article(session, art)
        session.commit()
        run_dedup(session)
    result = CliRunner().invoke(main, ["explain", COPY.url, ORIGINAL.url, "--db", sqlite_url,
                                       "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["verdict"] == "copy" and doc["same_story"] is True
    assert doc["containment_a_in_b"] > 0.5 > doc["containment_b_in_a"]
    assert any(PARAS[0][:40] in p["text"] for p in doc["passages"])
    unrelated = CliRunner().invoke(main, ["explain", OTHER.url, ORIGINAL.url, "--db", sqlite_url])
    assert unrelated.exit_code == 0
    assert "verdict: unrelated; same story: no" in unrelated.output
    missing = CliRunner().invoke(main, ["explain", "https://nowhere.example/x", ORIGINAL.url,
                                        "--db", sqlite_url])
    assert missing.exit_code == 2 and "not a stored article" in missing.output


def test_stored_index_holds_no_texts_and_a_changed_article_rebuilds(store,
                                                                   tmp_path: Path) -> None:
    from sqlalchemy import update

    from crawler.store.models import Article

    with store() as session:
        for art in (ORIGINAL, COPY, OTHER):
            upsert_article(session, art)
        session.commit()
        run_dedup(session)
        folder = tmp_path / "test-archive"  # beside test.db: the default for a SQLite file
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert {p.name for p in files} >= {"job.json", "index.json", "shingles.u64"}
        assert not any(PARAS[1][:60].encode() in p.read_bytes() for p in files)  # texts stay
        upsert_article(session, LATE_COPY)                                    # in the articles
        session.commit()
        assert run_dedup(session).mode == "incremental"
        session.execute(update(Article).where(Article.site == "c.example")
                        .values(text="An entirely different body of text now."))
        session.commit()
        again = run_dedup(session)
        assert (again.mode, again.new) == ("rebuild", 4)
