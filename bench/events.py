"""Event quality and speed: copy dedup + the event layer vs a TF-IDF average-link baseline.

    python bench/events.py PATH.jsonl [--semantic]

PATH.jsonl has one article per line (``id, cluster, text, title, url, source, date``: the format
of shared/data/giveme5w1h-news-cluster and multinews-longbench). Runs the product's copy dedup
(``dedup.deduplicate``), then the event layer over its stories (``dedup.events``; the store's idf
counted over the set's stories, like the baseline's), and scores the events of the articles
against ``cluster``: ARI and pair precision/recall. Articles flagged
``cross_cluster_duplicate`` (scraping boilerplate identical in several clusters) are clustered
but not scored. The baseline is TF-IDF cosine over the whole text, average-link agglomerative
clustering, at its best threshold on the same articles (scipy, measured in the same run).

The clusters are split by a hash of the cluster id (second byte of sha256 even: "tune", odd:
"check"); the fixed setting was chosen on the tune halves, both are reported. The last line is
one JSON object. ``--semantic`` adds the sentence embeddings of ``dedup.embed`` (the
``.[semantic]`` extra) and reports their CPU cost per story. The compiled layer is also
checked against ``dedup.reference`` on one pass of the set (its terms, pairs and clustering
must be the reference's to the last bit: the speed figure is of the same results).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from crawler.evaluation import metrics  # noqa: E402
from dedup import Document, deduplicate, events, reference  # noqa: E402
from dedup.events import DocumentFrequency, EventConfig, EventIndex, EventStory, terms  # noqa: E402

_WORD = re.compile(r"\w+")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _date(value: object) -> datetime | None:
    try:
        d = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return d.replace(tzinfo=UTC) if d is not None and d.tzinfo is None else d


def half_of(cluster: str) -> str:
    return "tune" if hashlib.sha256(cluster.encode("utf-8")).digest()[1] % 2 == 0 else "check"


def documents(rows: list[dict]) -> list[Document]:
    return [Document(id=i, url=r.get("url") or f"doc:{r['id']}", site=r.get("source") or f"site-{i}",
                     text=r.get("text") or "", title=r.get("title"), published=_date(r.get("date")))
            for i, r in enumerate(rows)]


def event_labels(docs: list[Document], config: EventConfig,
                 semantic: bool = False) -> tuple[list[int], dict[str, float]]:
    """Article -> event index, and timings (copy dedup, then the event layer one story at a time)."""
    t0 = time.perf_counter()
    result = deduplicate(docs)
    t1 = time.perf_counter()
    stories = []
    for story in result.stories:
        canon = docs[story.canonical]
        dates = [docs[m].published for m in story.members if docs[m].published is not None]
        stories.append(EventStory(key=story.canonical, title=canon.title, text=canon.text,
                                  published=min(dates) if dates else None,
                                  sites=tuple(dict.fromkeys(docs[m].site for m in story.members))))
    embed_s = 0.0
    if semantic:
        from dedup.embed import embed

        t = time.process_time()
        stories = embed(stories, config)
        embed_s = time.process_time() - t
    t2 = time.perf_counter()
    index = EventIndex(config, DocumentFrequency.count(stories, config))
    for s in sorted(stories, key=lambda s: (s.published is None, s.published or 0, s.key)):
        index.add([s])
    t3 = time.perf_counter()
    event_of = {key: i for i, event in enumerate(index.events()) for key in event.stories}
    label = {m: event_of[story.canonical] for story in result.stories for m in story.members}
    return [label[i] for i in range(len(docs))], {"dedup_s": t1 - t0, "events_s": t3 - t2,
                                                   "stories": len(stories), "embed_cpu_s": embed_s}


def copy_pairs_across(docs: list[Document], rows: list[dict]) -> int:
    """Copy pairs the dedup made across clusters among scored articles (must be 0)."""
    result = deduplicate(docs)
    return sum(1 for s in result.stories for a, b in combinations(s.members, 2)
               if rows[a]["cluster"] != rows[b]["cluster"] and not _flagged(rows[a])
               and not _flagged(rows[b]))


def _flagged(row: dict) -> bool:
    return str(row.get("cross_cluster_duplicate")).lower() == "true"


def scores(truth: Sequence[str], pred: Sequence[int]) -> dict[str, float]:
    counts = metrics.pair_counts(truth, pred)
    p, r, _f = metrics.pair_precision_recall_f1(counts)
    return {"ari": metrics.adjusted_rand_index(counts), "pair_precision": p, "pair_recall": r}


# -- baseline ------------------------------------------------------------------------------

def baseline_linkage(docs: list[Document]) -> np.ndarray:
    """Average-link dendrogram of TF-IDF (smoothed corpus idf, sublinear tf) cosine distances."""
    from scipy.cluster.hierarchy import linkage

    bags = [Counter(w.lower() for w in _WORD.findall(f"{d.title or ''}\n{d.text}")) for d in docs]
    df = Counter(w for bag in bags for w in bag)
    vocab = {w: i for i, w in enumerate(df)}
    n = len(docs)
    matrix = np.zeros((n, len(vocab)))
    for i, bag in enumerate(bags):
        for w, tf in bag.items():
            matrix[i, vocab[w]] = (1 + math.log(tf)) * (math.log((1 + n) / (1 + df[w])) + 1)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    distance = np.clip(1.0 - matrix @ matrix.T, 0.0, 2.0)
    condensed = distance[np.triu_indices(n, 1)]
    return linkage(condensed, method="average")


def baseline_best(docs: list[Document], truth: list[str], keep: list[int]) -> tuple[float, dict]:
    """(best threshold, its scores) of the baseline over cosine thresholds 0.05 .. 0.95."""
    from scipy.cluster.hierarchy import fcluster

    tree = baseline_linkage(docs)
    best: tuple[float, dict] | None = None
    for step in range(1, 20):
        threshold = step / 20
        pred = fcluster(tree, t=1.0 - threshold, criterion="distance")
        s = scores([truth[i] for i in keep], [int(pred[i]) for i in keep])
        if best is None or s["ari"] > best[1]["ari"]:
            best = (threshold, s)
    assert best is not None
    return best


# -- speed ---------------------------------------------------------------------------------

def _stream(rows: list[dict], config: EventConfig, passes: int) -> list[EventStory]:
    """``passes`` copies of the corpus laid one after another in time (each a new stretch of
    days, so events close), in publication order."""
    base = [_date(r.get("date")) or datetime(2020, 1, 1, tzinfo=UTC) for r in rows]
    start = min(base)
    span = max(base) - start + timedelta(hours=config.window_hours * 2)
    stream = [EventStory(key=p * len(rows) + i, title=r.get("title"), text=r.get("text") or "",
                         published=base[i] + p * span, sites=(r.get("source") or "",))
              for p in range(passes) for i, r in enumerate(rows)]
    stream.sort(key=lambda s: (s.published, s.key))
    return stream


def stream_speed(rows: list[dict], config: EventConfig, passes: int = 10) -> float:
    """Stories per second of the event layer alone, one story at a time, over the ``_stream``."""
    stream = _stream(rows, config, passes)
    df = DocumentFrequency.count(stream[:len(rows)], config)  # the store's, before the stream
    EventIndex(config, df).add(stream[:5])  # load the frequency tables outside the timing
    index = EventIndex(config, df)
    t0 = time.process_time()  # CPU time of this process: the machine may be shared
    for story in stream:
        index.add([story])
    return len(stream) / (time.process_time() - t0)


def reference_check(rows: list[dict], config: EventConfig) -> dict[str, int]:
    """The compiled layer against ``dedup.reference`` on one pass of the stream, one story at a
    time: stories whose terms differ, pairs (either way) whose similarity differs, groups whose
    average link differs. All three 0: the same events, centres and labels."""
    stories = _stream(rows, config, 1)
    df = DocumentFrequency.count(stories, config)
    index = EventIndex(config, df)
    for story in stories:
        index.add([story])
    ours = {k: v for k, v in index._pairs.items() if v}
    theirs = reference.event_pairs(stories, df, config)
    least = config.leave_one_out * config.threshold - 1e-12
    groups = [np.array([[index._pairs[a].get(b, 0.0) for b in g] for a in g])
              for g in (sorted(m, key=lambda k: (index._stories[k].published, k))
                        for m in index._members.values())]
    return {"terms_differ": sum(list(terms(s, config).items())
                                != list(reference.event_terms(s, config).items()) for s in stories),
            "pairs_differ": sum(ours.get(k, {}).get(o) != theirs.get(k, {}).get(o)
                                for k in ours.keys() | theirs.keys()
                                for o in ours.get(k, {}).keys() | theirs.get(k, {}).keys()),
            "groups_differ": sum(events._agglomerate(g, config.threshold, least).tolist()
                                 != reference.average_link(g, config.threshold, least).tolist()
                                 for g in groups),
            "pairs": sum(map(len, ours.values())) // 2, "groups": len(groups)}


def baseline_speed(docs: list[Document]) -> float:
    """Documents per second of the baseline (TF-IDF vectors and the average-link dendrogram of
    the whole set, batch), CPU time: the same-run reference for the event layer's speed."""
    t0 = time.process_time()
    baseline_linkage(docs)
    return len(docs) / (time.process_time() - t0)


