"""Copy recall on real wire copies: giveme5w1h-news-cluster, and multinews-longbench as control.

The truth is computed from the texts themselves, independently of the product's tokenizer and
shingles: a pair of pages of one event cluster is a copy pair when the smaller-contained page
has at least half of its word 5-grams (``\\w+`` runs, lower-cased, across line breaks) in the
other. Such pairs are AP / Reuters stories republished by other sites (nytimes.com/aponline,
dailymail.co.uk/wires, washingtonpost.com...), with their own line breaks, headlines and page
wrappers. Pairs are split into a dev and a held-out half by a hash of the pair's first URL
(tune on dev, report both). Both dedup engines run on the whole set, with titles and dates:
the passage index (``deduplicate``) and the document-level archive (``dedup.archive``).

Scored: copy recall (true pairs in one story), pair precision (predicted pairs inside the
truth's connected components), and predicted pairs across event clusters (merges). Pages
flagged ``cross_cluster_duplicate`` (extraction failures whose text is one site's boilerplate,
identical in several clusters) are left out of the scores, as the sets' SOURCE.md advise. On
multinews-longbench (same-event sets without copies) the truth holds ~no pairs: a control.

    python bench/wire_copies.py [--data DIR] [--show]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dedup_quality import DATA, baseline_labels, jsonl_docs  # noqa: E402

from dedup import DedupConfig, Document, deduplicate  # noqa: E402
from dedup.archive import build  # noqa: E402
from dedup.cluster import union_roots  # noqa: E402

CORPORA = ("giveme5w1h-news-cluster", "multinews-longbench")
_WORD = re.compile(r"\w+")
COPY_SHARE = 0.5


def grams(text: str, k: int = 5) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + k]) for i in range(max(1, len(words) - k + 1))} if words else set()


def truth_pairs(rows: Sequence[dict]) -> dict[tuple[int, int], float]:
    """(a, b) -> containment of the more-contained page, for copy pairs of one event cluster."""
    sets = [set() if r.get("cross_cluster_duplicate") else grams(r["text"] or "") for r in rows]
    out = {}
    for a, b in combinations(range(len(rows)), 2):
        if rows[a]["cluster"] != rows[b]["cluster"] or not sets[a] or not sets[b]:
            continue
        shared = len(sets[a] & sets[b])
        share = max(shared / len(sets[a]), shared / len(sets[b]))
        if share >= COPY_SHARE:
            out[(a, b)] = share
    return out


def half(rows: Sequence[dict], pair: tuple[int, int]) -> str:
    """'dev' or 'held-out', by the first byte of sha256 of the pair's smaller URL (id if none)."""
    url = min(rows[p]["url"] or rows[p]["id"] for p in pair)
    return "dev" if hashlib.sha256(url.encode()).digest()[0] % 2 == 0 else "held-out"


def score(rows: Sequence[dict], truth: dict[tuple[int, int], float],
          labels: Sequence[int]) -> dict[str, object]:
    """Recall per half, pair precision against the truth's components, merges across events."""
    edges = np.asarray(sorted(truth), dtype=np.int64).reshape(-1, 2)
    comp = union_roots(len(rows), edges[:, 0], edges[:, 1]).tolist()
    scored = [i for i, r in enumerate(rows) if not r.get("cross_cluster_duplicate")]
    predicted = [(a, b) for a, b in combinations(scored, 2) if labels[a] == labels[b]]
    good = sum(comp[a] == comp[b] for a, b in predicted)
    out: dict[str, object] = {
        "predicted_pairs": len(predicted),
        "pair_precision": good / len(predicted) if predicted else 1.0,
        "across_events": sum(rows[a]["cluster"] != rows[b]["cluster"] for a, b in predicted),
    }
    for name in ("dev", "held-out", "all"):
        pairs = [p for p in truth if name == "all" or half(rows, p) == name]
        found = [p for p in pairs if labels[p[0]] == labels[p[1]]]
        out[name] = {"pairs": len(pairs), "found": len(found),
                     "recall": len(found) / len(pairs) if pairs else 1.0,
                     "missed": sorted(set(pairs) - set(found))}
    return out


def passage_labels(docs: list[Document], config: DedupConfig) -> list[int]:
    story = deduplicate(docs, config).story_of()
    return [story[d.id] for d in docs]


def document_labels(docs: list[Document], config: DedupConfig) -> list[int]:
    with tempfile.TemporaryDirectory() as tmp:
        archive = build(tmp, [docs], config)
        by_id = {int(i): int(archive.ids[s]) for i, s in zip(archive.ids, archive.story,
                                                                strict=True)}
    return [by_id[d.id] for d in docs]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--show", action="store_true", help="print the truth pairs and misses")
    args = ap.parse_args(argv)
    config = DedupConfig()
    summary: dict[str, object] = {"config": config.fingerprint_params()}
    found_any = False
    for corpus in CORPORA:
        path = args.data / corpus / "articles.jsonl"
        if not path.exists():
            print(f"{corpus}: absent ({path}), skipped")
            continue
        found_any = True
        docs, rows = jsonl_docs(path)
        truth = truth_pairs(rows)
        print(f"{corpus}: {len(docs)} pages, {len(set(r['cluster'] for r in rows))} events, "
              f"{len(truth)} copy pairs (>= {COPY_SHARE:.0%} of 5-grams contained)")
        if args.show:
            for (a, b), share in sorted(truth.items()):
                print(f"    {a:>4} {b:>4} {share:.2f} {half(rows, (a, b)):<8} "
                      f"{rows[a]['source']} / {rows[b]['source']}")
        figures: dict[str, object] = {"pages": len(docs), "truth_pairs": len(truth)}
        for name, method in (("passage", passage_labels), ("document", document_labels),
                             ("lsh_0.5", lambda d, c: baseline_labels(d, 0.5)),
                             ("lsh_0.3", lambda d, c: baseline_labels(d, 0.3))):
            t0 = time.perf_counter()
            labels = method(docs, config)
            m = score(rows, truth, labels)
            m["seconds"] = round(time.perf_counter() - t0, 2)
            dev, held = m["dev"], m["held-out"]
            print(f"  {name:<9} recall dev {dev['found']}/{dev['pairs']} held-out "
                  f"{held['found']}/{held['pairs']}  pair P {m['pair_precision']:.3f} "
                  f"({m['predicted_pairs']} pairs)  across events {m['across_events']}")
            if args.show and name in ("passage", "document"):
                print(f"      missed {m['all']['missed']}")
            figures[name] = m
        summary[corpus] = figures
    print(json.dumps(summary, default=str))
    return 0 if found_any else 2


if __name__ == "__main__":
    raise SystemExit(main())
