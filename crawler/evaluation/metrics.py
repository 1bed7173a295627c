"""Metric arithmetic: clustering agreement (ARI, pair P/R/F1) and shingle overlap (Zyte metric).

Pure functions over plain labels and strings; the corpus-level bookkeeping lives in ``score``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


def comb2(n: int) -> int:
    """Number of unordered pairs among ``n`` items."""
    return n * (n - 1) // 2


@dataclass(frozen=True)
class PairCounts:
    """Pair statistics of two partitions of the same ``n`` items."""

    n: int
    both: int  # pairs together in truth AND prediction (true positives)
    true_pairs: int  # pairs together in truth
    pred_pairs: int  # pairs together in prediction


def pair_counts(true: Sequence[Hashable], pred: Sequence[Hashable]) -> PairCounts:
    """Count co-clustered pairs from the contingency table of two labelings of the same items."""
    if len(true) != len(pred):
        raise ValueError(f"label sequences differ in length: {len(true)} != {len(pred)}")
    cells = Counter(zip(true, pred, strict=True))
    return PairCounts(
        n=len(true),
        both=sum(comb2(c) for c in cells.values()),
        true_pairs=sum(comb2(c) for c in Counter(true).values()),
        pred_pairs=sum(comb2(c) for c in Counter(pred).values()),
    )


def adjusted_rand_index(counts: PairCounts) -> float:
    """Hubert–Arabie ARI: (index - expected) / (max - expected).

    index = Σ C(n_ij, 2); expected = Σ C(a_i, 2)·Σ C(b_j, 2) / C(n, 2); max = (Σ C(a_i, 2) +
    Σ C(b_j, 2)) / 2. The denominator is zero exactly when both partitions are all singletons or
    both are one single cluster (or n < 2): the partitions are then identical and ARI is 1.0.
    """
    total = comb2(counts.n)
    a, b = counts.true_pairs, counts.pred_pairs
    maximum = (a + b) / 2
    expected = a * b / total if total else 0.0
    if maximum == expected:
        return 1.0
    return (counts.both - expected) / (maximum - expected)


def pair_precision_recall_f1(counts: PairCounts) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1.

    Degenerate cases: no predicted pairs → precision 1.0 (nothing wrongly merged); no true pairs →
    recall 1.0 (nothing to find); F1 is 0.0 when precision + recall is 0.
    """
    precision = counts.both / counts.pred_pairs if counts.pred_pairs else 1.0
    recall = counts.both / counts.true_pairs if counts.true_pairs else 1.0
    return precision, recall, f1(precision, recall)


def f1(precision: float, recall: float) -> float:
    """Harmonic mean; 0.0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


#: Zyte's tokeniser: runs of word characters, so punctuation and spacing never count.
_ZYTE_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of ``n``-token shingles of ``\\w+`` tokens; a shorter non-empty text is one
    shingle of all its tokens (as in the Zyte benchmark's evaluate.py)."""
    tokens = _ZYTE_TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def shingle_precision_recall(true: str, pred: str, n: int = 4) -> tuple[float | None, float | None]:
    """Per-page precision and recall of predicted text against the true text (Zyte benchmark).

    Counts are multiset overlaps of shingles. As in Zyte's evaluate.py, precision is undefined
    (None: left out of the mean) for an empty prediction and recall for an empty truth.
    """
    t, p = shingles(true, n), shingles(pred, n)
    tp = sum((t & p).values())
    fp = sum(p.values()) - tp
    fn = sum(t.values()) - tp
    if fp == fn == 0:
        return (1.0, 1.0) if tp else (None, None)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall


def mean_precision_recall(
    values: Sequence[tuple[float | None, float | None]],
) -> tuple[float | None, float | None, float | None]:
    """Zyte corpus figures: mean precision over pages where it is defined, likewise recall, and
    the F1 of the two means (all None without any page)."""
    ps = [p for p, _ in values if p is not None]
    rs = [r for _, r in values if r is not None]
    if not ps and not rs:
        return None, None, None
    precision = sum(ps) / len(ps) if ps else 0.0
    recall = sum(rs) / len(rs) if rs else 0.0
    return precision, recall, f1(precision, recall)
