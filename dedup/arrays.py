"""Array helpers shared by the passage index, the fingerprints, the LSH and the archive."""

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


@njit(cache=True, nogil=True)
def bucket_count(src, starts, lens, shift, count):  # pragma: no cover - compiled
    """Add the keys ``src[starts[p]:starts[p] + lens[p]]`` of every range to ``count`` (one
    counter per value of a key's top bits, shifted one up)."""
    for p in range(starts.shape[0]):
        for i in range(starts[p], starts[p] + lens[p]):
            count[(src[i] >> shift) + np.uint64(1)] += 1


@njit(cache=True, nogil=True)
def bucket_scatter(src, starts, lens, rows, shift, pos, out_k, out_r):  # pragma: no cover
    """Place every range's keys, and its row for each, at their buckets' next free slots."""
    for p in range(starts.shape[0]):
        r = rows[p]
        for i in range(starts[p], starts[p] + lens[p]):
            b = src[i] >> shift
            j = pos[b]
            out_k[j] = src[i]
            out_r[j] = r
            pos[b] = j + 1


@njit(cache=True, nogil=True)
def insertion_sort(keys, rows):  # pragma: no cover - compiled
    """Sort ``keys`` (and ``rows`` alike) stably by insertion: after the bucket pass only
    entries of one bucket (a few) are out of order, so this is one sequential pass."""
    for i in range(1, keys.shape[0]):
        k = keys[i]
        if k < keys[i - 1]:
            r = rows[i]
            j = i - 1
            while j >= 0 and keys[j] > k:
                keys[j + 1] = keys[j]
                rows[j + 1] = rows[j]
                j -= 1
            keys[j + 1] = k
            rows[j + 1] = r


def sort_ranges(parts: list[tuple[np.ndarray, ...]], keys: np.ndarray, rows: np.ndarray) -> None:
    """The entries of ranges of uniform 64-bit keys, each range with one row, into ``keys`` and
    ``rows`` sorted by key (ties: in input order). ``parts``: (src, starts, lens, rows) per
    part, range ``p`` being ``src[starts[p]:starts[p] + lens[p]]``. One counting pass on the
    top bits over the ranges where they lie (no gathered copy), a scatter, then an insertion
    pass (a bucket holds a few entries). The one bucket sort of keyed entries: the LSH's band
    keys (a window's keys are a range) and the archive's per-site (shingle, page) runs."""
    n = keys.shape[0]
    bits = 1
    while (1 << bits) < n and bits < 30:
        bits += 1
    shift = np.uint64(64 - bits)
    count = np.zeros((1 << bits) + 1, np.int32 if n < 2**31 else np.int64)
    for src, starts, lens, _ in parts:
        bucket_count(src, starts, lens, shift, count)
    np.cumsum(count, out=count)
    for src, starts, lens, page_rows in parts:
        bucket_scatter(src, starts, lens, page_rows, shift, count, keys, rows)
    insertion_sort(keys, rows)
