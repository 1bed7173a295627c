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
from crawler.dedup_job import run_dedup
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


def test_index_built_with_other_settings_is_rebuilt_saying_why(store) -> None:
    with store() as session:
        upsert_article(session, ORIGINAL)
        session.commit()
        run_dedup(session)
        other = replace(DedupConfig(), shingle_size=DedupConfig().shingle_size + 1)
        said: list[str] = []
        assert run_dedup(session, config=other, say=said.append).mode == "rebuild"
        (line,) = said
        assert line.startswith("rebuilding the passage index in ") and "shingle_size: 5 stored, 6 now" in line
        assert run_dedup(session, config=other, say=said.append).mode == "incremental"
        assert len(said) == 1


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
        assert {p.name for p in files} >= {"job.json", "index.json", "shingles.1.u64"}
        assert not any(PARAS[1][:60].encode() in p.read_bytes() for p in files)  # texts stay
        upsert_article(session, LATE_COPY)                                    # in the articles
        session.commit()
        assert run_dedup(session).mode == "incremental"
        session.execute(update(Article).where(Article.site == "c.example")
                        .values(text="An entirely different body of text now."))
        session.commit()
        again = run_dedup(session)
        assert (again.mode, again.new) == ("rebuild", 4)


def test_an_index_stored_in_the_database_is_rebuilt_into_files(store, tmp_path: Path) -> None:
    """A store written by a version that kept the index in ``dedup_state`` (one blob, of an
    earlier algorithm) is rebuilt from the articles, said in one line; the index is saved as
    files and the row deleted."""
    from crawler.dedup_job import INDEX_STATE
    from crawler.store.models import DedupState

    folder = tmp_path / "state"
    said: list[str] = []
    with store() as session:
        for art in (ORIGINAL, COPY, OTHER, LATE_COPY):
            upsert_article(session, art)
        session.add(DedupState(name=INDEX_STATE, params="{}", payload=b"NEWSDEDUP-INDEX\n{}"))
        session.commit()
        summary = run_dedup(session, folder=folder, say=said.append)
        assert (summary.mode, summary.new) == ("rebuild", 4)
        assert len(said) == 1 and "rebuilding" in said[0] and "dedup_state" in said[0]
        assert session.get(DedupState, INDEX_STATE) is None
        assert (folder / "passage" / "index.json").exists()
        assert frozenset({"a.example", "b.example", "d.example"}) in groups(stories(session))
        assert run_dedup(session, folder=folder).mode == "incremental"  # from the files now


def decided(db_url: str) -> tuple[set[frozenset[str]], set[str], list[tuple[str, str, str]]]:
    """The stories (sites), their canonical pages and the passage links a dedup stored."""
    from crawler.store.models import Article, PassageLink

    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            site = dict(session.execute(select(Article.id, Article.site)).all())
            canonical = set(session.scalars(select(Article.site).join(StoryMember)
                                            .where(StoryMember.is_canonical)))
            links = sorted((site[a], site[b], text) for a, b, text in session.execute(
                select(PassageLink.article_id, PassageLink.source_article_id, PassageLink.passage)))
            return groups(stories(session)), canonical, links
    finally:
        engine.dispose()


def store_articles(db_url: str, *arts: ArticleItem) -> None:
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        for art in arts:
            upsert_article(session, art)
        session.commit()
    engine.dispose()


