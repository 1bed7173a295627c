"""Banded LSH over MinHash signatures as sorted NumPy arrays (persisted as they are).

Every (window, band) gives one 64-bit key: xxHash64 of the band number (2 bytes) and the band's
rows (compiled, bit-exact with the ``xxhash`` package), so keys of different bands differ. The index
is two parallel arrays, ``keys`` (sorted) and ``rows`` (the document row of each entry); new
keys are looked up with ``searchsorted`` and merged in with one sort. Two documents are a
candidate pair when they share a key in any band, whichever windows hold it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from dedup.config import DedupConfig
from dedup.minhash import _kperm_rows, perm_params
from dedup.shingles import xxh64_aligned


@njit(cache=True, nogil=True)
def _keys_of(sig, bands, rows_per_band):  # pragma: no cover - compiled
    """xxh64 of (band number as 2 bytes LE + the band's rows as uint64 LE), as ``xxhash`` would."""
    n = sig.shape[0]
    out = np.empty((n, bands), np.uint64)
    tmp = np.zeros((2 + 8 * rows_per_band + 7) // 8 * 8, np.uint8)
    words = tmp.view(np.uint64)
    size = 2 + 8 * rows_per_band
    for w in range(n):
        for b in range(bands):
            tmp[0] = b & 0xFF
            tmp[1] = (b >> 8) & 0xFF
            for r in range(rows_per_band):
                v = sig[w, b * rows_per_band + r]
                for q in range(8):
                    tmp[2 + 8 * r + q] = (v >> np.uint64(8 * q)) & np.uint64(0xFF)
            out[w, b] = xxh64_aligned(tmp, words, size, np.uint64(0))
    return out


def band_keys(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """(windows, bands) uint64 keys of signature rows."""
    sig = np.ascontiguousarray(np.atleast_2d(signatures), dtype=np.uint64)
    return _keys_of(sig, config.lsh_bands, config.lsh_rows)


def window_keys(hashes: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                config: DedupConfig, threads: int = 0) -> np.ndarray:
    """Band keys of the windows ``hashes[lo[i]:hi[i]]`` (``kperm64`` signatures, compiled,
    split over ``threads`` threads, 0: one per core; the kernels release the GIL); other
    schemes go through ``dedup.signatures``."""
    if config.signature_backend == "numpy" and config.scheme == "kperm64":
        a, b = perm_params(config.num_perm, config.seed)
        lo, hi = lo.astype(np.int64), hi.astype(np.int64)
        threads = threads or min(os.cpu_count() or 1, 4)
        if threads == 1 or lo.size < 20000:
            return _keys_of(_kperm_rows(hashes, lo, hi, a, b), config.lsh_bands, config.lsh_rows)
        cuts = np.linspace(0, lo.size, threads + 1).astype(np.int64).tolist()

        def part(x: int, y: int) -> np.ndarray:
            return _keys_of(_kperm_rows(hashes, lo[x:y], hi[x:y], a, b), config.lsh_bands,
                            config.lsh_rows)

        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(part, cuts[:-1], cuts[1:])))
    else:
        from dedup.signatures import signatures

        sig = signatures([hashes[x:y] for x, y in zip(lo.tolist(), hi.tolist(), strict=True)],
                         config)
    return band_keys(sig, config)


@njit(cache=True)
def _pairs(old_keys, old_rows, new_keys, new_rows):  # pragma: no cover - compiled
    """Row pairs (a < b, as a << 32 | b) sharing a key: new entries against the old arrays and
    among themselves (``new_keys`` sorted)."""
    lo = np.searchsorted(old_keys, new_keys, side="left")
    hi = np.searchsorted(old_keys, new_keys, side="right")
    n = new_keys.shape[0]
    total = 0
    for e in range(n):
        total += hi[e] - lo[e]
    i = 0
    while i < n:  # runs of one key among the new entries
        j = i + 1
        while j < n and new_keys[j] == new_keys[i]:
            j += 1
        total += (j - i) * (j - i - 1) // 2
        i = j
    out = np.empty(total, np.int64)
    k = 0
    for e in range(n):
        r = new_rows[e]
        for q in range(lo[e], hi[e]):
            o = old_rows[q]
            if o != r:
                out[k] = (np.int64(min(o, r)) << 32) | np.int64(max(o, r))
                k += 1
    i = 0
    while i < n:
        j = i + 1
        while j < n and new_keys[j] == new_keys[i]:
            j += 1
        for x in range(i, j):
            for y in range(x + 1, j):
                a, b = new_rows[x], new_rows[y]
                if a != b:
                    out[k] = (np.int64(min(a, b)) << 32) | np.int64(max(a, b))
                    k += 1
        i = j
    return out[:k]


@njit(cache=True)
def _sort_by_key(keys, rows):  # pragma: no cover - compiled
    """``keys`` and ``rows`` ordered by key (ties: input order). Keys are uniform hashes, so one
    counting pass on the top bits leaves buckets of a few entries, insertion-sorted."""
    n = keys.shape[0]
    bits = 1
    while (1 << bits) < n and bits < 30:
        bits += 1
    shift = np.uint64(64 - bits)
    count = np.zeros((1 << bits) + 1, np.int64)
    for i in range(n):
        count[(keys[i] >> shift) + np.uint64(1)] += 1
    for b in range(1 << bits):
        count[b + 1] += count[b]
    out_k = np.empty(n, np.uint64)
    out_r = np.empty(n, rows.dtype)
    pos = count[:-1].copy()
    for i in range(n):
        b = keys[i] >> shift
        out_k[pos[b]] = keys[i]
        out_r[pos[b]] = rows[i]
        pos[b] += 1
    for b in range(1 << bits):
        for i in range(count[b] + 1, count[b + 1]):
            k, r = out_k[i], out_r[i]
            j = i - 1
            while j >= count[b] and out_k[j] > k:
                out_k[j + 1] = out_k[j]
                out_r[j + 1] = out_r[j]
                j -= 1
            out_k[j + 1] = k
            out_r[j + 1] = r
    return out_k, out_r


@njit(cache=True)
def _merge(k1, r1, k2, r2):  # pragma: no cover - compiled
    """Merge two key-sorted (key, row) arrays; on equal keys the first array's entries first."""
    n1, n2 = k1.shape[0], k2.shape[0]
    out_k = np.empty(n1 + n2, np.uint64)
    out_r = np.empty(n1 + n2, r1.dtype)
    i = j = 0
    for o in range(n1 + n2):
        if j >= n2 or (i < n1 and k1[i] <= k2[j]):
            out_k[o] = k1[i]
            out_r[o] = r1[i]
            i += 1
        else:
            out_k[o] = k2[j]
            out_r[o] = r2[j]
            j += 1
    return out_k, out_r


class BandIndex:
    """Sorted band keys and the document row of each; rows are the index's own numbering."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config
        self.keys = np.zeros(0, dtype=np.uint64)
        self.rows = np.zeros(0, dtype=np.int32)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def add(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Insert ``keys`` ((windows, bands)) of the windows of ``rows``; returns the encoded
        row pairs (``a << 32 | b``, a < b, unique, sorted) newly sharing a key."""
        flat = np.ascontiguousarray(keys, dtype=np.uint64).reshape(-1)
        flat_rows = np.repeat(np.asarray(rows, dtype=np.int32), keys.shape[1] if keys.ndim == 2
                              else 1)
        flat, flat_rows = _sort_by_key(flat, flat_rows)
        pairs = np.unique(_pairs(self.keys, self.rows, flat, flat_rows))
        self.merge(flat, flat_rows)
        return pairs

    def merge(self, keys: np.ndarray, rows: np.ndarray) -> None:
        if not self.keys.size:
            self.keys, self.rows = keys, rows
            return
        self.keys, self.rows = _merge(self.keys, self.rows, keys, rows.astype(self.rows.dtype))
