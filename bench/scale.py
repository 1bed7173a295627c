"""Dedup at archive scale: a generated archive deduplicated from scratch, then new articles
matched incrementally through the persisted index.

Measures the product path exactly as ``crawler/dedup_job.py`` runs it, with no shortcut:
``DedupIndex.add`` (normalise, tokenise, shingle, sign passage windows, LSH query/insert),
``result()`` (exact verification of every candidate pair, copy rules, clustering, canonical,
passage links) and ``to_bytes(texts=False)`` (the stored index: the job keeps texts in the
articles table and passes the documents back on load). Then ``--new`` more articles: load the
index from bytes, add, ``result()``, store again. Articles come from ``bench/corpus.archive``:
real bodies with syndication-like edits, generated in memory, never written.

    python bench/scale.py [--articles 5000] [--new 500] [--profile]

Last line: JSON with articles, seconds, peak_rss_mb, incremental_seconds,
index_bytes_per_article (and the per-phase seconds).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import archive  # noqa: E402

from dedup import DedupIndex, Document  # noqa: E402


def _docs(n: int, seed: int) -> list[Document]:
    return [Document(id=i, url=f"http://{site}/a/{i}", site=site, text=text, title=title)
            for i, site, title, text in archive(n, seed)]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--new", type=int, default=500)
    ap.add_argument("--profile", action="store_true", help="print where the time goes")
    ap.add_argument("--top", type=int, default=18, help="profile rows")
    ap.add_argument("--workers", type=int, default=2,
                    help="processes signing batches in the build (DedupIndex.add workers)")
    ap.add_argument("--batch", type=int, default=20000, help="documents per signed batch")
    args = ap.parse_args()
    every = _docs(args.articles + args.new, seed=0)
    old, new = every[: args.articles], every[args.articles:]
    words = sum(len(d.text.split()) for d in old) / max(1, len(old))
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    t0 = time.perf_counter()
    index = DedupIndex()
    index.add(old, batch=args.batch, workers=args.workers)
    t_add = time.perf_counter() - t0
    result = index.result()
    t_result = time.perf_counter() - t0 - t_add
    data = index.to_bytes(texts=False)
    seconds = time.perf_counter() - t0
    del index
    by_id = {d.id: d for d in old}
    t1 = time.perf_counter()
    loaded = DedupIndex.from_bytes(data, documents=by_id)
    t_load = time.perf_counter() - t1
    loaded.add(new)
    inc_result = loaded.result()
    loaded.to_bytes(texts=False)
    incremental = time.perf_counter() - t1
    if prof:
        prof.disable()
    multi = sum(1 for s in result.stories if len(s.members) > 1)
    print(f"{len(old)} articles ({words:.0f} words avg): {seconds:.1f} s "
          f"({len(old) / seconds:,.0f} articles/s; add {t_add:.1f} s, result {t_result:.1f} s, "
          f"store {seconds - t_add - t_result:.1f} s); {len(result.stories)} stories, "
          f"{multi} with copies, {len(result.links)} passage links")
    print(f"+{len(new)} new: {incremental:.1f} s (load {t_load:.1f} s); "
          f"{len(inc_result.stories)} stories")
    print(f"index {len(data) / 1e6:.1f} MB = {len(data) / len(old):,.0f} bytes/article; "
          f"peak RSS {_peak_mb():,.0f} MB")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    print(json.dumps({
        "articles": len(old), "seconds": round(seconds, 2), "peak_rss_mb": round(_peak_mb()),
        "new": len(new), "incremental_seconds": round(incremental, 2),
        "index_bytes_per_article": round(len(data) / len(old)),
        "articles_per_s": round(len(old) / seconds), "add_seconds": round(t_add, 2),
        "result_seconds": round(t_result, 2), "load_seconds": round(t_load, 2),
    }))


if __name__ == "__main__":
    main()
