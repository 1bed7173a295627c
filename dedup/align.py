"""Exact passage alignment of two fingerprints: shared passages, coverage and lead offsets."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from dedup.config import DedupConfig


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


@njit(cache=True)
def _segments_nb(m, max_gap, min_matched):  # pragma: no cover - compiled
    """(first, last) of the runs of matched positions (gaps up to ``max_gap``) holding at least
    ``min_matched`` of them; ``seg_of[i]``: the run position ``i`` lies in, or -1."""
    n = m.shape[0]
    seg_of = np.full(n, -1, np.int64)
    out = np.empty((n, 2), np.int64)
    k = 0
    first = -1
    prev = -1
    count = 0
    for i in range(n + 1):
        if i < n and not m[i]:
            continue
        if i < n and first >= 0 and i - prev <= max_gap + 1:
            prev = i
            count += 1
            continue
        if first >= 0 and count >= min_matched:
            out[k, 0] = first
            out[k, 1] = prev
            for q in range(first, prev + 1):
                seg_of[q] = k
            k += 1
        if i < n:
            first = i
            prev = i
            count = 1
    return out[:k], seg_of


@njit(cache=True, nogil=True)
def _content_set(h, c):  # pragma: no cover - compiled
    """(sorted distinct hashes of the content positions ``c`` of ``h``, each position's slot in
    them or -1 for a boilerplate position): one sort per row, however many pairs it is in."""
    idx = np.flatnonzero(c)
    order = idx[np.argsort(h[idx])]
    own = np.full(h.shape[0], -1, np.int32)
    out = np.empty(order.shape[0], np.uint64)
    k = -1
    for i in range(order.shape[0]):
        v = h[order[i]]
        if k < 0 or out[k] != v:
            k += 1
            out[k] = v
        own[order[i]] = k
    return out[:k + 1], own


@njit(cache=True)
def _align_sets(own_a, own_b, set_a, set_b, max_gap, min_passage):  # pragma: no cover
    """Passages (first_a, last_a, first_b, last_b, matched) of two shingle sequences given as
    each side's content set and its positions' slots in it (``_content_set``), with the sizes
    of both sets and of their intersection. Matched: a content shingle whose hash is a content
    shingle of the other side (one merge of the two sets maps slots across)."""
    na, nb = set_a.shape[0], set_b.shape[0]
    empty = np.empty((0, 5), np.int64)
    if na == 0 or nb == 0:
        return empty, na, nb, 0
    a2b = np.full(na, -1, np.int64)  # A's set slot -> its slot in B's set, or -1
    b2a = np.full(nb, -1, np.int64)
    inter = 0
    i = j = 0
    while i < na and j < nb:
        if set_a[i] == set_b[j]:
            a2b[i] = j
            b2a[j] = i
            inter += 1
            i += 1
            j += 1
        elif set_a[i] < set_b[j]:
            i += 1
        else:
            j += 1
    m_a = np.zeros(own_a.shape[0], np.bool_)
    pa = np.zeros(own_a.shape[0], np.int64)  # A shingle -> its slot in B's set
    for q in range(own_a.shape[0]):
        if own_a[q] >= 0 and a2b[own_a[q]] >= 0:
            m_a[q] = True
            pa[q] = a2b[own_a[q]]
    m_b = np.zeros(own_b.shape[0], np.bool_)
    for q in range(own_b.shape[0]):
        m_b[q] = own_b[q] >= 0 and b2a[own_b[q]] >= 0
    min_matched = min(min_passage, na, nb)
    seg_a, _ = _segments_nb(m_a, max_gap, min_matched)
    seg_b, seg_of_b = _segments_nb(m_b, max_gap, min_matched)
    if seg_a.shape[0] == 0 or seg_b.shape[0] == 0:
        return empty, na, nb, inter
    # B's matched positions grouped by their slot in B's set, in text order (counting sort)
    first = np.zeros(nb + 1, np.int64)
    for q in range(own_b.shape[0]):
        if m_b[q]:
            first[own_b[q] + 1] += 1
    for g in range(nb):
        first[g + 1] += first[g]
    fill = first[:-1].copy()
    pos_b = np.empty(first[nb], np.int64)
    for q in range(own_b.shape[0]):
        if m_b[q]:
            pos_b[fill[own_b[q]]] = q
            fill[own_b[q]] += 1
    n_seg = seg_b.shape[0]
    cnt = np.zeros(n_seg, np.int64)
    a_first = np.zeros(n_seg, np.int64)
    a_last = np.full(n_seg, -1, np.int64)
    b_min = np.zeros(n_seg, np.int64)
    b_max = np.zeros(n_seg, np.int64)
    out = np.empty((seg_a.shape[0] * n_seg, 5), np.int64)
    k = 0
    for s in range(seg_a.shape[0]):
        cnt[:] = 0
        a_last[:] = -1
        for pos in range(seg_a[s, 0], seg_a[s, 1] + 1):
            if not m_a[pos]:
                continue
            slot = pa[pos]
            for q in range(first[slot], first[slot + 1]):
                hit = pos_b[q]
                g = seg_of_b[hit]
                if g >= 0:
                    if cnt[g] == 0:
                        a_first[g] = pos
                        b_min[g] = hit
                        b_max[g] = hit
                    if a_last[g] != pos:
                        cnt[g] += 1
                        a_last[g] = pos
                    b_min[g] = min(b_min[g], hit)
                    b_max[g] = max(b_max[g], hit)
        for g in range(n_seg):
            if cnt[g] >= min_matched:
                out[k, 0] = a_first[g]
                out[k, 1] = a_last[g]
                out[k, 2] = b_min[g]
                out[k, 3] = b_max[g]
                out[k, 4] = cnt[g]
                k += 1
    return out[:k], na, nb, inter


@njit(cache=True)
def _cover(cum, ranges, n):  # pragma: no cover - compiled
    """(share of content inside the union of ``ranges``, share before the first one)."""
    k = ranges.shape[0]
    order = np.argsort(ranges[:, 0] * (ranges[:, 1].max() + 2) + ranges[:, 1])
    total = 0
    reach = -1
    for q in order:
        first = max(ranges[q, 0], reach + 1)
        last = ranges[q, 1]
        if first <= last:
            total += cum[last + 1] - cum[first]
            reach = last
    start = ranges[0, 0]
    for q in range(k):
        start = min(start, ranges[q, 0])
    return min(total / n, 1.0), cum[start] / n


@njit(cache=True, nogil=True)
def _align_many(hashes, mask, doc_sh, rows_a, rows_b, max_gap,
                min_passage):  # pragma: no cover - compiled
    """``align`` of many row pairs of one concatenated store: passages (pair, first_a, last_a,
    first_b, last_b, matched) and per pair (cover_a, cover_b, lead_a, lead_b, jaccard).
    Each row's content set and its content prefix sum are made once, however many pairs it
    is in."""
    n_pairs = rows_a.shape[0]
    rows = np.unique(np.concatenate((rows_a, rows_b)))
    total = 0
    for r in rows:
        total += doc_sh[r + 1] - doc_sh[r]
    sets = np.empty(total, np.uint64)
    own = np.empty(total, np.int32)  # each shingle's slot in its row's set (-1: boilerplate)
    cum = np.empty(total + rows.shape[0], np.int64)  # each row's content shingles before i
    set_start = np.empty(rows.shape[0], np.int64)
    set_len = np.empty(rows.shape[0], np.int64)
    own_start = np.empty(rows.shape[0], np.int64)
    k = 0
    o = 0
    for r in range(rows.shape[0]):
        a0, a1 = doc_sh[rows[r]], doc_sh[rows[r] + 1]
        content = ~mask[a0:a1]
        part, slots = _content_set(hashes[a0:a1], content)
        sets[k:k + part.shape[0]] = part
        own[o:o + slots.shape[0]] = slots
        c = o + r  # the row's prefix sum: one entry more than its shingles
        cum[c] = 0
        for i in range(a1 - a0):
            cum[c + i + 1] = cum[c + i] + content[i]
        set_start[r] = k
        set_len[r] = part.shape[0]
        own_start[r] = o
        k += part.shape[0]
        o += slots.shape[0]
    slot_a = np.searchsorted(rows, rows_a)
    slot_b = np.searchsorted(rows, rows_b)
    feats = np.full((n_pairs, 5), np.nan)
    chunks = []
    total = 0
    for p in range(n_pairs):
        a0, a1 = doc_sh[rows_a[p]], doc_sh[rows_a[p] + 1]
        b0, b1 = doc_sh[rows_b[p]], doc_sh[rows_b[p] + 1]
        sa, sb = slot_a[p], slot_b[p]
        found, na, nb, inter = _align_sets(
            own[own_start[sa]:own_start[sa] + a1 - a0], own[own_start[sb]:own_start[sb] + b1 - b0],
            sets[set_start[sa]:set_start[sa] + set_len[sa]],
            sets[set_start[sb]:set_start[sb] + set_len[sb]], max_gap, min_passage)
        if found.shape[0] == 0:
            continue
        cum_a = cum[own_start[sa] + sa:own_start[sa] + sa + a1 - a0 + 1]
        cum_b = cum[own_start[sb] + sb:own_start[sb] + sb + b1 - b0 + 1]
        cov_a, lead_a = _cover(cum_a, found[:, 0:2], cum_a[-1])
        cov_b, lead_b = _cover(cum_b, found[:, 2:4], cum_b[-1])
        feats[p, 0] = cov_a
        feats[p, 1] = cov_b
        feats[p, 2] = lead_a
        feats[p, 3] = lead_b
        feats[p, 4] = inter / (na + nb - inter)
        chunk = np.empty((found.shape[0], 6), np.int64)
        chunk[:, 0] = p
        chunk[:, 1:] = found
        chunks.append(chunk)
        total += found.shape[0]
    out = np.empty((total, 6), np.int64)
    k = 0
    for chunk in chunks:
        out[k:k + chunk.shape[0]] = chunk
        k += chunk.shape[0]
    return out, feats


def align_many(ids_a: np.ndarray, rows_a: np.ndarray, ids_b: np.ndarray, rows_b: np.ndarray,
               hashes: np.ndarray, mask: np.ndarray, doc_sh: np.ndarray,
               config: DedupConfig) -> list[Alignment | None]:
    """``align`` of many pairs (ids ``a < b``) whose fingerprints are rows of one concatenated
    store (``hashes`` cut by ``doc_sh``, boilerplate ``mask``), in one compiled call."""
    if not len(ids_a):
        return []
    rows_a, rows_b = np.asarray(rows_a, np.int64), np.asarray(rows_b, np.int64)
    n = len(ids_a)
    threads = min(os.cpu_count() or 1, 4) if n >= 2000 else 1
    bounds = np.linspace(0, n, threads + 1).astype(np.int64).tolist()

    def part(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        found, feats = _align_many(hashes, mask, doc_sh, rows_a[lo:hi], rows_b[lo:hi],
                                   config.max_gap, config.min_passage_shingles)
        found[:, 0] += lo
        return found, feats

    if threads > 1:  # the kernel releases the GIL: pairs split across cores
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(part, bounds[:-1], bounds[1:]))
    else:
        parts = [part(0, n)]
    found = np.concatenate([f for f, _ in parts])
    feats = np.concatenate([f for _, f in parts])
    cuts = np.searchsorted(found[:, 0], np.arange(n + 1))
    rows = found[:, 1:].tolist()
    out: list[Alignment | None] = []
    for p, (a, b, f) in enumerate(zip(ids_a.tolist(), ids_b.tolist(), feats.tolist(), strict=True)):
        lo, hi = int(cuts[p]), int(cuts[p + 1])
        if lo == hi:
            out.append(None)
            continue
        out.append(Alignment(a, b, tuple(Passage(*r) for r in rows[lo:hi]), *f))
    return out
