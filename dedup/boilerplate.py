"""Per-site template text: shingles repeated on many pages of one site never link pages."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _doc_unique(hashes, doc_sh):  # pragma: no cover - compiled
    """Each document's distinct hashes (sorted), concatenated, and their counts per document."""
    n_docs = doc_sh.shape[0] - 1
    out = np.empty(hashes.shape[0], np.uint64)
    counts = np.zeros(n_docs, np.int64)
    k = 0
    for d in range(n_docs):
        part = np.sort(hashes[doc_sh[d]:doc_sh[d + 1]])
        for i in range(part.shape[0]):
            if i == 0 or part[i] != part[i - 1]:
                out[k] = part[i]
                k += 1
                counts[d] += 1
    return out[:k].copy(), counts


@njit(cache=True)
def _gather(offsets, rows):  # pragma: no cover - compiled
    """Indexes ``offsets[r]:offsets[r + 1]`` of each row of ``rows``, concatenated."""
    total = 0
    for r in rows:
        total += offsets[r + 1] - offsets[r]
    out = np.empty(total, np.int64)
    k = 0
    for r in rows:
        for i in range(offsets[r], offsets[r + 1]):
            out[k] = i
            k += 1
    return out


@njit(cache=True)
def _merge_counts(k1, c1, k2, c2, limit):  # pragma: no cover - compiled
    """Merge two sorted (key, count) arrays, adding counts of equal keys; also the keys whose
    count reached ``limit`` with the second array."""
    n1, n2 = k1.shape[0], k2.shape[0]
    keys = np.empty(n1 + n2, np.uint64)
    counts = np.empty(n1 + n2, np.int32)
    crossed = np.empty(n2, np.uint64)
    i = j = k = m = 0
    while i < n1 or j < n2:
        if j >= n2 or (i < n1 and k1[i] < k2[j]):
            keys[k], counts[k] = k1[i], c1[i]
            i += 1
        elif i >= n1 or k2[j] < k1[i]:
            keys[k], counts[k] = k2[j], c2[j]
            if c2[j] >= limit:
                crossed[m] = k2[j]
                m += 1
            j += 1
        else:
            keys[k], counts[k] = k1[i], c1[i] + c2[j]
            if c1[i] < limit <= c1[i] + c2[j]:
                crossed[m] = k1[i]
                m += 1
            i += 1
            j += 1
        k += 1
    return keys[:k].copy(), counts[:k].copy(), crossed[:m].copy()


def _by_site(sites: np.ndarray, per_row: np.ndarray):
    """(order grouping per-row values by site, [(site, first, end) in that order])."""
    rows = np.argsort(sites, kind="stable")
    offsets = np.zeros(per_row.shape[0] + 1, dtype=np.int64)
    np.cumsum(per_row, out=offsets[1:])
    order = _gather(offsets, rows)
    sorted_sites = sites[rows]
    cuts = (np.flatnonzero(np.diff(sorted_sites)) + 1).tolist()
    pos = np.concatenate(([0], np.cumsum(per_row[rows])))  # where each sorted row starts
    starts = [0, *(int(pos[c]) for c in cuts)]
    ends = [*starts[1:], order.shape[0]]
    firsts = [0, *cuts]
    return order, [(int(sorted_sites[f]), a, b)
                   for f, a, b in zip(firsts, starts, ends, strict=True) if b > a]


class BoilerplateModel:
    """Counts, per site, on how many pages each shingle occurs.

    A shingle on ``min_pages`` or more pages of one site is boilerplate there (footers, "Most
    read" teasers, newsletter pitches, syndication notes). Counts only grow, so a shingle once
    boilerplate stays boilerplate, and the final mask is the same however pages arrived.
    Per site: the distinct shingles as a sorted array and their page counts.
    """

    def __init__(self, min_pages: int) -> None:
        self.min_pages = min_pages
        self.keys: dict[int, np.ndarray] = {}
        self.counts: dict[int, np.ndarray] = {}
        self.boiler: dict[int, np.ndarray] = {}  # per site: its boilerplate shingles, sorted

    def add(self, sites: np.ndarray, hashes: np.ndarray, doc_sh: np.ndarray) -> dict[int, np.ndarray]:
        """Count pages (row ``i``: site ``sites[i]``, shingles ``hashes[doc_sh[i]:doc_sh[i+1]]``);
        returns, per site, the shingles that became boilerplate with them."""
        uniq, per_row = _doc_unique(hashes, doc_sh)
        return self.add_unique(sites, uniq, per_row)

    def add_unique(self, sites: np.ndarray, uniq: np.ndarray,
                   per_row: np.ndarray) -> dict[int, np.ndarray]:
        """``add`` given each row's distinct shingles (``uniq``, ``per_row`` of them a row)."""
        limit = self.min_pages
        order, groups = _by_site(np.asarray(sites, dtype=np.int64), per_row)
        grouped = uniq[order]
        crossed: dict[int, np.ndarray] = {}
        for site, a, b in groups:
            new, n_new = np.unique(grouped[a:b], return_counts=True)
            old_k = self.keys.get(site)
            if old_k is None:
                self.keys[site], self.counts[site] = new, n_new.astype(np.int32)
                hit = n_new >= limit
                if hit.any():
                    crossed[site] = new[hit]
                    self.boiler[site] = new[hit]
                continue
            keys, counts, hit = _merge_counts(old_k, self.counts[site], new,
                                              n_new.astype(np.int32), limit)
            self.keys[site], self.counts[site] = keys, counts
            if hit.size:
                crossed[site] = hit
                self.boiler[site] = np.union1d(self.boiler.get(site, new[:0]), hit)
        return crossed

    def mask(self, site: int, hashes: np.ndarray) -> np.ndarray:
        """True where a shingle of a page of ``site`` is boilerplate."""
        boiler = self.boiler.get(site)
        if boiler is None or not boiler.size:
            return np.zeros(hashes.shape[0], dtype=bool)
        pos = np.minimum(np.searchsorted(boiler, hashes), boiler.size - 1)
        return boiler[pos] == hashes

    def masks(self, sites: np.ndarray, hashes: np.ndarray, doc_sh: np.ndarray) -> np.ndarray:
        """Masks of many rows at once, concatenated like ``hashes``.

        Boilerplate sets are small: a 65,536-bit filter of their top 16 bits (any site) leaves
        few shingles to look up exactly in their own site's set."""
        out = np.zeros(hashes.shape[0], dtype=bool)
        sets = [b for b in self.boiler.values() if b.size]
        if not sets:
            return out
        top = np.zeros(1 << 16, dtype=bool)
        top[np.concatenate(sets) >> np.uint64(48)] = True
        maybe = np.flatnonzero(top[hashes >> np.uint64(48)])
        if not maybe.size:
            return out
        rows = np.searchsorted(doc_sh, maybe, side="right") - 1
        site_of = np.asarray(sites, dtype=np.int64)[rows]
        order = np.argsort(site_of, kind="stable")
        cuts = np.flatnonzero(np.diff(site_of[order])) + 1
        for part in np.split(order, cuts):
            idx = maybe[part]
            out[idx] = self.mask(int(site_of[part[0]]), hashes[idx])
        return out
