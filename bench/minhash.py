"""MinHash signature throughput and accuracy: NumPy backend vs datasketch, same run.

Documents: real article bodies made 700 words long (paragraphs drawn from ../shared/data),
tokenised and shingled by the product (word 5-shingles). Timed: signing every document's
shingle set with 128 permutations.

- ours ``oph``: ``dedup.minhash.oph_signatures`` over the 64-bit shingle hashes of all
  documents at once (the document-level signature);
- ours ``kperm64``: the product's passage-window scheme on the same documents;
- datasketch 2.0 ``MinHash.update_batch`` on the shingles' UTF-8 bytes (its default hash and
  scheme), one MinHash per document: the baseline of issue 8.

Accuracy: pairs of known Jaccard made from the documents (abridged copies with a new lede and a
cut tail, and random sub-/super-sets); mean absolute error of each estimate vs exact Jaccard.

    python bench/minhash.py [--docs 10000] [--baseline-docs 300] [--pairs 400]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import bodies, words_doc  # noqa: E402

from dedup import DedupConfig  # noqa: E402
from dedup.minhash import kperm_ranges, kperm_signatures, oph_signatures  # noqa: E402
from dedup.reference import shingle_hashes  # noqa: E402
from dedup.shingles import fingerprint_batch  # noqa: E402
from dedup.text import tokenize  # noqa: E402


def _datasketch(shingle_sets: list[list[bytes]], num_perm: int) -> tuple[np.ndarray, float]:
    from datasketch import MinHash

    out = np.zeros((len(shingle_sets), num_perm), dtype=np.uint64)
    t0 = time.perf_counter()
    for i, sh in enumerate(shingle_sets):
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch(sh)
        out[i] = m.hashvalues
    return out, time.perf_counter() - t0


def _shingles(words: tuple[str, ...], k: int) -> list[bytes]:
    return ["\x1f".join(words[i:i + k]).encode() for i in range(max(1, len(words) - k + 1))]


def _pairs(docs: list[tuple[str, ...]], n: int, rng: random.Random) -> list[tuple[tuple, tuple]]:
    """(words A, words B) pairs spanning Jaccard 0.1-1: abridged copies and cut/extended ones."""
    out = []
    for i in range(n):
        a = docs[i % len(docs)]
        filler = docs[(i + 1) % len(docs)]
        if i % 2 == 0:  # syndication copy: 40-word new lede, last tenth cut
            b = filler[:40] + a[: int(len(a) * 0.9)]
        else:  # a prefix of A plus foreign text: any Jaccard
            keep = rng.uniform(0.1, 1.0)
            b = a[: int(len(a) * keep)] + filler[: int(len(a) * (1 - keep) * rng.random())]
        out.append((a, b))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--baseline-docs", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--words", type=int, default=700)
    args = ap.parse_args()
    cfg = DedupConfig()
    rng = random.Random(8)
    pool = bodies()
    distinct = [tokenize(words_doc(pool, rng, args.words)).words[: args.words]
                for _ in range(min(args.docs, 2000))]
    docs = [distinct[i % len(distinct)] for i in range(args.docs)]
    k, seed, perm = cfg.shingle_size, cfg.seed, cfg.num_perm

    t0 = time.perf_counter()
    hashes = [shingle_hashes(w, k, k, seed)[0] for w in docs]
    t_shingle = time.perf_counter() - t0
    flat = np.concatenate(hashes)
    offsets = np.concatenate(([0], np.cumsum([h.size for h in hashes])))
    oph_signatures(flat[:10], np.array([0, 10]), perm, seed)  # load the compiled kernel first
    t0 = time.perf_counter()
    oph_signatures(flat, offsets, perm, seed)
    t_oph = time.perf_counter() - t0
    t0 = time.perf_counter()
    kperm_signatures(flat, offsets, perm, seed)
    t_kperm = time.perf_counter() - t0
    kperm_ranges(flat[:10], np.array([0]), np.array([10]), perm, seed)  # load the compiled kernels
    texts = [" ".join(w) for w in docs]
    fingerprint_batch(texts[:10], [None] * 10, cfg)
    t0 = time.perf_counter()
    kperm_ranges(flat, offsets[:-1], offsets[1:], perm, seed)
    t_kperm_c = time.perf_counter() - t0
    t0 = time.perf_counter()
    fingerprint_batch(texts, [None] * len(texts), cfg)
    t_fp = time.perf_counter() - t0
    base = [_shingles(w, k) for w in docs[: args.baseline_docs]]
    _, t_ds = _datasketch(base, perm)

    pairs = _pairs(distinct, args.pairs, rng)
    exact, est = [], {"oph": [], "kperm64": [], "datasketch": []}
    for a, b in pairs:
        ha, hb = np.unique(shingle_hashes(a, k, k, seed)[0]), np.unique(shingle_hashes(b, k, k, seed)[0])
        inter = np.intersect1d(ha, hb).size
        exact.append(inter / (ha.size + hb.size - inter))
        off = np.array([0, ha.size, ha.size + hb.size])
        both = np.concatenate([ha, hb])
        for name, sign in (("oph", oph_signatures), ("kperm64", kperm_signatures)):
            s = sign(both, off, perm, seed)
            est[name].append(float((s[0] == s[1]).mean()))
        ds, _ = _datasketch([_shingles(a, k), _shingles(b, k)], perm)
        est["datasketch"].append(float((ds[0] == ds[1]).mean()))
    ex = np.asarray(exact)
    mae = {n: float(np.abs(np.asarray(v) - ex).mean()) for n, v in est.items()}
    abridged = [i for i in range(0, len(pairs), 2)]
    abr = {n: float(np.mean([est[n][i] for i in abridged])) for n in est}

    n = len(docs)
    rate = {"oph": n / t_oph, "kperm64": n / t_kperm, "kperm64_compiled": n / t_kperm_c,
            "datasketch": len(base) / t_ds, "oph_with_shingling": n / (t_oph + t_shingle),
            "oph_with_compiled_fp": n / (t_oph + t_fp)}
    print(f"{n} documents of {args.words} words, {perm} permutations, word {k}-shingles")
    for name, r in rate.items():
        print(f"  {name:22} {r:12,.0f} docs/s  {r / rate['datasketch']:8.1f}x datasketch")
    print(f"  shingle hashing alone   {n / t_shingle:12,.0f} docs/s (Python reference, per token)")
    print(f"  fingerprint_batch       {n / t_fp:12,.0f} docs/s (compiled: normalise, tokenise, "
          "shingle, windows; same hashes)")
    print(f"{len(pairs)} pairs, exact Jaccard {ex.min():.2f}-{ex.max():.2f}; abridged copies "
          f"(new 40-word lede, last tenth cut): exact {np.mean(ex[abridged]):.3f}")
    for name in est:
        print(f"  {name:12} MAE {mae[name]:.4f}   abridged-copy estimate {abr[name]:.3f}")
    print(json.dumps({
        "docs": n, "words": args.words, "num_perm": perm,
        "docs_per_s": round(rate["oph"]), "docs_per_s_datasketch": round(rate["datasketch"]),
        "speedup": round(rate["oph"] / rate["datasketch"], 1),
        "docs_per_s_kperm64": round(rate["kperm64"]),
        "speedup_kperm64": round(rate["kperm64"] / rate["datasketch"], 1),
        "docs_per_s_with_shingling": round(rate["oph_with_shingling"]),
        "docs_per_s_kperm64_compiled": round(rate["kperm64_compiled"]),
        "docs_per_s_with_compiled_fingerprint": round(rate["oph_with_compiled_fp"]),
        "docs_per_s_fingerprint_batch": round(n / t_fp),
        "mae": round(mae["oph"], 4), "mae_kperm64": round(mae["kperm64"], 4),
        "mae_datasketch": round(mae["datasketch"], 4),
        "abridged_exact": round(float(np.mean(ex[abridged])), 4),
        "abridged_estimate": round(abr["oph"], 4),
        "abridged_estimate_datasketch": round(abr["datasketch"], 4),
    }))


if __name__ == "__main__":
    main()
