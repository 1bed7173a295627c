"""The event stage over the store: assigned after every dedup, incremental == rebuild, the view,
``report --by event`` in every format and the event line of ``explain``."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from crawler import events_job
from crawler.cli import main
from crawler.items import Article as ArticleItem
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, Event, Story, StoryMember
from crawler.store.repo import upsert_article
from tests.conftest import shared_dataset

#: giveme5w1h clusters used here: three events of 5-7 articles from different outlets.
CLUSTERS = ("Apple_removed_Telegram", "boko_haram_21_schoolgirls_freed",
            "Justin_Timberlake_halftime_show")


def _rows() -> list[dict]:
    path = shared_dataset("giveme5w1h-news-cluster") / "articles.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    chosen = [r for r in rows if r["cluster"] in CLUSTERS]
    assert len({r["cluster"] for r in chosen}) == len(CLUSTERS)
    return sorted(chosen, key=lambda r: (r["date"], r["id"]))


def _item(row: dict) -> ArticleItem:
    when = datetime.fromisoformat(row["date"]).replace(tzinfo=UTC)
    return ArticleItem(
        url=row["url"], fetched_url=row["url"], source=row["source"], site=row["source"], status=200,
        fetched_at=when, text=row["text"], title=row["title"], author=None, published=when,
        sitename=row["source"], language="en", declared_canonical=row["url"], encoding="utf-8",
        repairs=(), raw_html=b"<html/>", requested_url=row["url"])


def _event_groups(sessions) -> set[frozenset[str]]:
    with sessions() as session:
        rows = session.execute(select(Story.event_id, Article.url)
                               .join(StoryMember, StoryMember.story_id == Story.id)
                               .join(Article, Article.id == StoryMember.article_id)).all()
    assert all(event is not None for event, _ in rows), "every story is in an event"
    out: dict[int, set[str]] = {}
    for event, url in rows:
        out.setdefault(event, set()).add(url)
    return {frozenset(v) for v in out.values()}


def _event_table(sessions) -> dict[frozenset[str], tuple]:
    """Each event's articles (URLs) -> what is stored of it: label, central article, span, counts."""
    with sessions() as session:
        groups: dict[int, set[str]] = {}
        for event, url in session.execute(select(Story.event_id, Article.url)
                                          .join(StoryMember, StoryMember.story_id == Story.id)
                                          .join(Article, Article.id == StoryMember.article_id)):
            groups.setdefault(event, set()).add(url)
        urls = dict(session.execute(select(Article.id, Article.url)).all())
        return {frozenset(groups[e.id]): (e.label, urls[e.central_article_id], e.first_published,
                                          e.last_published, e.story_count, e.article_count, e.site_count)
                for e in session.scalars(select(Event))}


def _fill(sessions, sqlite_url: str, rows: list[dict]) -> list[str]:
    """Store the rows eight at a time, a dedup run after each batch; the runs' outputs."""
    runner = CliRunner()
    outputs = []
    for start in range(0, len(rows), 8):
        with sessions() as session:
            for row in rows[start: start + 8]:
                upsert_article(session, _item(row))
            session.commit()
        result = runner.invoke(main, ["dedup", "--db", sqlite_url])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    return outputs


@pytest.fixture
def filled(sqlite_url: str):
    """The store after three dedup runs over articles arriving in publication order."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    rows = _rows()
    yield sessions, rows, _fill(sessions, sqlite_url, rows)
    engine.dispose()


def test_incremental_events_equal_a_rebuild_and_follow_the_clusters(filled, sqlite_url: str) -> None:
    sessions, rows, outputs = filled
    assert "events (rebuild)" in outputs[0] and "events (incremental)" in outputs[-1]
    incremental = _event_groups(sessions)
    stored = _event_table(sessions)
    result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url, "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "events (rebuild)" in result.output
    assert _event_groups(sessions) == incremental
    assert _event_table(sessions) == stored  # labels, central articles, spans and counts too
    truth = {r["url"]: r["cluster"] for r in rows}
    for group in incremental:  # no event mixes two of these clusters
        assert len({truth[u] for u in group}) == 1
    assert len(incremental) <= len(CLUSTERS) + 2
    with sessions() as session:
        events = session.scalars(select(Event)).all()
        assert sum(e.article_count for e in events) == len(rows)
        assert all(e.first_published <= e.last_published and e.label for e in events)
        view = session.execute(text("SELECT event_id, story_count, article_count, site_count "
                                    "FROM event_overview ORDER BY event_id")).all()
        assert [(v[0], v[1], v[2], v[3]) for v in view] == sorted(
            (e.id, e.story_count, e.article_count, e.site_count) for e in events)


def test_articles_arriving_out_of_order_give_the_rebuild_events(sqlite_url: str) -> None:
    """Late articles (a shuffled arrival) reopen their events: the runs end where a rebuild does."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    rows = _rows()
    random.Random(18).shuffle(rows)
    outputs = _fill(sessions, sqlite_url, rows)
    assert "events (incremental)" in outputs[-1]
    incremental = _event_groups(sessions)
    stored = _event_table(sessions)
    result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url, "--rebuild"])
    assert result.exit_code == 0, result.output
    assert _event_groups(sessions) == incremental
    assert _event_table(sessions) == stored
    truth = {r["url"]: r["cluster"] for r in rows}
    assert all(len({truth[u] for u in group}) == 1 for group in incremental)
    engine.dispose()


