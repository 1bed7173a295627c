"""The document-level dedup job through the store: what `newsdedup dedup --level document` costs.

Fills a SQLite store (in the system temp dir, once per size, copied for each run) with
``--articles`` generated articles (``corpus.archive``: real bodies with syndication edits; the
text store of ``bench/scale.py``), runs the document-level job from
scratch, adds ``--new`` more articles and runs it again (incremental), then once more with
nothing new. Same run, for the ratio: the archive alone (``dedup.archive.build``, no database)
on the same articles, so the job's own cost (reading texts, writing stories) shows.

    python bench/dedup_job.py [--articles 100000] [--new 10000]

Last line: JSON with articles, build_seconds, peak_rss_mb, incremental_seconds,
incremental_peak_rss_mb, noop_seconds, library_seconds, job_docs_per_s,
stories_written_incremental.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import PeakRSS, TextStore, _store  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from crawler.archive_job import run_document_dedup  # noqa: E402
from crawler.store.db import make_engine, make_sessionmaker  # noqa: E402
from crawler.store.models import Article, Story  # noqa: E402
from dedup import Document  # noqa: E402
from dedup.archive import build  # noqa: E402

_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_CHUNK = 20_000


def _docs(store: TextStore, lo: int, hi: int) -> list[Document]:
    """Articles ``lo:hi`` of the text store, dated a minute apart (ids from 1)."""
    return [Document(id=d.id + 1, url=d.url, site=d.site, text=d.text, title=d.title,
                     published=_T0 + timedelta(minutes=d.id)) for d in store.documents(lo, hi)]


def fill(url: str, store: TextStore, lo: int, hi: int) -> None:
    """Insert articles ``lo:hi`` into the database at ``url`` (Core, batched)."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with make_sessionmaker(engine)() as session:
        for a in range(lo, hi, _CHUNK):
            session.execute(insert(Article), [
                {"id": d.id, "url": d.url, "fetched_url": d.url, "source": d.site,
                 "site": d.site, "title": d.title, "text": d.text, "published": d.published,
                 "content_hash": hashlib.sha256(d.text.encode()).hexdigest(),
                 "word_count": len(d.text.split()), "repairs": "", "raw_html_gz": b"",
                 "http_status": 200, "fetched_at": now, "updated_at": now}
                for d in _docs(store, a, min(a + _CHUNK, hi))])
            session.commit()
    engine.dispose()


def timed_job(url: str, folder: Path) -> tuple[float, float, object]:
    """(seconds, peak RSS MB of this process, summary) of one run of the job."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session, PeakRSS() as peak:
        t = time.perf_counter()
        summary = run_document_dedup(session, folder, url)
        seconds = time.perf_counter() - t
    engine.dispose()
    return seconds, peak.peak, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100000)
    ap.add_argument("--new", type=int, default=10000)
    ap.add_argument("--store", type=Path, default=None,
                    help="generated text store (default: one in the temp dir, made once)")
    args = ap.parse_args()
    store = _store(args)
    tmp_root = Path(tempfile.gettempdir())
    pristine = tmp_root / f"newsdedup-jobdb-{args.articles}.db"
    if not pristine.exists():
        print(f"filling a SQLite store with {args.articles:,} articles (once) ...", flush=True)
        fill(f"sqlite:///{pristine}.part", store, 0, args.articles)
        (tmp_root / f"{pristine.name}.part").rename(pristine)
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp) / "warm", [_docs(store, 0, 200)])  # load compiled kernels
        db = Path(tmp) / "bench.db"
        shutil.copyfile(pristine, db)
        url = f"sqlite:///{db}"
        folder = Path(tmp) / "archive"
        build_s, build_peak, first = timed_job(url, folder)
        fill(url, store, args.articles, args.articles + args.new)
        inc_s, inc_peak, second = timed_job(url, folder)
        noop_s, _, _ = timed_job(url, folder)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            written = session.scalar(select(func.count()).select_from(Story)
                                     .where(Story.dedup_run_id == second.run_id))
        engine.dispose()
        disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        t = time.perf_counter()
        build(Path(tmp) / "library", (_docs(store, a, min(a + _CHUNK, args.articles))
                                      for a in range(0, args.articles, _CHUNK)))
        lib_s = time.perf_counter() - t
    print(f"job from scratch: {args.articles:,} articles in {build_s:.2f} s "
          f"({args.articles / build_s:,.0f} docs/s, peak RSS {build_peak:,.0f} MB; "
          f"{first.stories:,} stories, {first.multi_stories:,} with copies)")
    print(f"archive alone (same run, same articles, no database): {lib_s:.2f} s; the job "
          f"costs {build_s / lib_s:.2f}x")
    print(f"+{args.new:,} new: {inc_s:.2f} s (peak RSS {inc_peak:,.0f} MB; {written:,} stories "
          f"rewritten); nothing new: {noop_s:.2f} s; archive on disk "
          f"{disk / (args.articles + args.new):,.0f} bytes/article")
    print(json.dumps({"articles": args.articles, "build_seconds": round(build_s, 2),
                      "peak_rss_mb": round(build_peak), "incremental_seconds": round(inc_s, 2),
                      "incremental_peak_rss_mb": round(inc_peak),
                      "noop_seconds": round(noop_s, 2), "library_seconds": round(lib_s, 2),
                      "job_docs_per_s": round(args.articles / build_s),
                      "stories_written_incremental": written}))


if __name__ == "__main__":
    main()
