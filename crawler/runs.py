"""Every crawl run recorded: start, end, status and, per source, what it fetched and found.

Pure functions turn the crawl's counters into rows; thin functions over a Session store and read
them for ``newsdedup runs`` and ``newsdedup sources``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from crawler.config import EXIT_FAILED, EXIT_INTERRUPTED
from crawler.store.models import Article, CrawlRun, CrawlRunSource, FetchState, Story, StoryMember, utcnow

#: Per-source counters copied from the crawl stats (``newsdedup/source/<name>/<key>``).
SOURCE_COUNTERS = {"fetched": "fetched", "new": "stored", "changed": "changed",
                   "unchanged": "unchanged", "failed": "failed", "dropped": "dropped",
                   "not_modified": "not_modified", "not_due": "not_due"}
#: Finish reasons of a crawl that ran to its end.
FINISHED = ("finished",)
#: Finish reason of a worker whose shared frontier (Redis) went away: its run failed.
FRONTIER_LOST = "frontier_lost"


def source_status(name: str, requested: Iterable[str], reached: Iterable[str]) -> str:
    """"ok" when something of the source answered, "failed" when nothing did, "idle" when nothing
    was due (no request made)."""
    if name in set(reached):
        return "ok"
    return "failed" if name in set(requested) else "idle"


def source_rows(stats: Mapping[str, Any], sources: Iterable[str], requested: Iterable[str],
                reached: Iterable[str], failures: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """One row per source from the crawl's counters."""
    requested, reached = set(requested), set(reached)
    rows = []
    for name in sources:
        prefix = f"newsdedup/source/{name}/"
        row: dict[str, Any] = {"source": name, "status": source_status(name, requested, reached)}
        for column, key in SOURCE_COUNTERS.items():
            row[column] = int(stats.get(prefix + key, 0))
        reasons = {k[len(prefix + "dropped/"):]: int(v) for k, v in stats.items()
                   if k.startswith(prefix + "dropped/")}
        row["dropped_reasons"] = dict(sorted(reasons.items()))
        row["errors"] = list(failures.get(name, []))[:5]
        rows.append(row)
    return rows


#: Counters of what a crawl left to the next run: articles that could not be stored, requests a
#: fault failed (a timeout, a reset, a cut body, 5xx, 429; not a 404 or a redirect loop), pages
#: or documents a callback could not read.
LEFT_OVER = ("newsdedup/store_failed", "newsdedup/faults", "newsdedup/spider_errors")


def left_over(stats: Mapping[str, Any]) -> int:
    """How many articles or requests the crawl with these counters left to the next run."""
    return sum(int(stats.get(key, 0)) for key in LEFT_OVER)


def run_status(finish_reason: str | None, rows: list[dict[str, Any]], left: int = 0) -> str:
    """"interrupted" (stopped before its end), "failed" (no source answered), "partial" (some did
    not, or ``left`` articles or requests were left to the next run), else "ok"."""
    if finish_reason == FRONTIER_LOST:
        return "failed"
    if finish_reason not in FINISHED:
        return "interrupted"
    statuses = [r["status"] for r in rows]
    if "failed" in statuses and "ok" not in statuses:
        return "failed"
    return "partial" if "failed" in statuses or left else "ok"


def exit_status(status: str, left: int = 0) -> int:
    """The exit status of a crawl that ended with run status ``status``: 130 interrupted; 1 when
    no source answered, or an article could not be stored or a fault failed a request (``left``:
    the next run fetches them); else 0 (a partial run whose sources answered only with a
    definite no, such as a 404, is retried by the next run anyway)."""
    if status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_FAILED if status == "failed" or left else 0


# -- store ------------------------------------------------------------------------------------
def start_run(session: Session, command: str, owner: str) -> int:
    """Record a run as ``running`` and return its id (committed at once)."""
    run = CrawlRun(command=command, owner=owner, status="running", started_at=utcnow())
    session.add(run)
    session.commit()
    return run.id


def run_running(session: Session, run_id: int) -> bool:
    """Whether the run ``run_id`` is recorded and still ``running``."""
    return session.scalar(select(CrawlRun.status).where(CrawlRun.id == run_id)) == "running"


def abandon_stale_runs(session: Session, keep: int | None = None) -> int:
    """Mark runs still ``running`` (their process died; we hold the lock now) as ``abandoned``."""
    stmt = update(CrawlRun).where(CrawlRun.status == "running")
    if keep is not None:
        stmt = stmt.where(CrawlRun.id != keep)
    result = session.execute(stmt.values(status="abandoned"))
    session.commit()
    return result.rowcount


