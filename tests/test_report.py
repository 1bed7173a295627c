"""The report: filters as bound parameters on both databases, every format, the CLI, empty stores."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.cli import main
from crawler.report.html import render_html
from crawler.report.passages import segments, shared_spans
from crawler.report.queries import (
    ReportFilter,
    StoryView,
    load_report,
    load_story_views,
    parse_when,
    totals,
)
from crawler.report.render import render, render_csv, render_table
from crawler.report.text import safe_href, spreadsheet_safe, visible_controls
from crawler.report.timeline import build_timeline, format_lag
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article
from tests.report_fixtures import Sample, seed_hostile, seed_sample, when


@pytest.fixture
def store(any_db_url: str) -> Iterator[tuple[Session, Sample]]:
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as session:
        yield session, seed_sample(session)
    engine.dispose()


def load_stories(session: Session, **kwargs: object) -> list[StoryView]:
    """The report's stories for filters given as keywords (``ReportFilter``'s fields)."""
    return load_story_views(session, ReportFilter(**kwargs))  # type: ignore[arg-type]


def ids(session: Session, **kwargs: object) -> list[int]:
    return [s.id for s in load_stories(session, **kwargs)]


def test_filters_on_both_databases(store: tuple[Session, Sample]) -> None:
    session, s = store
    fab, phones, roundup = s.stories["fab"], s.stories["phones"], s.stories["roundup"]
    assert ids(session) == [fab, phones]  # size >= 2, largest first
    assert ids(session, min_size=1) == [fab, phones, s.stories["tablet"], roundup]
    assert ids(session, limit=1) == [fab]
    assert ids(session, site="mirror.example") == [fab]
    assert ids(session, site="MIRROR.example") == [fab]
    assert ids(session, site="mirror") == [fab]  # the source name works too
    assert ids(session, site="blog.example") == []  # a singleton: below --min-size
    assert ids(session, since=parse_when("2026-03-04")) == [phones]
    assert ids(session, until=parse_when("2026-03-01", end_of_day=True)) == [fab]
    assert ids(session, since=parse_when("2026-03-02T09:00"), until=parse_when("2026-03-02T11:00")) == [fab]
    assert ids(session, story_id=roundup) == [roundup]  # --story ignores --min-size
    assert ids(session, search="ARIZONA") == [fab]
    assert ids(session, search="40%") == [phones]
    assert ids(session, search="4_%") == []  # LIKE wildcards are literal characters
    assert ids(session, search="%") == [phones]


def test_filters_are_bound_parameters(store: tuple[Session, Sample]) -> None:
    session, _ = store
    for evil in ("x' OR '1'='1", "'; DROP TABLE articles; --", "\" OR 1=1 --"):
        assert ids(session, search=evil) == []
        assert ids(session, site=evil) == []
    assert session.scalar(select(func.count()).select_from(Article)) == 7


def test_story_view_members_lag_and_passages(store: tuple[Session, Sample]) -> None:
    session, s = store
    (story,) = load_stories(session, story_id=s.stories["fab"])
    assert [m.site for m in story.members] == ["wire.example", "daily.example", "mirror.example"]
    assert [m.lag_seconds for m in story.members] == [None, 7200, 93600]
    assert story.members[0].is_canonical and story.canonical_site == "wire.example"
    (quote,) = story.passages
    assert quote.article_site == "blog.example" and quote.source_site == "wire.example"
    t = totals(session)
    assert (t.articles, t.stories, t.multi_stories, t.duplicates, t.passage_links) == (7, 4, 2, 3, 1)


def test_json_and_csv(store: tuple[Session, Sample]) -> None:
    session, s = store
    report = load_report(session, ReportFilter())
    out = io.StringIO()
    render("json", report, out)
    doc = json.loads(out.getvalue())
    assert [st["id"] for st in doc["stories"]] == [s.stories["fab"], s.stories["phones"]]
    assert doc["stories"][0]["members"][1]["lag_seconds"] == 7200
    assert "message" not in doc
    out = io.StringIO()
    render_csv(report.totals, report.stories, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["story_id"], r["role"], r["site"]) for r in rows] == [
        (str(s.stories["fab"]), "canonical", "wire.example"),
        (str(s.stories["fab"]), "copy", "daily.example"),
        (str(s.stories["fab"]), "copy", "mirror.example"),
        (str(s.stories["fab"]), "quotes", "blog.example"),
        (str(s.stories["phones"]), "canonical", "wire.example"),
        (str(s.stories["phones"]), "copy", "daily.example"),
    ]
    assert rows[2]["lag_seconds"] == "93600" and rows[0]["canonical_reason"] == "earliest publication"


def test_html_contents(store: tuple[Session, Sample]) -> None:
    session, s = store
    out = io.StringIO()
    render_html(load_report(session, ReportFilter(story_id=s.stories["fab"]), with_texts=True), out)
    page = out.getvalue()
    assert f"Story {s.stories['fab']}: Ferrox to open Arizona chip fab" in page
    assert "Why canonical: earliest publication" in page
    assert page.count('<circle class="copy"') == 2 and page.count('<circle class="canonical"') == 1
    assert "+26h" not in page and "+1d 2h" in page  # mirror.example's lag
    assert "<mark>" in page and "quotes a passage of this story" in page
    assert "<script" not in page.lower() and "http://" not in page.replace("http://www.w3.org", "")


def test_empty_database_says_so(any_db_url: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    runner = CliRunner()
    for command in (["report"], ["runs"], ["sources"], ["explain", "http://a.test/", "http://b.test/"]):
        result = runner.invoke(main, [*command, "--db", any_db_url])
        assert result.exit_code == 2 and "no database at" in result.stderr, result.output
        assert len(result.stderr.splitlines()) == 1
    if any_db_url.startswith("sqlite:///"):
        assert not Path(any_db_url.removeprefix("sqlite:///")).exists()
    else:  # nothing was created in the (empty) PostgreSQL schema
        engine = create_engine(any_db_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()
    assert runner.invoke(main, ["db", "upgrade", "--db", any_db_url]).exit_code == 0
    for fmt in ("table", "json", "csv", "html"):
        result = runner.invoke(main, ["report", "--db", any_db_url, "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "no articles yet" in result.output and "newsdedup run" in result.output, fmt
    out = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "--db", any_db_url, "--format", "html", "-o", str(out)])
    assert result.exit_code == 0 and "no articles yet" in out.read_text(encoding="utf-8")


def test_cli_report_filters_formats_and_output(store: tuple[Session, Sample], any_db_url: str,
                                               tmp_path: Path) -> None:
    _, s = store
    runner = CliRunner()
    result = runner.invoke(main, ["report", "--db", any_db_url, "--format", "json", "--site", "daily.example",
                                  "--since", "2026-03-05T00:00:00+01:00", "--search", "shipments"])
    assert result.exit_code == 0, result.output
    assert [st["id"] for st in json.loads(result.output)["stories"]] == [s.stories["phones"]]
    out = tmp_path / "report.html"
    result = runner.invoke(main, ["report", "--db", any_db_url, "--format", "html", "-o", str(out)])
    assert result.exit_code == 0 and "2 stories written" in result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(main, ["report", "--db", any_db_url, "--story", str(s.stories["tablet"])])
    assert "A new tablet" in result.output
    result = runner.invoke(main, ["report", "--db", any_db_url, "--until", "March 3"])
    assert result.exit_code == 2 and "not an ISO 8601 date" in result.output
    result = runner.invoke(main, ["report", "--db", any_db_url, "--search", "nothing like this"])
    assert "No story matches these filters." in result.output


def test_hostile_text_in_table_csv_and_html(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as session:
        seed_hostile(session)
        report = load_report(session, ReportFilter(), with_texts=True)
    engine.dispose()
    out = io.StringIO()
    render_table(report.totals, report.stories, out)
    assert "\u202e" not in out.getvalue() and "⟨U+202E⟩" in out.getvalue()
    out = io.StringIO()
    render_html(report, out)
    page = out.getvalue()
    assert "<script>document" not in page and "&lt;script&gt;document" in page
    assert '<img src=x' not in page and "&lt;img src=x onerror=" in page
    assert 'href="javascript:' not in page and "\u202e" not in page
    assert '<span class="ctl" title="invisible control character">U+202E</span>' in page


def test_text_helpers() -> None:
    assert visible_controls("a\u202eb\x1b[2Jc\nd") == "a⟨U+202E⟩b⟨U+001B⟩[2Jc\nd"
    assert safe_href("https://a.example/x?y=1") == "https://a.example/x?y=1"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example",
                "http://a.example/\u202e", " https://a.example", "vbscript:x"):
        assert safe_href(bad) is None, bad
    assert spreadsheet_safe("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert spreadsheet_safe("plain") == "plain"
    assert format_lag(7200) == "+2h 00m" and format_lag(-900) == "−15m" and format_lag(93600) == "+1d 2h"
    assert format_lag(30) == "same time" and format_lag(None) == ""


def test_shared_spans_and_segments() -> None:
    a = "Intro line.\nThe plant will make chips for cars and phones, officials said.\nEnd."
    b = "Other start. the plant will make chips for cars and PHONES officials said! Bye."
    spans_a, spans_b = shared_spans(a, b, min_words=6)
    assert [a[x:y] for x, y in spans_a] == ["The plant will make chips for cars and phones, officials said."]
    assert [b[x:y] for x, y in spans_b] == ["the plant will make chips for cars and PHONES officials said!"]
    assert segments("abcdef", [(3, 5), (1, 2), (4, 6)]) == [("a", False), ("b", True), ("c", False),
                                                           ("def", True)]
    assert segments("abc", []) == [("abc", False)]


def test_timeline_layout(store: tuple[Session, Sample]) -> None:
    session, s = store
    (story,) = load_stories(session, story_id=s.stories["fab"])
    tl = build_timeline(story.members)
    assert tl is not None
    assert [r.label for r in tl.rows] == ["wire.example", "daily.example", "mirror.example"]
    xs = {p.member.site: p.x for p in tl.points}
    assert tl.left < xs["wire.example"] < xs["daily.example"] < xs["mirror.example"] < tl.right
    # x is linear in time: 2 h of 26 h
    ratio = (xs["daily.example"] - xs["wire.example"]) / (xs["mirror.example"] - xs["wire.example"])
    assert ratio == pytest.approx(2 / 26, abs=0.01)
    assert tl.ticks and all(tl.left <= t.x <= tl.right for t in tl.ticks)
    assert build_timeline([]) is None


def test_parse_when() -> None:
    assert parse_when("2026-03-01") == when(1, 0)
    assert parse_when("2026-03-01", end_of_day=True) == when(1, 23, 59).replace(second=59,
                                                                               microsecond=999999)
    assert parse_when("2026-03-01T10:00:00+02:00") == when(1, 8)
    assert parse_when("2026-03-01 10:00") == when(1, 10)
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_when("yesterday")


@pytest.mark.parametrize("args", [["report"], ["report", "--by", "event"], ["report", "--format", "csv"],
                                  ["runs"]])
def test_a_reader_that_stops_early_is_no_error(tmp_path: Path, args: list[str]) -> None:
    """`newsdedup report | head`: quiet, exit status 0 (Rich's console exited 1 on the closed pipe,
    click's main too)."""
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        seed_sample(session)
        session.commit()
    engine.dispose()
    proc = subprocess.Popen([sys.executable, "-m", "crawler", *args, "--db", db_url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # before the command has written anything: its writes meet a closed pipe
    _, stderr = proc.communicate(timeout=120)
    assert (proc.returncode, stderr) == (0, "")
