"""The document-level dedup job: an on-disk archive, incremental story rewrites, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from crawler.archive_job import affected_stories, canonical_reason, run_document_dedup
from crawler.cli import main
from crawler.dedup_job import DedupStateError, run_dedup
from crawler.store.db import make_engine, make_sessionmaker
from crawler.store.models import Article, DedupRun, PassageLink, Story, StoryMember
from crawler.store.repo import upsert_article
from dedup import DedupConfig
from tests.test_dedup_job import COPY, LATE_COPY, ORIGINAL, OTHER, groups, stories

ALL = (ORIGINAL, COPY, OTHER, LATE_COPY)


@pytest.fixture
def store(any_db_url: str):
    engine = make_engine(any_db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _members(session) -> dict[str, tuple[int, float, bool]]:
    """site -> (story id, similarity, is canonical)."""
    rows = session.execute(select(Article.site, StoryMember.story_id, StoryMember.similarity,
                                  StoryMember.is_canonical).join(StoryMember))
    return {site: (story, sim, canon) for site, story, sim, canon in rows}


def _store(session, *arts) -> None:
    for art in arts:
        upsert_article(session, art)
    session.commit()


def test_document_level_groups_copies_and_rewrites_only_changed_stories(
        store, any_db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    with store() as session:
        _store(session, ORIGINAL, COPY, OTHER)
        first = run_document_dedup(session, folder, any_db_url)
        assert (first.mode, first.articles, first.new) == ("rebuild", 3, 3)
        assert (first.stories, first.multi_stories, first.links) == (2, 1, 0)
        assert groups(stories(session)) == {frozenset({"a.example", "b.example"}),
                                            frozenset({"c.example"})}
        members = _members(session)
        assert members["a.example"][1:] == (1.0, True)  # earliest published is canonical
        assert 0.8 <= members["b.example"][1] < 1.0 and not members["b.example"][2]
        story = session.get(Story, members["a.example"][0])
        assert story.size == 2 and story.canonical_reason.startswith("earliest published (2026-03-04")
        other_story = members["c.example"][0]

        _store(session, LATE_COPY)
        second = run_document_dedup(session, folder, any_db_url)
        assert (second.mode, second.articles, second.new) == ("incremental", 4, 1)
        incremental = groups(stories(session))
        assert incremental == {frozenset({"a.example", "b.example", "d.example"}),
                               frozenset({"c.example"})}
        assert _members(session)["c.example"][0] == other_story  # untouched story kept its row
        assert session.scalar(select(Story.size).where(Story.canonical_article_id == session.scalar(
            select(Article.id).where(Article.site == "a.example")))) == 3

        again = run_document_dedup(session, folder, any_db_url)
        assert (again.mode, again.new) == ("incremental", 0)
        assert _members(session)["c.example"][0] == other_story
        rebuilt = run_document_dedup(session, folder, any_db_url, rebuild=True)
        assert (rebuilt.mode, rebuilt.new) == ("rebuild", 4)
        assert groups(stories(session)) == incremental
        assert session.scalar(select(StoryMember).where(StoryMember.article_id.is_(None))) is None
        level = json.loads(session.scalar(select(DedupRun.params).order_by(DedupRun.id.desc())))
        assert level["level"] == "document"


def test_changed_or_deleted_archived_article_rebuilds_the_archive(
        store, any_db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    with store() as session:
        _store(session, *ALL)
        run_document_dedup(session, folder, any_db_url)
        session.execute(update(Article).where(Article.site == "d.example").values(
            text="An entirely different body of text now.", updated_at=datetime.now(UTC)))
        session.commit()
        changed = run_document_dedup(session, folder, any_db_url)
        assert (changed.mode, changed.new) == ("rebuild", 4)
        assert groups(stories(session)) == {frozenset({"a.example", "b.example"}),
                                            frozenset({"c.example"}), frozenset({"d.example"})}
        assert run_document_dedup(session, folder, any_db_url).mode == "incremental"

        gone = session.scalar(select(Article.id).where(Article.site == "b.example"))
        session.execute(delete(StoryMember).where(StoryMember.article_id == gone))
        session.execute(delete(Article).where(Article.id == gone))
        session.commit()
        deleted = run_document_dedup(session, folder, any_db_url)
        assert (deleted.mode, deleted.articles) == ("rebuild", 3)
        assert len(groups(stories(session))) == 3


def test_switching_levels_replaces_the_stories(store, any_db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    with store() as session:
        _store(session, *ALL)
        run_dedup(session, folder=folder)
        passage = groups(stories(session))
        assert session.scalar(select(DedupRun.params)).find('"level": "passage"') >= 0
        run_document_dedup(session, folder, any_db_url)
        assert session.scalar(select(PassageLink.id)) is None
        assert groups(stories(session)) == passage  # the copies here are whole-document ones
        assert {r.dedup_run_id for r in session.scalars(select(Story))} == {
            session.scalar(select(DedupRun.id).order_by(DedupRun.id.desc()))}
        run_dedup(session, folder=folder)
        assert groups(stories(session)) == passage


def test_a_run_that_stopped_after_saving_the_archive_is_repaired(
        store, any_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    folder = tmp_path / "archive"
    with store() as session:
        _store(session, ORIGINAL, OTHER)
        run_document_dedup(session, folder, any_db_url)
        _store(session, COPY, LATE_COPY)

        def boom(self) -> None:
            raise RuntimeError("database went away")

        with monkeypatch.context() as patch:
            patch.setattr(Session, "commit", boom)
            with pytest.raises(RuntimeError):
                run_document_dedup(session, folder, any_db_url)
        session.rollback()
        assert groups(stories(session)) == {frozenset({"a.example"}), frozenset({"c.example"})}
        repaired = run_document_dedup(session, folder, any_db_url)
        # the archive kept them; the stories come from the database, not from its last decision
        assert (repaired.mode, repaired.new) == ("incremental", 0)
        want = {frozenset({"a.example", "b.example", "d.example"}), frozenset({"c.example"})}
        assert groups(stories(session)) == want
        assert session.scalar(select(Story.size).order_by(Story.size.desc()).limit(1)) == 3


def test_archive_of_another_database_or_a_foreign_directory_is_refused_one_of_other_settings_rebuilt(
        store, any_db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    with store() as session:
        _store(session, ORIGINAL)
        run_document_dedup(session, folder, any_db_url)
        other_db = "sqlite:///" + str(tmp_path / "other.db")
        with pytest.raises(DedupStateError, match="belongs to"):
            run_document_dedup(session, folder, other_db)
        with pytest.raises(DedupStateError, match="belongs to"):  # never cleared for another
            run_document_dedup(session, folder, other_db, rebuild=True)
        assert (folder / "archive.json").exists()
        foreign = tmp_path / "photos"
        foreign.mkdir()
        (foreign / "holiday.jpg").write_bytes(b"\xff\xd8")
        with pytest.raises(DedupStateError, match="holds no dedup state"):
            run_document_dedup(session, foreign, any_db_url)
        assert (foreign / "holiday.jpg").exists()
        other = replace(DedupConfig(), shingle_size=DedupConfig().shingle_size + 1)
        said: list[str] = []
        assert run_document_dedup(session, folder, any_db_url, config=other,
                                  say=said.append).mode == "rebuild"
        (line,) = said
        assert line.startswith(f"rebuilding the document archive in {folder} ")
        assert "shingle_size: 5 stored, 6 now" in line
        assert run_document_dedup(session, folder, any_db_url, config=other).mode == "incremental"


def test_a_first_dedup_killed_while_writing_its_record_leaves_a_usable_directory(
        store, any_db_url: str, tmp_path: Path) -> None:
    """A first dedup killed (or out of disk) while writing job.json leaves only job.json.tmp in
    the directory: it was refused ever after as "not empty and holds no dedup state"."""
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "job.json.tmp").write_text('{"database": "half-writ')
    with store() as session:
        _store(session, ORIGINAL)
        assert run_document_dedup(session, folder, any_db_url).mode == "rebuild"
    assert (folder / "job.json").exists()


def test_cli_document_level_and_report(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        _store(session, *ALL)
    engine.dispose()
    folder = tmp_path / "arch"
    runner = CliRunner()
    got = runner.invoke(main, ["dedup", "--db", sqlite_url, "--level", "document",
                               "--archive", str(folder)])
    assert got.exit_code == 0, got.output
    assert got.output.splitlines()[0] == ("dedup (rebuild): 4 articles (4 new) -> 2 stories (1 with "
                                  "copies), document level, no passage links")
    assert (folder / "archive.json").exists()
    env = {"NEWSDEDUP_LEVEL": "document", "NEWSDEDUP_ARCHIVE": str(folder)}
    again = runner.invoke(main, ["dedup", "--db", sqlite_url], env=env)
    assert "dedup (incremental): 4 articles (0 new)" in again.output
    report = runner.invoke(main, ["report", "--db", sqlite_url, "--format", "json"])
    doc = json.loads(report.output)
    assert [len(s["members"]) for s in doc["stories"]] == [3]
    bad = runner.invoke(main, ["dedup", "--db", sqlite_url, "--level", "sentence"])
    assert bad.exit_code == 2 and "sentence" in bad.output
    assert "--level [passage|document]" in runner.invoke(main, ["dedup", "--help"]).output
    assert "--archive DIRECTORY" in runner.invoke(main, ["run", "--help"]).output


def test_cli_document_level_rebuilds_an_archive_another_version_built(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an upgrade (another ALGORITHM_VERSION) `dedup --level document` rebuilds the archive
    from the articles table, saying so in one line, and exits 0: the stories equal a
    --rebuild's; the passage level's index beside it is left to the passage level."""
    from dedup import ALGORITHM_VERSION
    from tests.test_dedup_job import decided, store_articles

    folder = tmp_path / "arch"
    args = ["dedup", "--db", sqlite_url, "--level", "document", "--archive", str(folder)]
    runner = CliRunner()
    store_articles(sqlite_url, ORIGINAL, COPY, OTHER)
    with monkeypatch.context() as patch:
        patch.setattr("dedup.config.ALGORITHM_VERSION", "passages-0")
        passage = ["dedup", "--db", sqlite_url, "--archive", str(folder)]
        assert runner.invoke(main, passage).exit_code == 0  # the passage index, left alone
        assert runner.invoke(main, args).exit_code == 0
    index = (folder / "passage" / "index.json").read_bytes()
    store_articles(sqlite_url, LATE_COPY)
    upgraded = runner.invoke(main, args)
    assert upgraded.exit_code == 0, upgraded.output
    said, summary = upgraded.output.splitlines()[:2]
    assert said == (f"dedup: rebuilding the document archive in {folder} from the articles "
                    "table, as this version cannot extend it: archive built with other "
                    f"fingerprint parameters (algorithm: 'passages-0' stored, "
                    f"{ALGORITHM_VERSION!r} now)")
    assert summary.startswith("dedup (rebuild): 4 articles (4 new) -> 2 stories (1 with copies)")
    assert (folder / "passage" / "index.json").read_bytes() == index
    after = decided(sqlite_url)
    assert frozenset({"a.example", "b.example", "d.example"}) in after[0]
    again = runner.invoke(main, args)
    assert "dedup (incremental): 4 articles (0 new)" in again.output
    assert "rebuilding" not in again.output
    assert runner.invoke(main, [*args, "--rebuild"]).exit_code == 0
    assert decided(sqlite_url) == after