def test_an_incremental_run_reads_the_new_stories_and_the_events_they_may_change(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the 2016-17 schoolgirls' events are closed (a window before the 2018 stories), later
    runs read neither their articles' outlets and dates nor their texts, and leave their rows
    as they are, yet end where a rebuild does; a late copy of one of their articles or an
    edited refetch has its event written again."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    rows = _rows()
    old = [r for r in rows if r["cluster"] == CLUSTERS[1]]
    _fill(sessions, sqlite_url, old)
    before = _event_table(sessions)
    with sessions() as session:
        old_ids = set(session.scalars(select(Article.id)))
        written = {e.id: e.updated_at for e in session.scalars(select(Event))}
    read: list[set[int]] = []
    load_details, event_stories = events_job._load_details, events_job._event_stories

    def details(session, stories):
        stories = list(stories)
        read.append({a for s in stories if not s.loaded for a in s.members})
        return load_details(session, stories)

    def texts(session, stories):
        stories = list(stories)
        read.append({a for s in stories for a in s.members})
        return event_stories(session, stories)

    monkeypatch.setattr(events_job, "_load_details", details)
    monkeypatch.setattr(events_job, "_event_stories", texts)
    _fill(sessions, sqlite_url, [r for r in rows if r["cluster"] != CLUSTERS[1]])
    assert read and set().union(*read) and not set().union(*read) & old_ids
    with sessions() as session:
        assert {e.id: e.updated_at for e in session.scalars(select(Event)) if e.id in written} == written
    stored = _event_table(sessions)
    assert {k: v for k, v in stored.items() if k in before} == before
    result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url, "--rebuild"])
    assert result.exit_code == 0, result.output
    assert _event_table(sessions) == stored
    # a late copy of a closed event's article joins its story: the event is written again
    copy = {**old[1], "url": "https://copies.example/late", "source": "copies.example",
            "date": rows[-1]["date"]}
    _fill(sessions, sqlite_url, [copy])
    stored = _event_table(sessions)
    assert any("https://copies.example/late" in urls and len(urls) > 1 for urls in stored)
    result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url, "--rebuild"])
    assert result.exit_code == 0, result.output
    assert _event_table(sessions) == stored
    # a refetched article (edited): its closed event is written again, as a rebuild would
    first = old[0]
    with sessions() as session:
        upsert_article(session, _item({**first, "title": "New headline", "text": first["text"] + " More."}))
        session.commit()
    read.clear()
    result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert read and set().union(*read) & old_ids
    stored = _event_table(sessions)
    result = CliRunner().invoke(main, ["dedup", "--db", sqlite_url, "--rebuild"])
    assert result.exit_code == 0, result.output
    assert _event_table(sessions) == stored
    engine.dispose()


def test_report_by_event_in_every_format(filled, sqlite_url: str) -> None:
    _, rows, _ = filled
    runner = CliRunner()
    doc = json.loads(runner.invoke(main, ["report", "--db", sqlite_url, "--by", "event",
                                          "--format", "json"]).output)
    biggest = doc["events"][0]
    assert biggest["article_count"] == max(e["article_count"] for e in doc["events"]) > 2
    assert biggest["label"] in {s["canonical_title"] for s in biggest["stories"]}
    assert doc["totals"]["events"] >= len(doc["events"])
    table = runner.invoke(main, ["report", "--db", sqlite_url, "--by", "event"]).output
    assert f"Event {biggest['id']}:" in table
    every = runner.invoke(main, ["report", "--db", sqlite_url, "--by", "event", "--min-size", "1",
                                 "--limit", "1000"]).output
    assert "1 story, 1 article, 1 outlet," in every and "1 stories" not in every
    assert f"{biggest['article_count']} articles," in table
    table_csv = runner.invoke(main, ["report", "--db", sqlite_url, "--by", "event", "--format", "csv",
                                     "--min-size", "1"]).output
    lines = list(csv.DictReader(io.StringIO(table_csv)))
    assert len(lines) == len(rows)  # one row per article, every article once
    assert sum(1 for r in lines if r["role"] == "central") == len({r["event_id"] for r in lines})
    html = runner.invoke(main, ["report", "--db", sqlite_url, "--by", "event", "--format", "html"])
    assert html.exit_code == 0
    assert f'id="event-{biggest["id"]}"' in html.output and "<svg" in html.output
    assert "<script" not in html.output
    searched = json.loads(runner.invoke(main, ["report", "--db", sqlite_url, "--by", "event",
                                               "--format", "json", "--search", "schoolgirls"]).output)
    assert searched["events"] and all("schoolgirls" in json.dumps(e).lower()
                                      for e in searched["events"])


def test_explain_says_whether_two_stories_are_one_event(filled, sqlite_url: str) -> None:
    _, rows, _ = filled
    by_cluster: dict[str, list[str]] = {}
    for r in rows:
        by_cluster.setdefault(r["cluster"], []).append(r["url"])
    same = by_cluster["boko_haram_21_schoolgirls_freed"][:2]
    other = by_cluster["Apple_removed_Telegram"][0]
    runner = CliRunner()
    result = runner.invoke(main, ["explain", *same, "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("event: "))
    assert "same event" in line and "chibok" in line.lower()
    doc = json.loads(runner.invoke(main, ["explain", same[0], other, "--db", sqlite_url,
                                          "--json"]).output)
    assert doc["event"]["same_event"] is False
    assert doc["event"]["similarity"] < doc["event"]["threshold"]
