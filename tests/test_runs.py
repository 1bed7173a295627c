"""Recorded runs: counters per source, run status, source health; `runs` and `sources` commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crawler.cli import main
from crawler.runs import (
    abandon_stale_runs,
    exit_status,
    failing_streak,
    finish_crawl,
    left_over,
    recent_runs,
    run_status,
    source_health,
    source_rows,
    start_run,
)
from crawler.store.db import make_engine, make_sessionmaker

STATS = {
    "newsdedup/source/wire/fetched": 5, "newsdedup/source/wire/stored": 3,
    "newsdedup/source/wire/unchanged": 1, "newsdedup/source/wire/dropped": 1,
    "newsdedup/source/wire/dropped/too_short": 1, "newsdedup/source/wire/not_modified": 2,
    "newsdedup/stored": 3, "downloader/response_count": 9,
}


def test_source_rows_and_status() -> None:
    rows = source_rows(STATS, ["wire", "down", "quiet"], requested={"wire", "down"}, reached={"wire"},
                       failures={"down": [f"http://down.example/{i}: HTTP 500" for i in range(9)]})
    wire, down, quiet = rows
    assert wire == {"source": "wire", "status": "ok", "fetched": 5, "new": 3, "changed": 0,
                    "unchanged": 1, "failed": 0, "dropped": 1, "not_modified": 2, "not_due": 0,
                    "dropped_reasons": {"too_short": 1}, "errors": []}
    assert down["status"] == "failed" and len(down["errors"]) == 5
    assert quiet["status"] == "idle"
    assert run_status("finished", rows) == "partial"
    assert run_status("finished", [wire, quiet]) == "ok"
    assert run_status("finished", [down]) == "failed"
    assert run_status("shutdown", [wire]) == "interrupted"
    # an article that could not be stored, or a request a fault failed (a timeout, a cut body,
    # 5xx), makes an otherwise good run partial, exit status 1
    assert run_status("finished", [wire, quiet], left_over({"newsdedup/store_failed": 2})) == "partial"
    assert run_status("finished", [wire, quiet], left_over({"newsdedup/faults": 1})) == "partial"
    assert left_over({"newsdedup/failed": 3, "newsdedup/dropped": 4}) == 0  # 404s, too short
    assert [exit_status(s, lost) for s, lost in (("ok", 0), ("partial", 0), ("partial", 2),
                                                  ("failed", 0), ("interrupted", 2))] == [0, 0, 1, 1, 130]


def test_failing_streak_skips_idle_runs() -> None:
    assert failing_streak(["failed", "idle", "failed", "ok", "failed"]) == 2
    assert failing_streak(["ok", "failed"]) == 0
    assert failing_streak([]) == 0


def _record(sessions, statuses: dict[str, str]) -> int:
    with sessions() as session:
        run_id = start_run(session, "run", "test:1")
        rows = source_rows(STATS, list(statuses),
                           requested={s for s, v in statuses.items() if v != "idle"},
                           reached={s for s, v in statuses.items() if v == "ok"},
                           failures={s: ["http://x/feed: HTTP 503"] for s, v in statuses.items()
                                     if v == "failed"})
        finish_crawl(session, run_id, STATS, rows, "finished")
    return run_id


def test_runs_are_stored_and_a_source_failing_five_runs_stands_out(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    sessions = make_sessionmaker(engine)
    _record(sessions, {"wire": "ok", "down": "ok"})
    for _ in range(5):
        _record(sessions, {"wire": "ok", "down": "failed"})
    with sessions() as session:
        runs = recent_runs(session, limit=3)
        health = {h.source: h for h in source_health(session)}
    engine.dispose()
    assert [r["status"] for r in runs] == ["partial"] * 3
    assert runs[0]["totals"]["new"] == 3 and runs[0]["totals"]["duplicates"] is None
    assert health["down"].failing_streak == 5 and health["down"].runs == 6
    assert health["down"].last_error == "http://x/feed: HTTP 503"
    assert health["wire"].failing_streak == 0 and health["wire"].new_total == 18

    runner = CliRunner()
    table = runner.invoke(main, ["sources", "--db", any_db_url])
    assert table.exit_code == 1
    assert "FAILING 5 runs in a row" in table.output and "! down" in table.output
    doc = json.loads(runner.invoke(main, ["sources", "--db", any_db_url, "--json"]).output)
    assert {d["source"]: d["failing"] for d in doc} == {"down": True, "wire": False}
    listed = runner.invoke(main, ["runs", "--db", any_db_url, "--limit", "2"])
    assert listed.exit_code == 0 and listed.output.count("partial") == 2
    one = json.loads(runner.invoke(main, ["runs", "1", "--db", any_db_url, "--json"]).output)
    assert one["status"] == "ok" and one["sources"][1]["dropped_reasons"] == {"too_short": 1}
    detail = runner.invoke(main, ["runs", "2", "--db", any_db_url])
    assert "down" in detail.output and "HTTP 503" in detail.output


def test_a_run_left_running_by_a_dead_process_is_marked_abandoned(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        start_run(session, "crawl", "dead:1")
        assert abandon_stale_runs(session) == 1
        assert recent_runs(session)[0]["status"] == "abandoned"
    engine.dispose()


@pytest.mark.parametrize("command", ["runs", "sources"])
def test_empty_database(sqlite_url: str, command: str) -> None:
    missing = CliRunner().invoke(main, [command, "--db", sqlite_url])
    assert missing.exit_code == 2 and "no database at" in missing.output  # read-only: not created
    assert CliRunner().invoke(main, ["db", "upgrade", "--db", sqlite_url]).exit_code == 0
    result = CliRunner().invoke(main, [command, "--db", sqlite_url])
    assert result.exit_code == 0 and "no " in result.output


def test_fetch_state_round_trip_and_duplicates_per_source(any_db_url: str) -> None:
    from datetime import UTC, datetime

    from crawler.fetchstate import DocState
    from crawler.runs import record_duplicates
    from crawler.store.models import Story, StoryMember
    from crawler.store.repo import load_fetch_states, save_fetch_states, upsert_article
    from tests.test_store import make_item

    engine = make_engine(any_db_url)
    sessions = make_sessionmaker(engine)
    due = datetime(2026, 3, 1, 12, tzinfo=UTC)
    state = DocState(url="https://a.example/sitemap.xml", source="a", kind="sitemap",
                     parent="https://a.example/robots.txt", etag='W/"x"', interval_seconds=900.0,
                     next_due=due, failures=2, last_error="HTTP 503")
    with sessions() as session, session.begin():
        save_fetch_states(session, [state])
    with sessions() as session, session.begin():
        save_fetch_states(session, [DocState(**{**state.__dict__, "failures": 0, "last_error": None})])
    with sessions() as session:
        assert load_fetch_states(session) == {state.url: DocState(
            **{**state.__dict__, "failures": 0, "last_error": None})}
    run_id = _record(sessions, {"a": "ok", "b": "ok"})
    with sessions() as session:
        ids = [upsert_article(session, make_item(f"https://a.example/{i}", f"Text {i}."))[1]
               for i in range(3)]
        story = Story(canonical_article_id=ids[0], canonical_reason="first", size=3,
                      members=[StoryMember(article_id=i, similarity=1.0, is_canonical=i == ids[0])
                               for i in ids])
        session.add(story)
        session.commit()
        assert record_duplicates(session, run_id) == {"a": 2}
        assert {s["source"]: s["duplicates"] for s in recent_runs(session)[0]["sources"]} == {
            "a": 2, "b": 0}
        # articles stored before the run started are not this run's duplicates
        later = _record(sessions, {"a": "ok"})
        assert record_duplicates(session, later) == {}
    engine.dispose()
