"""Banded LSH over MinHash signatures as sorted NumPy arrays (persisted as they are).

Every (window, band) gives one 64-bit key: xxHash64 of the band number (2 bytes) and the band's
rows (compiled, bit-exact with the ``xxhash`` package), so keys of different bands differ. The index
is two parallel arrays, ``keys`` (sorted) and ``rows`` (the document row of each entry); new
keys are looked up with ``searchsorted`` and merged in with one sort. Two documents are a
candidate pair when they share a key in any band, whichever windows hold it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dedup.config import DedupConfig
from dedup.minhash import _kperm_rows, perm_params
from dedup.shingles import xxh64


@njit(cache=True)
def _keys_of(sig, bands, rows_per_band):  # pragma: no cover - compiled
    """xxh64 of (band number as 2 bytes LE + the band's rows as uint64 LE), as ``xxhash`` would."""
    n = sig.shape[0]
    out = np.empty((n, bands), np.uint64)
    tmp = np.empty(2 + 8 * rows_per_band, np.uint8)
    for w in range(n):
        for b in range(bands):
            tmp[0] = b & 0xFF
            tmp[1] = (b >> 8) & 0xFF
            for r in range(rows_per_band):
                v = sig[w, b * rows_per_band + r]
                for q in range(8):
                    tmp[2 + 8 * r + q] = (v >> np.uint64(8 * q)) & np.uint64(0xFF)
            out[w, b] = xxh64(tmp, 0, tmp.shape[0], np.uint64(0))
    return out


def band_keys(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """(windows, bands) uint64 keys of signature rows."""
    sig = np.ascontiguousarray(np.atleast_2d(signatures), dtype=np.uint64)
    return _keys_of(sig, config.lsh_bands, config.lsh_rows)


def window_keys(hashes: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                config: DedupConfig) -> np.ndarray:
    """Band keys of the windows ``hashes[lo[i]:hi[i]]`` (``kperm64`` signatures, compiled);
    other schemes go through ``dedup.signatures``."""
    if config.signature_backend == "numpy" and config.scheme == "kperm64":
        a, b = perm_params(config.num_perm, config.seed)
        sig = _kperm_rows(hashes, lo.astype(np.int64), hi.astype(np.int64), a, b)
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
        order = np.argsort(flat, kind="stable")
        flat, flat_rows = flat[order], flat_rows[order]
        pairs = np.unique(_pairs(self.keys, self.rows, flat, flat_rows))
        self.merge(flat, flat_rows)
        return pairs

    def merge(self, keys: np.ndarray, rows: np.ndarray) -> None:
        if not self.keys.size:
            self.keys, self.rows = keys, rows
            return
        k = np.concatenate([self.keys, keys])
        r = np.concatenate([self.rows, rows])
        order = np.argsort(k, kind="stable")
        self.keys, self.rows = k[order], r[order]
