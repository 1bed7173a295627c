"""The dedup stage as a job: load stored articles, run ``dedup``, store stories and passage links.

The index is kept between runs as files in the database's state directory
(``crawler.statedir``: ``DIR/passage``, ``DedupIndex.save``); article texts stay in the
articles table and are passed back when it is opened. An index an earlier version (or other
pinned parameters) built is rebuilt from the articles, said in one line; one that cannot be
read is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crawler.statedir import PASSAGE_DIR, DedupStateError, StateDir, rebuilding
from crawler.store.models import (
    Article,
    DedupRun,
    DedupState,
    PassageLink,
    Story,
    StoryMember,
    utcnow,
)
from crawler.urls import canonical_url
from dedup import DedupConfig, DedupIndex, DedupResult, Document, IndexMismatch
from dedup.index import REBUILD_ADVICE, OutdatedIndex, StaleDocuments


@dataclass(frozen=True)
class DedupSummary:
    run_id: int
    mode: str  #: "incremental" or "rebuild"
    articles: int
    new: int  #: articles matched for the first time
    stories: int
    multi_stories: int
    links: int


def to_document(row: Article) -> Document:
    """The dedup view of a stored article."""
    return Document(
        id=row.id,
        url=row.url,
        site=row.site,
        text=row.text,
        title=row.title,
        author=row.author,
        published=row.published,
        canonical_url=row.declared_canonical,
    )


def find_document(session: Session, url: str) -> Document | None:
    """The stored article with this canonical or fetched URL, or whose key is this URL's
    canonical form (a URL pasted with its #fragment or utm_ parameters)."""
    row = session.scalars(
        select(Article).where(Article.url.in_({url, canonical_url(url)}) | (Article.fetched_url == url))
        .limit(1)
    ).first()
    return to_document(row) if row is not None else None


def load_documents(session: Session) -> list[Document]:
    return [to_document(row) for row in session.scalars(select(Article).order_by(Article.id))]


def save_result(session: Session, result: DedupResult, run: DedupRun,
                published: dict[int, object]) -> dict[int, int]:
    """Replace stories, members and passage links by ``result``. Returns article id -> story id."""
    session.execute(delete(PassageLink))
    session.execute(delete(StoryMember))
    session.execute(delete(Story))
    story_of: dict[int, int] = {}
    for story in result.stories:
        dates = sorted(d for d in (published.get(m) for m in story.members) if d is not None)
        row = Story(
            canonical_article_id=story.canonical,
            canonical_reason=story.reason,
            size=len(story.members),
            first_published=dates[0] if dates else None,
            last_published=dates[-1] if dates else None,
            dedup_run_id=run.id,
        )
        row.members = [
            StoryMember(
                article_id=member,
                similarity=float(story.similarity.get(member, 1.0 if member == story.canonical else 0.0)),
                is_canonical=member == story.canonical,
            )
            for member in story.members
        ]
        session.add(row)
        session.flush()
        for member in story.members:
            story_of[member] = row.id
    for link in result.links:
        session.add(
            PassageLink(
                article_id=link.doc,
                source_article_id=link.source_doc,
                story_id=story_of.get(link.source_doc),
                passage=link.text,
                article_start=link.doc_start,
                article_end=link.doc_end,
                source_start=link.source_start,
                source_end=link.source_end,
                similarity=float(link.similarity),
            )
        )
    return story_of


#: Name of the index's row in ``dedup_state`` (where versions before the state directory kept
#: it; every such row predates today's algorithm: refused, deleted by the next save).
INDEX_STATE = "index"


def load_index(session: Session, config: DedupConfig,
               folder: Path | None = None) -> DedupIndex | None:
    """The persisted index as a reader sees it (``explain``; nothing is changed): the files in
    the state directory ``folder`` (default: this database's), else a ``dedup_state`` row an
    earlier version left. None when there is none or it no longer matches the stored articles.
    Raises DedupStateError on a directory of another database or an index it cannot use (the
    dedup job rebuilds an outdated one)."""
    state = StateDir(folder, _db_url(session))
    state.check()
    try:
        return _open_index(session, config, state.folder, None, recover=False)
    except IndexMismatch as exc:
        raise _unusable(exc) from exc


def _open_index(session: Session, config: DedupConfig, folder: Path,
                docs: dict[int, Document] | None, recover: bool) -> DedupIndex | None:
    """The index in the state directory ``folder`` (``passage/``), else a ``dedup_state`` row
    an earlier version left (moved into files by the next ``_save_index``); None when there is
    none or it no longer matches the stored articles (``docs``, loaded when not given: the index
    keeps no texts). ``IndexMismatch`` when it cannot be used. ``recover``: the dedup job (the
    one writer) also removes what an interrupted save left; a reader changes nothing."""
    if docs is None:
        docs = {d.id: d for d in load_documents(session)}
    try:
        index = DedupIndex.open(folder / PASSAGE_DIR, config, docs, recover=recover)
        if index is None and session.get(DedupState, INDEX_STATE) is not None:
            raise OutdatedIndex("the index is a `dedup_state` row of an earlier version",
                                REBUILD_ADVICE)
        return index
    except StaleDocuments:
        return None


def _unusable(exc: IndexMismatch) -> DedupStateError:
    """The one error of an index that is refused (corrupt, or outdated for a reader)."""
    return DedupStateError(f"the stored dedup index cannot be used: {exc}")


def _save_index(session: Session, index: DedupIndex, state: StateDir) -> None:
    """Persist the index without article texts (the articles table has them) in the state
    directory, tied to this database; an earlier version's ``dedup_state`` row goes (in the
    caller's transaction)."""
    state.write()  # claimed before anything is written in it
    index.save(state.folder / PASSAGE_DIR)
    session.execute(delete(DedupState).where(DedupState.name == INDEX_STATE))


def _db_url(session: Session) -> str:
    """The URL of the database ``session`` is bound to (with its password: parsed again)."""
    return session.get_bind().url.render_as_string(hide_password=False)


def _usable(index: DedupIndex, docs: dict[int, Document]) -> bool:
    """An index can be extended when every document it holds is still stored, unchanged."""
    return all(docs.get(doc_id) == doc for doc_id, doc in index.documents.items())


def run_dedup(session: Session, config: DedupConfig | None = None, rebuild: bool = False,
              folder: Path | None = None, say: Callable[[str], None] | None = None
              ) -> DedupSummary:
    """Match new articles against the persisted index (or rebuild it) and store the stories,
    in one transaction, holding the state directory's lock (``folder``, default: this
    database's). A rebuild gives the same stories as the incremental path; so does a run after
    a missing directory or an index an earlier version (or other pinned parameters) built: both
    are rebuilt from the articles, the latter said in one line to ``say``."""
    state = StateDir(folder, _db_url(session))
    with state.lock():
        state.check()
        return _run(session, config or DedupConfig(), rebuild, state, say)


def _run(session: Session, config: DedupConfig, rebuild: bool, state: StateDir,
         say: Callable[[str], None] | None) -> DedupSummary:
    docs = {d.id: d for d in load_documents(session)}
    index = None
    if not rebuild:
        try:
            index = _open_index(session, config, state.folder, docs, recover=True)
        except OutdatedIndex as exc:
            if say is not None:
                say(rebuilding("passage index", state.folder / PASSAGE_DIR, exc))
        except IndexMismatch as exc:
            raise _unusable(exc) from exc
    mode = "incremental"
    if index is None or not _usable(index, docs):
        index, mode = DedupIndex(config), "rebuild"
    new = [doc for doc_id, doc in docs.items() if doc_id not in index]
    run = DedupRun(mode=mode, params=json.dumps({"level": "passage", **asdict(config)},
                                                sort_keys=True, default=str), started_at=utcnow())
    index.add(new)
    result = index.result()
    _save_index(session, index, state)  # files before the stories: a later failure is harmless
    # Written only now: a write transaction open during the matching (numba compiles its kernels
    # on a machine's first run) would lock SQLite against the crawl lock's heartbeat.
    session.add(run)
    session.flush()
    save_result(session, result, run, {d.id: d.published for d in docs.values()})
    run.articles = len(docs)
    run.stories = len(result.stories)
    run.links = len(result.links)
    run.finished_at = utcnow()
    session.commit()
    return DedupSummary(
        run_id=run.id,
        mode=mode,
        articles=len(docs),
        new=len(new),
        stories=len(result.stories),
        multi_stories=sum(1 for s in result.stories if len(s.members) > 1),
        links=len(result.links),
    )