def evaluate(rows: list[dict], config: EventConfig, name: str,
             semantic: bool = False) -> dict[str, object]:
    docs = documents(rows)
    truth = [r["cluster"] for r in rows]
    keep = [i for i, r in enumerate(rows) if not _flagged(r)]
    pred, timing = event_labels(docs, config, semantic)
    ours = scores([truth[i] for i in keep], [pred[i] for i in keep])
    threshold, base = baseline_best(docs, truth, keep)
    return {"name": name, "docs": len(rows), "scored": len(keep), "clusters": len(set(truth)),
            "events": len(set(pred)), **ours, "ari_baseline": base["ari"],
            "baseline_threshold": threshold, "baseline_pair_precision": base["pair_precision"],
            "baseline_pair_recall": base["pair_recall"],
            "copy_pairs_across_clusters": copy_pairs_across(docs, rows), **timing}


def _line(m: dict) -> str:
    return (f"{m['name']:<6} docs {m['docs']:>4} ({m['scored']} scored)  clusters {m['clusters']:>3}  "
            f"events {m['events']:>3}  ARI {m['ari']:.3f}  P {m['pair_precision']:.3f}  "
            f"R {m['pair_recall']:.3f}  | baseline ARI {m['ari_baseline']:.3f} at cos "
            f"{m['baseline_threshold']:.2f} (P {m['baseline_pair_precision']:.3f} "
            f"R {m['baseline_pair_recall']:.3f})  | copy pairs across clusters "
            f"{m['copy_pairs_across_clusters']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--semantic", action="store_true",
                        help="add sentence embeddings (needs the .[semantic] extra)")
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"error: no such file: {args.path}", file=sys.stderr)
        return 2
    config = EventConfig()
    rows = load(args.path)
    out: dict[str, object] = {"path": str(args.path), "config": config.__repr__()}
    results = {}
    for name, subset in (("all", rows), ("tune", [r for r in rows if half_of(r["cluster"]) == "tune"]),
                         ("check", [r for r in rows if half_of(r["cluster"]) == "check"])):
        results[name] = evaluate(subset, config, name, args.semantic)
        print(_line(results[name]))
    speed = stream_speed(rows, config)
    reference_speed = baseline_speed(documents(rows))
    check = reference_check(rows, config)
    whole = results["all"]
    print(f"event layer: {speed:,.0f} stories/s incremental, one story at a time "
          f"({len(rows) * 10} stories, 10 time-shifted passes; CPU time) | baseline TF-IDF + "
          f"average link, batch over the set: {reference_speed:,.0f} docs/s | copy dedup + events on "
          f"the set: {whole['docs'] / (whole['dedup_s'] + whole['events_s']):,.0f} docs/s")
    print(f"against dedup.reference (one pass, {check['pairs']} pairs, {check['groups']} groups): "
          f"terms differ in {check['terms_differ']} stories, {check['pairs_differ']} pair "
          f"similarities differ, {check['groups_differ']} groups cluster otherwise")
    if args.semantic:
        per_story = whole["embed_cpu_s"] / whole["stories"]
        print(f"semantic signal: {per_story * 1000:,.0f} ms CPU per story (embedding)")
        out["semantic_cpu_s_per_story"] = per_story
    out.update({k: whole[k] for k in ("ari", "pair_precision", "pair_recall", "ari_baseline",
                                      "baseline_threshold", "copy_pairs_across_clusters")})
    out.update({"ari_tune": results["tune"]["ari"], "ari_check": results["check"]["ari"],
                "ari_baseline_tune": results["tune"]["ari_baseline"],
                "ari_baseline_check": results["check"]["ari_baseline"],
                "docs_per_s": speed, "baseline_docs_per_s": reference_speed, "reference_check": check,
                "events_per_doc_set": whole["events"]})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
