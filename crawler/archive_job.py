"""The document-level dedup job: stories of a large store through an on-disk ``dedup.archive``.

The passage level (``crawler.dedup_job``) holds its whole index in memory while it runs (about
20 KB an article): right for a crawl's thousands of pages, not for years of them. This job
keeps a ``dedup.archive.Archive`` in the database's state directory (``crawler.statedir``), adds
the stored articles it does not hold yet (streamed from the database in batches), and writes the
document-level stories to the same ``stories`` / ``story_members`` tables, so reports and SQL
work unchanged. It makes no passage links (quotes and digests are the passage level's):
``passage_links`` is emptied.

Only the stories whose members changed are rewritten. The database is the truth for what was
written before: a story is replaced when any of its members moved, so a run that stopped half
way is repaired by the next. An archive cannot forget or change a document: when an article it
holds was changed or deleted since its last run, the archive is rebuilt from scratch; so is an
archive an earlier version (or other pinned parameters) built, said in one line.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from itertools import chain, pairwise
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crawler.dedup_job import DedupSummary, run_dedup, to_document
from crawler.statedir import PASSAGE_DIR, STATE_FILE, StateDir, rebuilding
from crawler.store.models import Article, DedupRun, PassageLink, Story, StoryMember, utcnow
from dedup import DedupConfig, Document
from dedup.archive import Archive, OutdatedArchive

#: ``dedup_runs.params["level"]`` of the runs this job records.
LEVEL = "document"
#: Bound parameters per ``IN (...)`` list (below every backend's limit).
_IN_CHUNK = 500
#: Articles signed and added per batch (their texts are in memory together).
_BATCH = 20_000
#: Stories inserted per statement batch.
_STORY_CHUNK = 20_000
#: The article columns a ``Document`` is made of (``to_document``).
_DOCUMENT_COLUMNS = (Article.id, Article.url, Article.site, Article.text, Article.title,
                     Article.author, Article.published, Article.declared_canonical)


def _chunks(values: Sequence[int], size: int = _IN_CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(values), size):
        yield list(values[i:i + size])


def affected_stories(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The canonical article ids whose stories must be rewritten, from each archived article's
    canonical id before (``old``, as stored; -1: in no story) and after (``new``): every story an
    article left or joined. Replacing the stored stories with these canonicals by the new
    stories with these canonicals leaves every article in exactly one story."""
    moved = old != new
    return np.unique(np.concatenate([new[moved], old[moved & (old >= 0)]]))


def canonical_reason(canonical: datetime | None, others: list[datetime | None]) -> str:
    """Why the archive chose its canonical page (earliest published, then most content, then
    first stored), in the words of the passage level's reasons."""
    dated = [d for d in others if d is not None]
    if canonical is not None and all(canonical < d for d in dated):
        if not dated:
            return "earliest published (the only page with a date)"
        gap = (min(dated) - canonical).total_seconds() / 3600
        return f"earliest published ({canonical:%Y-%m-%d %H:%M}, {gap:.1f} h before the next)"
    return "same publication time as another page (or none): most content, then first stored"


