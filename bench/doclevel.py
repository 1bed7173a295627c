"""The document-level dedup stage on one core: how many documents a second, phase by phase.

Every phase of the stage, no sampling: normalise + tokenise + shingle (``fingerprint_batch``,
compiled), per-site boilerplate counts and masks, one OPH signature per document from all its
content shingles (``dedup.minhash.oph_signatures``), LSH band keys into the sorted-array LSH
(query + insert, candidate pairs), containment-aware exact verification (a pair is a copy when
the smaller side's content shingles are at least ``copy_containment`` contained in the other,
exact set intersection), clustering (union-find) and storing (the arrays an index keeps, as
bytes). Bands of ``rows`` rows: 42 x 3 catch a pair of Jaccard 0.5 (an abridged copy keeping half
its source) with probability 0.996, where the passage index's 32 x 4 would lose 13 %.

Same run, for the ratios: the passage-level product path (``DedupIndex.add`` + ``result()``) on
the first ``--passage`` documents, and document-level datasketch ``MinHashLSH`` (threshold 0.5,
``update_batch`` of the shingles' bytes) on the first ``--baseline`` documents. Recall: share of
the product's copy pairs (passage level, exact alignment) the document level also puts in one
cluster, on the first ``--passage`` documents.

    python bench/doclevel.py [--articles 100000] [--passage 10000] [--baseline 3000]

Last line: JSON with docs_per_s (document level), passage_docs_per_s, datasketch_docs_per_s,
the phase seconds and recall.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import archive  # noqa: E402

from dedup import DedupConfig, DedupIndex, Document  # noqa: E402
from dedup.align import sorted_overlap  # noqa: E402
from dedup.boilerplate import BoilerplateModel, _doc_unique  # noqa: E402
from dedup.lsh import BandIndex, band_keys  # noqa: E402
from dedup.minhash import oph_signatures  # noqa: E402
from dedup.shingles import fingerprint_batch  # noqa: E402


@njit(cache=True)
def _intersections(uniq, doc_u, a, b):  # pragma: no cover - compiled
    out = np.zeros(a.shape[0], np.int64)
    for p in range(a.shape[0]):
        out[p] = sorted_overlap(uniq, doc_u[a[p]], doc_u[a[p] + 1],
                                uniq, doc_u[b[p]], doc_u[b[p] + 1])
    return out


@njit(cache=True)
def _components(n, a, b):  # pragma: no cover - compiled
    parent = np.arange(n)
    for p in range(a.shape[0]):
        x, y = a[p], b[p]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x != y:
            parent[max(x, y)] = min(x, y)
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        parent[i] = r
    return parent


class DocLevel:
    """The document-level stage over batches (incremental: each batch queries the earlier ones)."""

    def __init__(self, bands: int = 42, rows: int = 3, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self.lsh_config = DedupConfig(num_perm=bands * rows, lsh_bands=bands, lsh_rows=rows,
                                      scheme="oph")
        self.bands = BandIndex(self.lsh_config)
        self.boiler = BoilerplateModel(self.config.boilerplate_min_pages)
        self.site_code: dict[str, int] = {}
        self.uniq: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []
        self.cand: list[np.ndarray] = []
        self.n = 0
        self.t: dict[str, float] = dict.fromkeys(
            ("fingerprint", "boilerplate", "sign", "lsh", "verify", "cluster", "store"), 0.0)

    def add(self, docs: list[Document]) -> None:
        t = time.perf_counter()
        fb = fingerprint_batch([d.text for d in docs], [d.title for d in docs], self.config)
        t1 = time.perf_counter()
        sites = np.asarray([self.site_code.setdefault(d.site, len(self.site_code)) for d in docs])
        distinct, per_row = _doc_unique(fb.hashes, fb.doc_sh)  # each document's shingle set
        self.boiler.add_unique(sites, distinct, per_row)
        row_off = np.concatenate(([0], np.cumsum(per_row)))
        keep = ~self.boiler.masks(sites, distinct, row_off)
        uniq = distinct[keep]
        cum = np.concatenate(([0], np.cumsum(keep)))
        per_doc = np.diff(cum[row_off])
        t2 = time.perf_counter()
        doc_u = np.concatenate(([0], np.cumsum(per_doc)))
        sig = oph_signatures(uniq, doc_u, self.lsh_config.num_perm, self.config.seed)
        t3 = time.perf_counter()
        keys = band_keys(sig, self.lsh_config)
        filled = per_doc > 0
        pairs = self.bands.add(keys[filled], np.flatnonzero(filled) + self.n)
        t4 = time.perf_counter()
        self.uniq.append(uniq)
        self.sizes.append(per_doc)
        self.cand.append(pairs)
        self.n += len(docs)
        self.t["fingerprint"] += t1 - t
        self.t["boilerplate"] += t2 - t1
        self.t["sign"] += t3 - t2
        self.t["lsh"] += t4 - t3

    def result(self) -> np.ndarray:
        """Cluster root of every document."""
        t = time.perf_counter()
        uniq = np.concatenate(self.uniq)
        sizes = np.concatenate(self.sizes)
        doc_u = np.concatenate(([0], np.cumsum(sizes)))
        cand = np.unique(np.concatenate(self.cand))
        a, b = cand >> 32, cand & 0xFFFFFFFF
        inter = _intersections(uniq, doc_u, a, b)
        small = np.maximum(np.minimum(sizes[a], sizes[b]), 1)
        copy = inter >= self.config.copy_containment * small
        t1 = time.perf_counter()
        roots = _components(self.n, a[copy], b[copy])
        t2 = time.perf_counter()
        self.t["verify"] += t1 - t
        self.t["cluster"] += t2 - t1
        self.candidates, self.copies = int(cand.size), int(copy.sum())
        return roots

    def to_bytes(self) -> bytes:
        t = time.perf_counter()
        parts = [np.concatenate(self.uniq).tobytes(), np.concatenate(self.sizes).astype("<u4")
                 .tobytes(), self.bands.keys.tobytes(), self.bands.rows.astype("<u4").tobytes()]
        data = b"".join(parts)
        self.t["store"] += time.perf_counter() - t
        return data


def _docs(n: int) -> list[Document]:
    return [Document(id=i, url=f"http://{site}/a/{i}", site=site, text=text, title=title)
            for i, site, title, text in archive(n, 0)]


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
    docs = _docs(max(args.articles, args.passage))
    warm = DocLevel()  # compile / load compiled kernels outside the timing
    warm.add(docs[:200])
    warm.result()
    stage = DocLevel()
    t0 = time.perf_counter()
    for i in range(0, args.articles, args.batch):
        stage.add(docs[i:min(i + args.batch, args.articles)])
    roots = stage.result()
    data = stage.to_bytes()
    seconds = time.perf_counter() - t0
    rate = args.articles / seconds
    multi = int((np.bincount(roots) > 1).sum())
    print(f"document level: {args.articles} articles in {seconds:.2f} s = {rate:,.0f} docs/s; "
          f"{stage.candidates} candidate pairs, {stage.copies} copies, {multi} multi-page "
          f"clusters; {len(data) / args.articles:,.0f} bytes/article")
    print("  phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stage.t.items()))

    sub = docs[:args.passage]
    t = time.perf_counter()
    index = DedupIndex()
    index.add(sub)
    result = index.result()
    passage_s = time.perf_counter() - t
    passage_rate = len(sub) / passage_s
    part = DocLevel()
    part.add(sub)
    sub_roots = part.result()
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
                      "bytes_per_article": round(len(data) / args.articles),
                      **{f"{k}_s": round(v, 3) for k, v in stage.t.items()}}))


if __name__ == "__main__":
    main()
