"""Per-site template text: shingles repeated on many pages of one site never link pages."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


class BoilerplateModel:
    """Counts, per site, on how many pages each shingle occurs.

    A shingle on ``min_pages`` or more pages of one site is boilerplate there (footers, "Most
    read" teasers, newsletter pitches, syndication notes). Counts only grow, so a shingle once
    boilerplate stays boilerplate, and the final mask is the same however pages arrived.
    """

    def __init__(self, min_pages: int) -> None:
        self.min_pages = min_pages
        self.counts: dict[str, dict[int, int]] = defaultdict(dict)

    def add(self, site: str, hashes: np.ndarray) -> list[int]:
        """Count one page; returns the shingles that became boilerplate of ``site`` with it."""
        counts = self.counts[site]
        limit = self.min_pages
        crossed = []
        for h in np.unique(hashes).tolist():
            c = counts.get(h, 0) + 1
            counts[h] = c
            if c == limit:
                crossed.append(h)
        return crossed

    def mask(self, site: str, hashes: np.ndarray) -> np.ndarray:
        """True where a shingle of a page of ``site`` is boilerplate."""
        counts = self.counts.get(site, {})
        limit = self.min_pages
        return np.fromiter((counts.get(h, 0) >= limit for h in hashes.tolist()),
                           dtype=bool, count=hashes.shape[0])
