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
        order, groups = _by_site(np.asarray(sites, dtype=np.int64), per_row)
        grouped = uniq[order]
        crossed: dict[int, np.ndarray] = {}
        limit = self.min_pages
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
            old_c = self.counts[site]
            pos = np.searchsorted(old_k, new)
            found = pos < old_k.size
            found[found] = old_k[pos[found]] == new[found]
            before = np.zeros(new.size, dtype=np.int64)
            before[found] = old_c[pos[found]]
            after = before + n_new
            hit = (before < limit) & (after >= limit)
            if hit.any():
                crossed[site] = new[hit]
                self.boiler[site] = np.union1d(self.boiler.get(site, new[:0]), new[hit])
            counts = old_c.copy()
            counts[pos[found]] += n_new[found].astype(np.int32)
            fresh = ~found
            keys = np.concatenate([old_k, new[fresh]])
            counts = np.concatenate([counts, n_new[fresh].astype(np.int32)])
            o = np.argsort(keys, kind="stable")
            self.keys[site], self.counts[site] = keys[o], counts[o]
        return crossed

    def mask(self, site: int, hashes: np.ndarray) -> np.ndarray:
        """True where a shingle of a page of ``site`` is boilerplate."""
        boiler = self.boiler.get(site)
        if boiler is None or not boiler.size:
            return np.zeros(hashes.shape[0], dtype=bool)
        pos = np.minimum(np.searchsorted(boiler, hashes), boiler.size - 1)
        return boiler[pos] == hashes

    def masks(self, sites: np.ndarray, hashes: np.ndarray, doc_sh: np.ndarray) -> np.ndarray:
        """Masks of many rows at once, concatenated like ``hashes``."""
        out = np.zeros(hashes.shape[0], dtype=bool)
        order, groups = _by_site(np.asarray(sites, dtype=np.int64), np.diff(doc_sh))
        grouped = hashes[order]
        for site, a, b in groups:
            out[order[a:b]] = self.mask(site, grouped[a:b])
        return out