class DocumentJob:
    """One run of the document-level job over ``session``'s store and the archive in ``folder``."""

    def __init__(self, session: Session, folder: Path | None, db_url: str,
                 config: DedupConfig | None = None) -> None:
        self.session = session
        self.dir = StateDir(folder, db_url)
        self.folder = self.dir.folder
        self.config = config or DedupConfig()

    # -- the archive ------------------------------------------------------------------------

    def _state(self) -> dict | None:
        """The directory's record if it holds this job's last run (the passage level records
        only the database)."""
        state = self.dir.check()
        return state if state is not None and "run" in state else None

    def _open(self, rebuild: bool, say: Callable[[str], None] | None) -> Archive:
        """The archive, emptied first for a rebuild, a directory without this job's record or
        an archive an earlier version (or other pinned parameters) built (said to ``say``)."""
        state = self._state()
        if rebuild or state is None:
            self._clear()
        try:
            return Archive(self.folder, self.config)
        except OutdatedArchive as exc:
            if say is not None:
                say(rebuilding("document archive", self.folder, exc))
        self._clear()
        return Archive(self.folder, self.config)

    def _clear(self) -> None:
        """Remove the archive from the state directory (checked: ``StateDir.check``); the
        passage level's index and the record stay."""
        if not self.folder.exists():
            return
        for path in self.folder.iterdir():
            if path.name in (STATE_FILE, PASSAGE_DIR):
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

    def _stale(self, archive: Archive, stored: np.ndarray, state: dict | None) -> bool:
        """Does the archive hold an article that was deleted or changed since its last run?"""
        if not len(archive) or state is None:
            return False
        if np.isin(archive.ids, stored).sum() < len(archive):
            return True
        since = datetime.fromisoformat(state["started"])
        changed = np.fromiter(self.session.scalars(
            select(Article.id).where(Article.updated_at >= since)), dtype=np.int64)
        return bool(np.isin(changed, archive.ids).any())

    def _new_documents(self, ids: np.ndarray) -> Iterator[list[Document]]:
        """The articles ``ids`` as documents, ``_BATCH`` at a time (texts loaded per batch)."""
        for i in range(0, ids.shape[0], _BATCH):
            docs: list[Document] = []
            for chunk in _chunks(ids[i:i + _BATCH].tolist()):
                rows = self.session.execute(select(*_DOCUMENT_COLUMNS).where(Article.id.in_(chunk)))
                docs += [to_document(row) for row in rows]  # rows, not entities: nothing kept
            docs.sort(key=lambda d: d.id)
            yield docs

    # -- the stories ------------------------------------------------------------------------

    def _stored_canonicals(self, ids: np.ndarray) -> np.ndarray:
        """Per article of ``ids``: the canonical article id of its stored story (-1: none)."""
        rows = self.session.execute(
            select(StoryMember.article_id, Story.canonical_article_id).join(Story)).all()
        out = np.full(ids.shape[0], -1, np.int64)
        if rows:  # rows flattened: numpy reads SQLAlchemy rows slowly
            got = np.fromiter(chain.from_iterable(rows), np.int64, 2 * len(rows)).reshape(-1, 2)
            order = np.argsort(ids)
            at = np.searchsorted(ids, got[:, 0], sorter=order).clip(max=ids.shape[0] - 1)
            hit = ids[order[at]] == got[:, 0]
            out[order[at[hit]]] = got[hit, 1]
        return out

    def _published(self, ids: list[int]) -> dict[int, datetime | None]:
        out: dict[int, datetime | None] = {}
        for chunk in _chunks(ids):
            out.update(self.session.execute(
                select(Article.id, Article.published).where(Article.id.in_(chunk))).all())
        return out

    def _delete_stories(self, canonicals: list[int] | None) -> None:
        """Delete the stories with these canonical articles (None: every story) and their
        members; passage links go too (the document level makes none)."""
        self.session.execute(delete(PassageLink))
        if canonicals is None:
            self.session.execute(delete(StoryMember))
            self.session.execute(delete(Story))
            return
        for chunk in _chunks(canonicals):
            doomed = select(Story.id).where(Story.canonical_article_id.in_(chunk))
            self.session.execute(delete(StoryMember).where(StoryMember.story_id.in_(doomed)))
            self.session.execute(delete(Story).where(Story.canonical_article_id.in_(chunk)))

    def _insert_stories(self, archive: Archive, story: np.ndarray, rows: np.ndarray,
                        run: DedupRun) -> None:
        """Insert the stories of archive ``rows`` (``story``: each row's canonical row; every
        member of a story among them), each member with its content's containment in the
        canonical page, ``_STORY_CHUNK`` stories a statement batch."""
        if not rows.size:
            return
        order = rows[np.lexsort((rows, story[rows]))]
        starts = np.flatnonzero(np.diff(story[order], prepend=-1))  # each story's first row
        bounds = [*starts[::_STORY_CHUNK].tolist(), order.shape[0]]
        for lo, hi in pairwise(bounds):
            self._insert_part(archive, story, order[lo:hi], run)

    def _insert_part(self, archive: Archive, story: np.ndarray, part: np.ndarray,
                     run: DedupRun) -> None:
        """Insert the whole stories whose rows are ``part`` (sorted by story)."""
        ids = archive.ids
        similarity = archive.containment(part, story[part])
        member_ids = ids[part].tolist()
        published = self._published(member_ids)
        groups = np.split(np.arange(part.shape[0]), np.flatnonzero(np.diff(story[part])) + 1)
        stories: list[dict] = []
        for g in groups:
            canon = int(ids[story[part[g[0]]]])
            members = [member_ids[i] for i in g.tolist()]
            known = sorted(d for d in (published[m] for m in members) if d is not None)
            stories.append({
                "canonical_article_id": canon,
                "canonical_reason": canonical_reason(
                    published[canon], [published[m] for m in members if m != canon]),
                "size": len(members),
                "first_published": known[0] if known else None,
                "last_published": known[-1] if known else None,
                "dedup_run_id": run.id,
            })
        table = Story.__table__  # Core inserts: no ORM bookkeeping for millions of rows
        made = self.session.execute(insert(table).returning(
            table.c.id, sort_by_parameter_order=True), stories).scalars().all()
        canonical = (part == story[part]).tolist()
        self.session.execute(insert(StoryMember.__table__), [
            {"article_id": member_ids[i], "story_id": story_id,
             "similarity": float(similarity[i]), "is_canonical": canonical[i]}
            for story_id, g in zip(made, groups, strict=True) for i in g.tolist()])

    def _last_run(self) -> tuple[int, str] | None:
        """(id, level) of the last finished dedup run, None if none."""
        row = self.session.execute(select(DedupRun.id, DedupRun.params)
                                   .where(DedupRun.finished_at.is_not(None))
                                   .order_by(DedupRun.id.desc()).limit(1)).first()
        if row is None:
            return None
        return row.id, json.loads(row.params).get("level", "passage")

    def _old_canonicals(self, archive: Archive, before: np.ndarray, last: tuple[int, str],
                        state: dict | None) -> np.ndarray:
        """Per archived article, the canonical id of its stored story (-1: none). When the last
        finished run is the one that saved this archive, that is the archive's own last
        decision (``before``); otherwise (a run that saved the archive but did not commit) the
        database is read."""
        if state is not None and state.get("run") == last[0]:
            old = np.full(len(archive), -1, np.int64)
            old[:before.shape[0]] = archive.ids[before]
            return old
        return self._stored_canonicals(archive.ids)

    # -- the run ----------------------------------------------------------------------------

    def run(self, rebuild: bool = False, say: Callable[[str], None] | None = None
            ) -> DedupSummary:
        """Add the new articles to the archive, decide, rewrite the stories that changed, save
        the archive and commit (one transaction for the stories)."""
        started = utcnow()
        last = self._last_run()
        archive = self._open(rebuild, say)
        state = self._state()
        stored = np.fromiter(self.session.scalars(select(Article.id)), dtype=np.int64)
        mode = "rebuild" if rebuild or not len(archive) else "incremental"
        if self._stale(archive, stored, state):
            self._clear()
            archive, mode = Archive(self.folder, self.config), "rebuild"
        before = archive.story.copy()
        new = np.sort(stored[~np.isin(stored, archive.ids)])
        params = {"level": LEVEL, "archive": str(self.folder.resolve()), **asdict(self.config)}
        run = DedupRun(mode=mode, params=json.dumps(params, sort_keys=True, default=str))
        self.session.add(run)
        self.session.flush()
        for docs in self._new_documents(new):
            archive.add(docs)
        story = archive.result()
        if mode == "incremental" and last is not None and last[1] == LEVEL:
            canon = archive.ids[story]
            affected = affected_stories(self._old_canonicals(archive, before, last, state), canon)
            self._delete_stories(affected.tolist())
            rows = np.flatnonzero(np.isin(canon, affected))
        else:  # a new archive, or the stories are the passage level's: every story anew
            self._delete_stories(None)
            rows = np.arange(len(archive))
        self._insert_stories(archive, story, rows, run)
        sizes = np.bincount(story, minlength=len(archive))
        run.articles = len(archive)
        run.stories = int((sizes > 0).sum())
        run.links = 0
        run.finished_at = utcnow()
        self.session.flush()
        archive.save()
        self.dir.write(started=started.isoformat(), run=run.id)
        self.session.commit()
        return DedupSummary(run_id=run.id, mode=mode, articles=len(archive),
                            new=int(new.shape[0]), stories=run.stories,
                            multi_stories=int((sizes > 1).sum()), links=0)


def run_document_dedup(session: Session, folder: Path | None, db_url: str,
                       config: DedupConfig | None = None, rebuild: bool = False,
                       say: Callable[[str], None] | None = None) -> DedupSummary:
    """The document-level job (see the module doc) in one call, holding the state directory's
    lock (``folder``, default: this database's); an archive an earlier version built is rebuilt,
    said in one line to ``say``."""
    job = DocumentJob(session, folder, db_url, config)
    with job.dir.lock():
        return job.run(rebuild, say)


def run_level(session: Session, level: str, db_url: str, folder: Path | None,
              rebuild: bool = False, say: Callable[[str], None] | None = None) -> DedupSummary:
    """The dedup job of ``level``: the document level through the archive in ``folder``, else
    the passage level (``crawler.dedup_job``) with its index in ``folder`` (default: this
    database's state directory); ``say`` hears why stored state is rebuilt."""
    if level == LEVEL:
        return run_document_dedup(session, folder, db_url, rebuild=rebuild, say=say)
    return run_dedup(session, rebuild=rebuild, folder=folder, say=say)