def test_affected_stories_cover_every_move() -> None:
    old = np.array([10, 10, 12, -1, 14])
    new = np.array([10, 10, 10, 13, 14])
    assert affected_stories(old, new).tolist() == [10, 12, 13]
    assert affected_stories(new, new).size == 0


def test_canonical_reason_says_what_decided() -> None:
    t = datetime(2026, 3, 4, 8, tzinfo=UTC)
    assert canonical_reason(t, [t.replace(hour=11)]) == (
        "earliest published (2026-03-04 08:00, 3.0 h before the next)")
    assert canonical_reason(t, [None]) == "earliest published (the only page with a date)"
    assert canonical_reason(t, [t]).startswith("same publication time")
    assert canonical_reason(None, [None]).startswith("same publication time")


def test_two_jobs_never_share_an_archive(store, any_db_url: str, tmp_path: Path) -> None:
    from crawler.statedir import StateDir

    folder = tmp_path / "archive"
    with store() as session:
        _store(session, ORIGINAL)
        with StateDir(folder, any_db_url).lock():  # either level's job holds it
            with pytest.raises(DedupStateError, match="another dedup job"):
                run_document_dedup(session, folder, any_db_url)
            with pytest.raises(DedupStateError, match="another dedup job"):
                run_dedup(session, folder=folder)
        assert run_document_dedup(session, folder, any_db_url).articles == 1
        assert run_dedup(session, folder=folder).articles == 1