@pytest.mark.parametrize("built_by", ["an older ALGORITHM_VERSION", "format 3 (ed790d9)"])
def test_dedup_rebuilds_an_index_another_version_built(
        built_by: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an upgrade `newsdedup dedup` (what `run` and `schedule` run) rebuilds the index
    another version built from the articles table, saying so in one line with the version it
    found, and exits 0; its stories, canonical pages and links equal a --rebuild's."""
    import shutil

    from dedup import ALGORITHM_VERSION

    folder = tmp_path / "state"
    args = ["dedup", "--db", sqlite_url, "--archive", str(folder)]
    runner = CliRunner()
    store_articles(sqlite_url, ORIGINAL, COPY, OTHER)
    if built_by == "format 3 (ed790d9)":
        assert runner.invoke(main, args).exit_code == 0  # the directory, claimed by this database
        shutil.rmtree(folder / "passage")
        shutil.copytree(FIXTURES / "dedup" / "index-format3", folder / "passage")
        why = "index format 3 != 4, stored by passages-9"
    else:
        with monkeypatch.context() as patch:
            patch.setattr("dedup.config.ALGORITHM_VERSION", "passages-0")
            assert runner.invoke(main, args).exit_code == 0
        why = ("index built with other parameters (algorithm: 'passages-0' stored, "
               f"{ALGORITHM_VERSION!r} now)")
    store_articles(sqlite_url, LATE_COPY)
    upgraded = runner.invoke(main, args)
    assert upgraded.exit_code == 0, upgraded.output
    said, summary = upgraded.output.splitlines()[:2]
    assert said == (f"dedup: rebuilding the passage index in {folder / 'passage'} from the "
                    f"articles table, as this version cannot extend it: {why}")
    assert summary.startswith("dedup (rebuild): 4 articles (4 new) -> 2 stories (1 with copies)")
    after = decided(sqlite_url)
    assert frozenset({"a.example", "b.example", "d.example"}) in after[0]
    assert json.loads((folder / "passage" / "index.json").read_text())["format"] == 4
    again = runner.invoke(main, args)
    assert "dedup (incremental): 4 articles (0 new)" in again.output
    assert "rebuilding" not in again.output
    assert runner.invoke(main, [*args, "--rebuild"]).exit_code == 0
    assert decided(sqlite_url) == after


def test_an_unreadable_index_is_refused_and_left_alone(sqlite_url: str, tmp_path: Path) -> None:
    """Only an index another version built is rebuilt by itself: one that cannot be read is
    refused in one line (exit status 2) and left as it is, until --rebuild replaces it."""
    folder = tmp_path / "state"
    args = ["dedup", "--db", sqlite_url, "--archive", str(folder)]
    store_articles(sqlite_url, ORIGINAL, COPY, OTHER)
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 0
    header = folder / "passage" / "index.json"
    header.write_text('{"format": 4, "params": ')  # cut short
    files = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2
    assert refused.output.startswith("newsdedup: error: the stored dedup index cannot be used: "
                                     f"unreadable {header}")
    assert len(refused.output.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files
    assert runner.invoke(main, [*args, "--rebuild"]).exit_code == 0


def test_state_directory_missing_is_rebuilt_and_another_databases_is_refused(
        any_db_url: str, tmp_path: Path) -> None:
    engine = make_engine(any_db_url)
    folder = tmp_path / "state"
    try:
        with make_sessionmaker(engine)() as session:
            for art in (ORIGINAL, COPY, OTHER):
                upsert_article(session, art)
            session.commit()
            assert run_dedup(session, folder=folder).mode == "rebuild"
            upsert_article(session, LATE_COPY)
            session.commit()
            assert run_dedup(session, folder=folder).mode == "incremental"
            kept = groups(stories(session))
            import shutil
            shutil.rmtree(folder)  # lost, or a new disk: rebuilt from the articles table
            again = run_dedup(session, folder=folder)
            assert (again.mode, again.new) == ("rebuild", 4)
            assert groups(stories(session)) == kept
    finally:
        engine.dispose()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["dedup", "--db", other, "--archive", str(tmp_path / "o")]
                         ).exit_code == 0
    refused = runner.invoke(main, ["dedup", "--db", other, "--archive", str(folder)])
    assert refused.exit_code == 2
    assert "belongs to" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert (folder / "passage" / "index.json").exists()  # left as it was
    explained = runner.invoke(main, ["explain", COPY.url, ORIGINAL.url, "--db", any_db_url,
                                     "--archive", str(folder), "--format", "json"])
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.output)["same_story"] is True


