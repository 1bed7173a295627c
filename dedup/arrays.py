"""Array helpers shared by the passage index, the fingerprints and the archive."""

from __future__ import annotations

import numpy as np
from numba import njit


def gather_ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Indexes ``starts[i] .. starts[i] + sizes[i] - 1`` of every range, concatenated in order
    (to take many rows of a flat array at once)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    ends = np.cumsum(sizes)
    return np.repeat(np.asarray(starts, dtype=np.int64) - ends + sizes, sizes) + np.arange(
        int(ends[-1]) if ends.size else 0)


@njit(cache=True)
def sort_into(src, lo, hi, dst, at, bits, hist):  # pragma: no cover - compiled
    """``src[lo:hi]`` sorted into ``dst[at:at + hi - lo]``: bucketed by the top ``bits`` bits
    (hashes are uniform, so a bucket holds about one value), then one insertion pass;
    ``np.sort`` if that pass does much more than linear work (hashes that are not uniform)."""
    n = hi - lo
    shift = np.uint64(64 - bits)
    size = 1 << bits
    hist[:size] = 0
    for i in range(lo, hi):
        hist[src[i] >> shift] += 1
    pos = at
    for b in range(size):
        c = hist[b]
        hist[b] = pos
        pos += c
    for i in range(lo, hi):
        b = src[i] >> shift
        dst[hist[b]] = src[i]
        hist[b] += 1
    budget = 8 * n + 64
    for i in range(at + 1, at + n):
        v = dst[i]
        j = i
        while j > at and dst[j - 1] > v:
            dst[j] = dst[j - 1]
            j -= 1
        dst[j] = v
        budget -= i - j
        if budget < 0:
            dst[at:at + n] = np.sort(dst[at:at + n])
            return
