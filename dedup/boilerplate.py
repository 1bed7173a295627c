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


def _by_site(sites: np.ndarray, per_row: np.ndarray):
    """(order grouping per-row values by site, [(site, first, end) in that order])."""
    row_site = np.repeat(sites, per_row)
    order = np.argsort(row_site, kind="stable")
    site_sorted = row_site[order]
    cuts = np.flatnonzero(np.diff(site_sorted)) + 1
    starts = [0, *cuts.tolist()]
    ends = [*cuts.tolist(), site_sorted.shape[0]]
    return order, [(int(site_sorted[a]), a, b) for a, b in zip(starts, ends, strict=True) if b > a]


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
        keys = self.keys.get(site)
        if keys is None or not keys.size:
            return np.zeros(hashes.shape[0], dtype=bool)
        pos = np.minimum(np.searchsorted(keys, hashes), keys.size - 1)
        return (keys[pos] == hashes) & (self.counts[site][pos] >= self.min_pages)

    def masks(self, sites: np.ndarray, hashes: np.ndarray, doc_sh: np.ndarray) -> np.ndarray:
        """Masks of many rows at once, concatenated like ``hashes``."""
        out = np.zeros(hashes.shape[0], dtype=bool)
        order, groups = _by_site(np.asarray(sites, dtype=np.int64), np.diff(doc_sh))
        grouped = hashes[order]
        for site, a, b in groups:
            out[order[a:b]] = self.mask(site, grouped[a:b])
        return out
