"""Exact passage alignment of two fingerprints: shared passages, coverage and lead offsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedup.config import DedupConfig
from dedup.shingles import Fingerprint


@dataclass(frozen=True, slots=True)
class Passage:
    """Shingles ``a_first..a_last`` of A match shingles ``b_first..b_last`` of B."""

    a_first: int
    a_last: int
    b_first: int
    b_last: int
    matched: int


@dataclass(frozen=True, slots=True)
class Alignment:
    """Shared passages of docs ``a`` < ``b``, with each side's covered and leading share.

    cover_x: share of x's non-boilerplate shingles inside passages shared with the other doc.
    lead_x: share of x's non-boilerplate shingles before its first shared passage.
    """

    a: int
    b: int
    passages: tuple[Passage, ...]
    cover_a: float
    cover_b: float
    lead_a: float
    lead_b: float
    jaccard: float

    def side(self, doc: int) -> tuple[float, float]:
        """(cover, lead) of ``doc`` in this pair."""
        return (self.cover_a, self.lead_a) if doc == self.a else (self.cover_b, self.lead_b)

    def ranges(self, doc: int) -> list[tuple[int, int]]:
        """Shingle ranges of ``doc`` inside shared passages."""
        if doc == self.a:
            return [(p.a_first, p.a_last) for p in self.passages]
        return [(p.b_first, p.b_last) for p in self.passages]


def _segments(mask: np.ndarray, max_gap: int, min_matched: int) -> list[tuple[int, int, int]]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) > max_gap + 1) + 1
    out = []
    for group in np.split(idx, cuts):
        if group.size >= min_matched:
            out.append((int(group[0]), int(group[-1]), int(group.size)))
    return out


def _content_between(content_cum: np.ndarray, first: int, last: int) -> int:
    return int(content_cum[last + 1] - content_cum[first])


def align(a_id: int, fa: Fingerprint, bp_a: np.ndarray, b_id: int, fb: Fingerprint,
          bp_b: np.ndarray, config: DedupConfig) -> Alignment | None:
    """Shared passages of two documents, ignoring each side's boilerplate; None if none."""
    if a_id > b_id:
        a_id, fa, bp_a, b_id, fb, bp_b = b_id, fb, bp_b, a_id, fa, bp_a
    content_a, content_b = ~bp_a, ~bp_b
    set_a = np.unique(fa.hashes[content_a])
    set_b = np.unique(fb.hashes[content_b])
    if set_a.size == 0 or set_b.size == 0:
        return None
    m_a = np.isin(fa.hashes, set_b, assume_unique=False) & content_a
    m_b = np.isin(fb.hashes, set_a, assume_unique=False) & content_b
    min_matched = min(config.min_passage_shingles, set_a.size, set_b.size)
    seg_a = _segments(m_a, config.max_gap, min_matched)
    seg_b = _segments(m_b, config.max_gap, min_matched)
    if not seg_a or not seg_b:
        return None
    seg_of_b = np.full(fb.n, -1, dtype=np.int64)
    for i, (first, last, _) in enumerate(seg_b):
        seg_of_b[first:last + 1] = i
    positions: dict[int, list[int]] = {}
    for pos in np.flatnonzero(m_b).tolist():
        positions.setdefault(int(fb.hashes[pos]), []).append(pos)
    passages = []
    for first, last, _ in seg_a:
        # one A run may match several B runs (B re-ordered or abridged): one passage per B run
        groups: dict[int, tuple[list[int], list[int]]] = {}
        for pos in range(first, last + 1):
            if not m_a[pos]:
                continue
            for hit in positions.get(int(fa.hashes[pos]), ()):
                seg = int(seg_of_b[hit])
                if seg >= 0:
                    a_pos, b_pos = groups.setdefault(seg, ([], []))
                    if not a_pos or a_pos[-1] != pos:
                        a_pos.append(pos)
                    b_pos.append(hit)
        for _, (a_pos, b_pos) in sorted(groups.items()):
            if len(a_pos) >= min_matched:
                passages.append(Passage(a_pos[0], a_pos[-1], min(b_pos), max(b_pos),
                                        len(a_pos)))
    if not passages:
        return None
    cum_a = np.concatenate(([0], np.cumsum(content_a)))
    cum_b = np.concatenate(([0], np.cumsum(content_b)))
    n_a, n_b = int(cum_a[-1]), int(cum_b[-1])
    ranges_a = [(p.a_first, p.a_last) for p in passages]
    ranges_b = [(p.b_first, p.b_last) for p in passages]
    cov_a = _union_content(cum_a, ranges_a) / n_a
    cov_b = _union_content(cum_b, ranges_b) / n_b
    lead_a = int(cum_a[min(r[0] for r in ranges_a)]) / n_a
    lead_b = int(cum_b[min(r[0] for r in ranges_b)]) / n_b
    inter = np.intersect1d(set_a, set_b).size
    return Alignment(a_id, b_id, tuple(passages), min(cov_a, 1.0), min(cov_b, 1.0), lead_a,
                     lead_b, inter / (set_a.size + set_b.size - inter))


def _union_content(cum: np.ndarray, ranges: list[tuple[int, int]]) -> int:
    total, reach = 0, -1
    for first, last in sorted(ranges):
        first = max(first, reach + 1)
        if first <= last:
            total += _content_between(cum, first, last)
            reach = last
    return total