def finish_crawl(session: Session, run_id: int, stats: Mapping[str, Any], rows: list[dict[str, Any]],
                 finish_reason: str | None) -> str:
    """Store the per-source rows and the global counters; returns the run's status."""
    run = session.get(CrawlRun, run_id)
    assert run is not None
    run.sources = [
        CrawlRunSource(**{**r, "dropped_reasons": json.dumps(r["dropped_reasons"]),
                          "errors": json.dumps(r["errors"])})
        for r in rows
    ]
    run.finish_reason = finish_reason
    run.stats = json.dumps({k: v for k, v in stats.items() if k.startswith("newsdedup/")
                            and "/source/" not in k}, sort_keys=True, default=str)
    run.status = run_status(finish_reason, rows, left_over(stats))
    run.finished_at = utcnow()
    session.commit()
    return run.status


def merge_statuses(a: str, b: str) -> str:
    """A source's status over two workers: "ok" when either reached it, else "failed" when either
    tried, else "idle"."""
    for status in ("ok", "failed"):
        if status in (a, b):
            return status
    return "idle"


def add_worker(session: Session, run_id: int, worker: str, stats: Mapping[str, Any],
               rows: list[dict[str, Any]], finish_reason: str | None) -> None:
    """Add one worker's counters to the run of a crawl shared by several (``--frontier``): per
    source they add up, the run's finish reason is the first that was not "finished", its
    stats list the workers."""
    # a write first: it takes PostgreSQL's row lock and SQLite's write lock before anything is read
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(status=CrawlRun.status))
    run = session.get(CrawlRun, run_id, populate_existing=True)
    assert run is not None
    have = {r.source: r for r in run.sources}
    for r in rows:
        row = have.get(r["source"])
        if row is None:
            run.sources.append(CrawlRunSource(**{**r, "dropped_reasons": json.dumps(r["dropped_reasons"]),
                                                 "errors": json.dumps(r["errors"])}))
            continue
        row.status = merge_statuses(row.status, r["status"])
        for column in SOURCE_COUNTERS:
            setattr(row, column, (getattr(row, column) or 0) + r[column])
        reasons = json.loads(row.dropped_reasons)
        for reason, count in r["dropped_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
        row.dropped_reasons = json.dumps(dict(sorted(reasons.items())))
        row.errors = json.dumps((json.loads(row.errors) + r["errors"])[:5])
    merged = json.loads(run.stats or "{}")
    for key, value in stats.items():
        if key.startswith("newsdedup/") and "/source/" not in key and isinstance(value, int | float):
            merged[key] = merged.get(key, 0) + value
    merged["workers"] = [*merged.get("workers", []), worker]
    run.stats = json.dumps(merged, sort_keys=True, default=str)
    if run.finish_reason in (None, *FINISHED):
        run.finish_reason = finish_reason
    session.commit()


def end_shared_run(session: Session, run_id: int, error: str | None = None) -> str:
    """The last worker of a shared crawl (or one that lost the frontier) ends its run: the status
    from every worker's counters."""
    run = session.get(CrawlRun, run_id)
    assert run is not None
    if error:
        run.error, run.finish_reason = error, FRONTIER_LOST
    rows = [{"status": r.status} for r in run.sources]
    run.status = run_status(run.finish_reason, rows, left_over(json.loads(run.stats or "{}")))
    run.finished_at = utcnow()
    session.commit()
    return run.status


def discard_run(session: Session, run_id: int) -> None:
    """Delete a run record made in vain (another worker of the crawl recorded its run first)."""
    run = session.get(CrawlRun, run_id)
    if run is not None:
        session.delete(run)
        session.commit()


def fail_run(session: Session, run_id: int, status: str, error: str) -> None:
    """End a run that did not get to record its counters."""
    run = session.get(CrawlRun, run_id)
    if run is not None:
        run.status, run.error, run.finished_at = status, error[:2000], utcnow()
        session.commit()


def note_run_error(session: Session, run_id: int, error: str) -> None:
    """Attach an error to a run, keeping its status."""
    run = session.get(CrawlRun, run_id)
    if run is not None:
        run.error = error if not run.error else f"{run.error}; {error}"
        session.commit()


def record_duplicates(session: Session, run_id: int) -> dict[str, int]:
    """After dedup: per source, the articles stored or changed by this run that are copies
    (non-canonical members of a story with more than one article)."""
    run = session.get(CrawlRun, run_id)
    assert run is not None
    counts = dict(session.execute(
        select(Article.source, func.count())
        .join(StoryMember, StoryMember.article_id == Article.id)
        .join(Story, Story.id == StoryMember.story_id)
        .where(Article.updated_at >= run.started_at, Story.size > 1, ~StoryMember.is_canonical)
        .group_by(Article.source)
    ).all())
    for row in run.sources:
        row.duplicates = int(counts.get(row.source, 0))
    run.finished_at = utcnow()
    session.commit()
    return counts


# -- read -------------------------------------------------------------------------------------
def _source_dict(row: CrawlRunSource) -> dict[str, Any]:
    keys = ("source", "status", *SOURCE_COUNTERS, "duplicates")
    return {**{k: getattr(row, k) for k in keys}, "dropped_reasons": json.loads(row.dropped_reasons),
            "errors": json.loads(row.errors)}


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def run_dict(run: CrawlRun) -> dict[str, Any]:
    """A run with its per-source rows and totals, JSON-ready."""
    sources = [_source_dict(s) for s in run.sources]
    totals = {k: sum(s[k] for s in sources) for k in SOURCE_COUNTERS}
    dups = [s["duplicates"] for s in sources if s["duplicates"] is not None]
    totals["duplicates"] = sum(dups) if dups else None
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    workers = json.loads(run.stats or "{}").get("workers", []) if run.stats else []
    return {"id": run.id, "command": run.command, "owner": run.owner, "workers": workers,
            "status": run.status,
            "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
            "seconds": round(seconds, 1) if seconds is not None else None,
            "finish_reason": run.finish_reason, "error": run.error, "totals": totals,
            "sources": sources}


def recent_runs(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs first."""
    runs = session.scalars(select(CrawlRun).options(selectinload(CrawlRun.sources))
                           .order_by(CrawlRun.id.desc()).limit(limit))
    return [run_dict(r) for r in runs]


def one_run(session: Session, run_id: int) -> dict[str, Any] | None:
    run = session.get(CrawlRun, run_id)
    return run_dict(run) if run is not None else None


@dataclass(frozen=True)
class SourceHealth:
    source: str
    runs: int
    last_run: int | None
    last_status: str | None
    last_ok: str | None  #: start of the newest run in which the source answered
    failing_streak: int  #: consecutive newest runs in which it failed (idle runs skipped)
    new_total: int
    documents: int  #: feeds, sitemaps, start pages with a fetch state
    next_due: str | None
    last_error: str | None


def failing_streak(statuses: Iterable[str]) -> int:
    """How many of the newest runs (newest first) failed in a row, idle runs not counting."""
    streak = 0
    for status in statuses:
        if status == "idle":
            continue
        if status != "failed":
            break
        streak += 1
    return streak


def source_health(session: Session) -> list[SourceHealth]:
    """Per source seen in any run: its run history summed up, newest first within each source."""
    rows = session.execute(
        select(CrawlRunSource, CrawlRun.started_at).join(CrawlRun)
        .order_by(CrawlRunSource.source, CrawlRun.id.desc())
    ).all()
    by_source: dict[str, list[tuple[CrawlRunSource, datetime]]] = {}
    for row, started in rows:
        by_source.setdefault(row.source, []).append((row, started))
    docs = session.execute(
        select(FetchState.source, func.count(), func.min(FetchState.next_due)).group_by(FetchState.source)
    ).all()
    doc_info = {name: (count, due) for name, count, due in docs}
    out = []
    for name in sorted(set(by_source) | set(doc_info)):
        history = by_source.get(name, [])
        count, due = doc_info.get(name, (0, None))
        last_ok = next((started for r, started in history if r.status == "ok"), None)
        last_error = next((json.loads(r.errors)[0] for r, _ in history if json.loads(r.errors)), None)
        out.append(SourceHealth(
            source=name, runs=len(history),
            last_run=history[0][0].run_id if history else None,
            last_status=history[0][0].status if history else None,
            last_ok=_iso(last_ok), failing_streak=failing_streak(r.status for r, _ in history),
            new_total=sum(r.new for r, _ in history), documents=count, next_due=_iso(due),
            last_error=last_error,
        ))
    return out