def test_default_state_directory_is_beside_a_sqlite_file_or_one_per_server_database(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from crawler.config import default_archive_dir

    monkeypatch.delenv("NEWSDEDUP_ARCHIVE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_archive_dir("sqlite:///newsdedup.db") == Path("newsdedup-archive")
    assert default_archive_dir("sqlite:////data/news.db") == Path("/data/news-archive")
    pg = "postgresql+psycopg://u:secret@db.example:5432/news"
    first = default_archive_dir(pg)
    assert first.parent == tmp_path / "newsdedup" and first.name.startswith("news-")
    assert default_archive_dir(pg.replace("secret", "other")) == first  # password aside
    assert default_archive_dir(pg.replace("/news", "/news2")) != first
    assert default_archive_dir(pg + "?options=-csearch_path%3Ds1") != first
    monkeypatch.setenv("NEWSDEDUP_ARCHIVE", "/srv/dedup")
    assert default_archive_dir(pg) == Path("/srv/dedup")


def test_sqlite_path_is_the_file_a_sqlite_url_names() -> None:
    """One test of "is this URL a SQLite file" for the state directory, the database's name and
    the engine's read-only and unwritable checks."""
    from crawler.config import sqlite_path

    assert sqlite_path("sqlite:///data/news.db") == Path("data/news.db")
    assert sqlite_path("sqlite+pysqlite:////data/news.db") == Path("/data/news.db")
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:news.db?mode=ro&uri=true",
                "postgresql+psycopg://u@db.example/news.db"):
        assert sqlite_path(url) is None, url


_KILLED_JOB = """
import os, sys, time
from crawler.dedup_job import run_dedup
from crawler.store.db import make_engine, make_sessionmaker
from dedup import DedupIndex

real_fsync, real_save = os.fsync, DedupIndex.save
os.fsync = lambda fd: (time.sleep(0.01), real_fsync(fd))  # a slow disk: a wide window to hit

def save(index, folder):
    print("saving", flush=True)
    real_save(index, folder)

DedupIndex.save = save
engine = make_engine(sys.argv[1])
with make_sessionmaker(engine)() as session:
    run_dedup(session, folder=sys.argv[2], rebuild=sys.argv[3] == "rebuild")
print("done", flush=True)
"""


def _unnamed(folder: Path) -> set[str]:
    """Files of a saved passage index its header does not name (what a killed save left)."""
    head = json.loads((folder / "index.json").read_text())
    named = {"index.json", *(file for file, _ in head["logs"].values())}
    named |= {f"{name.replace('.', '_')}.{head['generation']}.npy" for name in head["arrays"]}
    named |= {f"bands/run.{n}.{part}.npy" for n in head["runs"] for part in ("keys", "rows")}
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - named


def story_rows(session) -> set[tuple[frozenset[int], int]]:
    from crawler.store.models import Story

    return {(frozenset(m.article_id for m in s.members), s.canonical_article_id)
            for s in session.scalars(select(Story))}


def test_a_job_killed_while_saving_leaves_a_whole_index_and_the_next_run_ends_the_same(
        store, sqlite_url: str, tmp_path: Path) -> None:
    """Kill -9 the dedup job at random points of its save, article after article, incremental
    and rebuilding runs in turn: each time the state directory opens as one whole generation,
    and the next run's stories, canonical pages and links equal a rebuild's over the same
    articles."""
    import subprocess
    import sys
    import time

    import numpy as np

    from crawler.dedup_job import load_documents
    from crawler.store.models import PassageLink
    from dedup import DedupIndex

    folder = tmp_path / "state"
    pool = [LATE_COPY, *(item(f"copy{i}.example", [*PARAS[i:i + 3], FILLER[i % 2]["paragraphs"][0]],
                              TITLE, 8 + i) for i in range(3)),
            item("e.example", FILLER[1]["paragraphs"], FILLER[1]["title"], 12),
            item("f.example", [*FILLER[0]["paragraphs"][:3], PARAS[0]], FILLER[0]["title"], 13)]
    rng = np.random.default_rng(17)
    killed = 0
    with store() as session:
        for art in (ORIGINAL, COPY, OTHER):
            upsert_article(session, art)
        session.commit()
        run_dedup(session, folder=folder)
        for i, art in enumerate(pool):
            upsert_article(session, art)
            session.commit()
            mode = ("incremental", "rebuild")[i % 2]
            proc = subprocess.Popen([sys.executable, "-c", _KILLED_JOB, sqlite_url, str(folder),
                                     mode], stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None and proc.stdout.readline() == "saving\n"
            time.sleep(float(rng.uniform(0.0, 0.6)))
            proc.kill()
            killed += proc.wait() == -9
            docs = {d.id: d for d in load_documents(session)}
            whole = DedupIndex.open(folder / "passage", documents=docs)
            assert whole is not None and len(whole) in (len(docs) - 1, len(docs))
            assert _unnamed(folder / "passage") == set()  # a killed save's new files dropped
            after = run_dedup(session, folder=folder)
            assert after.mode == "incremental"
            got = story_rows(session), session.query(PassageLink).count()
            run_dedup(session, folder=tmp_path / "ref", rebuild=True)
            assert got == (story_rows(session), session.query(PassageLink).count())
    assert killed >= len(pool) // 2  # most kills landed before the job ended


def test_readme_and_help_name_one_state_directory_option() -> None:
    """--archive is the one state directory option of every command that reads or writes the
    state, in the README's command list, its section and each command's --help alike."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    commands = readme.split("## Command line\n", 1)[1].split("```\n", 2)[1]
    section = readme.split("### The dedup state directory\n", 1)[1].split("\n### ", 1)[0]
    for command in ("dedup", "run", "schedule", "explain"):
        out = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
        assert "--archive DIRECTORY" in out and "NEWSDEDUP_ARCHIVE" in out, command
        assert "beside a SQLite file" in out and ".local/state/newsdedup" in out, command
        assert f"`{command}`" in section, command
        line = next(x for x in commands.split("\nnewsdedup ") if x.startswith(command))
        assert "[--archive DIR]" in line or "dedup options" in line, command
    assert "`--archive DIR`" in section and "`$NEWSDEDUP_ARCHIVE`" in section
