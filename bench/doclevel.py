"""The document-level dedup stage on one core: how many documents a second, phase by phase.

Measures ``dedup.archive.Archive`` (the document level the 1M run of ``bench/scale.py`` uses)
in one process, every phase, no sampling: normalise + tokenise + shingle
(``fingerprint_batch``, compiled), each document's distinct shingles, one OPH signature per
document over them (``dedup.minhash.oph_signatures``) cut into 42 x 3 band keys (``sign``);
LSH query + insert (sorted arrays, candidate pairs), the shingles appended to the archive's
file and spooled per site (``add_signed``); per-site page counts and boilerplate, exact
containment verification of every candidate pair (the smaller side's content shingles at least
``copy_containment`` contained in the other), union-find and canonical pages (``result``);
and writing the arrays (``save``). 42 x 3 bands catch a pair of Jaccard 0.5 (an abridged copy
keeping half its source) with probability 0.996, where the passage index's 32 x 4 would lose
13 %. The archive's directory is in the system temp dir (page cache; not synced).

Same run, for the ratios: the passage-level product path (``DedupIndex.add`` + ``result()``) on
the first ``--passage`` documents, and document-level datasketch ``MinHashLSH`` (threshold 0.5,
``update_batch`` of the shingles' bytes) on the first ``--baseline`` documents. Recall: share of
the product's copy pairs (passage level, exact alignment) the document level also puts in one
story, on the first ``--passage`` documents.

    python bench/doclevel.py [--articles 100000] [--passage 10000] [--baseline 3000]

Last line: JSON with docs_per_s (document level), passage_docs_per_s, datasketch_docs_per_s,
the phase seconds and recall.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import documents  # noqa: E402

from dedup import DedupIndex, Document  # noqa: E402
from dedup.archive import Archive, sign  # noqa: E402


def run_stage(docs: list[Document], batch: int, folder: Path) -> tuple[Archive, dict[str, float]]:
    """The whole document-level stage over ``docs`` in batches, timed phase by phase."""
    t = dict.fromkeys(("sign", "index", "decide", "save"), 0.0)
    index = Archive(folder)
    for i in range(0, len(docs), batch):
        part = docs[i:i + batch]
        t0 = time.perf_counter()
        signed = sign([d.text for d in part], [d.title for d in part], index.config)
        t1 = time.perf_counter()
        index.add_signed(part, signed)
        t["sign"] += t1 - t0
        t["index"] += time.perf_counter() - t1
    t0 = time.perf_counter()
    index.result(workers=1)
    t1 = time.perf_counter()
    index.save()
    t["decide"] += t1 - t0
    t["save"] += time.perf_counter() - t1
    return index, t


def _datasketch(docs: list[Document]) -> float:
    from datasketch import MinHash, MinHashLSH

    from dedup.text import tokenize

    t = time.perf_counter()
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for d in docs:
        words = tokenize(d.text, d.title).words
        m = MinHash(num_perm=128)
        m.update_batch([" ".join(words[i:i + 5]).encode() for i in range(max(1, len(words) - 4))])
        lsh.query(m)
        lsh.insert(d.id, m)
    return len(docs) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100000)
    ap.add_argument("--passage", type=int, default=10000)
    ap.add_argument("--baseline", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=20000)
    args = ap.parse_args()
    docs = documents(max(args.articles, args.passage))
    with tempfile.TemporaryDirectory() as tmp:
        run_stage(docs[:200], args.batch, Path(tmp) / "warm")  # load compiled kernels
        t0 = time.perf_counter()
        stage, phases = run_stage(docs[:args.articles], args.batch, Path(tmp) / "stage")
        seconds = time.perf_counter() - t0
        stored = stage.disk_bytes()
        multi = len(stage.stories())
        candidates, copies = int(stage._pairs.shape[0]), stage.copy_pairs()
        part, _ = run_stage(docs[:args.passage], args.batch, Path(tmp) / "part")
        sub_roots = part.result(workers=1)
    rate = args.articles / seconds
    print(f"document level: {args.articles} articles in {seconds:.2f} s = {rate:,.0f} docs/s; "
          f"{candidates} candidate pairs, {copies} copies, {multi} multi-page "
          f"clusters; {stored / args.articles:,.0f} bytes/article")
    print("  phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))

    sub = docs[:args.passage]
    t = time.perf_counter()
    index = DedupIndex()
    index.add(sub)
    result = index.result()
    passage_s = time.perf_counter() - t
    passage_rate = len(sub) / passage_s
    pairs = [(a, b) for s in result.stories for a in s.members for b in s.members if a < b]
    found = sum(sub_roots[a] == sub_roots[b] for a, b in pairs)
    recall = found / max(1, len(pairs))
    print(f"passage level (product, same run): {len(sub)} articles in {passage_s:.2f} s = "
          f"{passage_rate:,.0f} docs/s; document level finds {found}/{len(pairs)} of its "
          f"copy pairs (recall {recall:.3f})")
    base_rate = _datasketch(docs[:args.baseline])
    print(f"datasketch MinHashLSH document level (same run, {args.baseline} articles): "
          f"{base_rate:,.0f} docs/s; document level = {rate / base_rate:.1f}x, passage level = "
          f"{passage_rate / base_rate:.1f}x")
    print(json.dumps({"articles": args.articles, "docs_per_s": round(rate),
                      "passage_docs_per_s": round(passage_rate),
                      "datasketch_docs_per_s": round(base_rate),
                      "ratio_vs_datasketch": round(rate / base_rate, 1),
                      "recall_of_passage_copies": round(recall, 4),
                      "bytes_per_article": round(stored / args.articles),
                      **{f"{k}_s": round(v, 3) for k, v in phases.items()}}))


if __name__ == "__main__":
    main()
