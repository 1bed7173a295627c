"""Banded LSH over MinHash signatures as sorted NumPy arrays (persisted as they are).

Every (window, band) gives one 64-bit key, so keys of different bands differ. Rows of 32 bits
(``kperm32``): the band's rows, packed two to a 64-bit word, are absorbed into a per-band salt
by multiply-xorshift steps and finished with the SplitMix64 finaliser
(``dedup.reference.band_keys32_reference`` spells it out in NumPy). Rows of 64 bits:
xxHash64 of the band number (2 bytes) and the band's rows (bit-exact with the ``xxhash``
package). Both are compiled. The index is a few sorted runs, each two parallel arrays, ``keys``
(sorted) and ``rows`` (the document row of each entry): a batch's keys, sorted once, are looked
up in every run with ``searchsorted`` and become a run of their own; runs of one size class are
merged (log-structured, so a save writes only the new runs). Two documents are a candidate
pair when they share a key in any band, whichever windows and runs hold it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from dedup.arrays import sort_ranges
from dedup.config import DedupConfig
from dedup.hashing import xxh64_aligned
from dedup.minhash import (
    _check_ranges,
    _kperm_rows,
    mix_salt,
    oph_into,
    perm_params,
    perm_params32,
    probe_order,
    sign32_into,
)


@njit(cache=True, nogil=True)
def _row_keys64(row, out, rows_per_band, tmp, words):  # pragma: no cover - compiled
    """``out[b]`` = the key of band ``b`` of the signature ``row``: xxh64 of (band number, 2
    bytes LE, then the band's rows as uint64 LE), packed a word at a time into ``words``
    (``tmp``: them as bytes; ``rows_per_band + 1`` words)."""
    size = 2 + 8 * rows_per_band
    for bd in range(out.shape[0]):
        base = bd * rows_per_band
        carry = np.uint64(bd & 0xFFFF)
        for r in range(rows_per_band):
            v = row[base + r]
            words[r] = carry | (v << np.uint64(16))
            carry = v >> np.uint64(48)
        words[rows_per_band] = carry
        out[bd] = xxh64_aligned(tmp, words, size, np.uint64(0))


@njit(cache=True, nogil=True)
def _keys_of(sig, bands, rows_per_band):  # pragma: no cover - compiled
    """xxh64 of (band number as 2 bytes LE + the band's rows as uint64 LE), as ``xxhash`` would
    (``_row_keys64`` a row)."""
    out = np.empty((sig.shape[0], bands), np.uint64)
    words = np.zeros(rows_per_band + 1, np.uint64)
    tmp = words.view(np.uint8)
    for w in range(sig.shape[0]):
        _row_keys64(sig[w], out[w], rows_per_band, tmp, words)
    return out


@njit(cache=True, nogil=True)
def _oph_keys(hashes, offsets, salt, order, rows_per_band, out):  # pragma: no cover - compiled
    """``out[s]`` = band keys of the OPH signature of set ``s``, signed into one reused row."""
    k = order.shape[0]
    raw = np.empty(k, np.uint64)
    row = np.empty(k, np.uint64)
    words = np.zeros(rows_per_band + 1, np.uint64)
    tmp = words.view(np.uint8)
    for s in range(out.shape[0]):
        oph_into(row, raw, hashes, offsets[s], offsets[s + 1], salt, order)
        _row_keys64(row, out[s], rows_per_band, tmp, words)


def oph_band_keys(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int,
                  bands: int, rows_per_band: int) -> np.ndarray:
    """``band_keys`` of the ``oph_signatures`` rows of the sets ``hashes[offsets[i]:
    offsets[i + 1]]`` (bit-exact; (sets, bands) uint64), compiled, a set at a time: the
    signature matrix is never materialised."""
    if bands * rows_per_band > num_perm:
        raise ValueError("bands x rows exceed the signature's length")
    offsets = np.asarray(offsets, dtype=np.int64)
    out = np.empty((max(offsets.shape[0] - 1, 0), bands), np.uint64)
    if out.shape[0]:
        _check_ranges(hashes, offsets[:-1], offsets[1:])
        _oph_keys(hashes.astype(np.uint64, copy=False), offsets, mix_salt(seed),
                  probe_order(num_perm, seed), rows_per_band, out)
    return out


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _finish(h):
    """SplitMix64's finaliser (Stafford mix 13): a bijection with full avalanche."""
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


_finish_c = njit(nogil=True, inline="always")(_finish)


def band_salts(bands: int) -> np.ndarray:
    """Distinct per-band starting states of the 32-bit-row key (finalised band numbers)."""
    with np.errstate(over="ignore"):
        return _finish((np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _GOLDEN)


@njit(nogil=True)
def _row_keys32(row, out, salts, rows_per_band):  # pragma: no cover - compiled
    """``out[b]`` = key of band ``b`` of the uint32 signature ``row``
    (``dedup.reference.band_keys32_reference``)."""
    for bd in range(out.shape[0]):
        h = salts[bd]
        base = bd * rows_per_band
        for r in range(0, rows_per_band, 2):
            word = np.uint64(row[base + r])
            if r + 1 < rows_per_band:
                word |= np.uint64(row[base + r + 1]) << np.uint64(32)
            h ^= word
            if r + 2 < rows_per_band:
                h *= _M1
                h ^= h >> np.uint64(32)
        out[bd] = _finish_c(h)


@njit(cache=True, nogil=True)
def _keys32_of(sig, salts, rows_per_band):  # pragma: no cover - compiled
    out = np.empty((sig.shape[0], salts.shape[0]), np.uint64)
    for w in range(sig.shape[0]):
        _row_keys32(sig[w], out[w], salts, rows_per_band)
    return out


@njit(cache=True, nogil=True)
def _kperm32_keys(hashes, lo, hi, a, b, salts, rows_per_band):  # pragma: no cover - compiled
    """Band keys of each window's ``kperm32`` signature, signed into one reused row (the
    signature matrix is never materialised)."""
    out = np.empty((lo.shape[0], salts.shape[0]), np.uint64)
    row = np.empty(a.shape[0], np.uint32)
    for w in range(lo.shape[0]):
        sign32_into(row, hashes, lo[w], hi[w], a, b)
        _row_keys32(row, out[w], salts, rows_per_band)
    return out


def band_keys(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """(windows, bands) uint64 keys of signature rows: uint32 rows (``kperm32``) get the
    multiply-xorshift key, 64-bit rows the xxHash64 one."""
    sig = np.atleast_2d(signatures)
    if sig.dtype == np.uint32:
        return _keys32_of(np.ascontiguousarray(sig), band_salts(config.lsh_bands),
                          config.lsh_rows)
    sig = np.ascontiguousarray(sig, dtype=np.uint64)
    return _keys_of(sig, config.lsh_bands, config.lsh_rows)


def window_keys(hashes: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                config: DedupConfig, threads: int = 0) -> np.ndarray:
    """Band keys of the windows ``hashes[lo[i]:hi[i]]`` (``kperm32``/``kperm64`` signatures,
    compiled, split over ``threads`` threads, 0: one per core; the kernels release the GIL);
    other schemes go through ``dedup.signatures``."""
    if config.signature_backend == "numpy" and config.scheme in ("kperm32", "kperm64"):
        lo, hi = lo.astype(np.int64), hi.astype(np.int64)
        hashes = hashes.astype(np.uint64, copy=False)
        if config.scheme == "kperm32":
            a32, b32 = perm_params32(config.num_perm, config.seed)
            salts = band_salts(config.lsh_bands)

            def part(x: int, y: int) -> np.ndarray:
                return _kperm32_keys(hashes, lo[x:y], hi[x:y], a32, b32, salts, config.lsh_rows)
        else:
            a, b = perm_params(config.num_perm, config.seed)

            def part(x: int, y: int) -> np.ndarray:
                return _keys_of(_kperm_rows(hashes, lo[x:y], hi[x:y], a, b), config.lsh_bands,
                                config.lsh_rows)

        threads = threads or min(os.cpu_count() or 1, 4)
        if threads == 1 or lo.size < 20000:
            return part(0, lo.size)
        cuts = np.linspace(0, lo.size, threads + 1).astype(np.int64).tolist()

        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(part, cuts[:-1], cuts[1:])))
    else:
        from dedup.signatures import signatures

        sig = signatures([hashes[x:y] for x, y in zip(lo.tolist(), hi.tolist(), strict=True)],
                         config)
    return band_keys(sig, config)


@njit(cache=True)
def _pairs(old_keys, old_rows, new_keys, new_rows, within):  # pragma: no cover - compiled
    """Row pairs (a < b, as a << 32 | b) sharing a key: new entries against the old arrays
    and, with ``within``, among themselves (``new_keys`` sorted)."""
    lo = np.searchsorted(old_keys, new_keys, side="left")
    hi = np.searchsorted(old_keys, new_keys, side="right")
    n = new_keys.shape[0]
    total = 0
    for e in range(n):
        total += hi[e] - lo[e]
    i = 0
    while within and i < n:  # runs of one key among the new entries
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
    while within and i < n:
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


#: Runs are merged this many at a time (size-tiered): when the newest ``RUN_FANOUT`` runs are
#: of one size class (their entry counts share ``floor(log_FANOUT)``), they become one run of
#: the next class. A corpus of N entries added in batches of b keeps at most
#: ``(RUN_FANOUT - 1) * log_FANOUT(N / b)`` runs or so, and an entry is rewritten about
#: ``log_FANOUT(N / b)`` times over its life (4: 3.3 times at 1M articles in batches of 10k).
RUN_FANOUT = 4


def _size_class(entries: int) -> int:
    return int(np.log(max(entries, 1)) / np.log(RUN_FANOUT))


class Run:
    """One sorted run of band keys and the row of each; ``name``: the file it is saved as
    (None until saved: a batch's new run, or runs merged since)."""

    __slots__ = ("keys", "name", "rows")

    def __init__(self, keys: np.ndarray, rows: np.ndarray, name: int | None = None) -> None:
        self.keys, self.rows, self.name = keys, rows, name

    def __len__(self) -> int:
        return int(self.keys.shape[0])


class BandIndex:
    """Band keys as sorted runs (log-structured): each batch's keys become a new run, its
    candidate pairs the merge-join of its sorted keys with every run (``searchsorted``) and
    among themselves; runs of one size class are merged (``RUN_FANOUT`` at a time). Which runs hold a key
    changes nothing: a pair is a candidate when its rows share a key in any band, whichever
    windows and runs hold it. Rows are the index's own numbering."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config
        self.runs: list[Run] = []

    def __len__(self) -> int:
        return sum(map(len, self.runs))

    @property
    def nbytes(self) -> int:
        return sum(r.keys.nbytes + r.rows.nbytes for r in self.runs)

    def add(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Insert ``keys`` ((windows, bands)) of the windows of ``rows``; returns the encoded
        row pairs (``a << 32 | b``, a < b, unique, sorted) newly sharing a key."""
        src = np.ascontiguousarray(keys, dtype=np.uint64).reshape(-1)
        per = keys.shape[1] if keys.ndim == 2 else 1  # a window's keys: one range of src
        rows = np.asarray(rows, dtype=np.int32)
        flat, flat_rows = np.empty(src.shape[0], np.uint64), np.empty(src.shape[0], np.int32)
        sort_ranges([(src, np.arange(rows.shape[0], dtype=np.int64) * per,
                      np.full(rows.shape[0], per, np.int64), rows)], flat, flat_rows)
        found = [_pairs(r.keys, r.rows, flat, flat_rows, False) for r in self.runs]
        found.append(_pairs(flat[:0], flat_rows[:0], flat, flat_rows, True))
        pairs = np.unique(np.concatenate(found))
        if flat.size:
            self.runs.append(Run(flat, flat_rows))
            self.merge()
        return pairs

    def merge(self) -> None:
        """Merge the newest ``RUN_FANOUT`` runs into one while they are of one size class
        (equal keys: the older runs' entries first)."""
        runs, n = self.runs, RUN_FANOUT
        while len(runs) >= n and len({_size_class(len(r)) for r in runs[-n:]}) == 1:
            runs[-n:] = [Run(*_fold(runs[-n].keys, runs[-n].rows.astype(np.int32, copy=False),
                                    runs[-n + 1:]))]  # saved rows: narrower

    def load(self, runs: list[Run]) -> None:
        """Take stored runs (oldest first), as saved."""
        self.runs = [r for r in runs if len(r)]

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        """All runs as one sorted (keys, rows) pair (older runs' entries first on equal keys)."""
        return _fold(np.zeros(0, np.uint64), np.zeros(0, np.int32), self.runs)


def _fold(keys: np.ndarray, rows: np.ndarray, runs: list[Run]) -> tuple[np.ndarray, np.ndarray]:
    """``keys``/``rows`` merged with each run in turn (equal keys: earlier entries first), the
    rows in ``rows``' dtype."""
    for r in runs:
        keys, rows = _merge(keys, rows, r.keys, r.rows.astype(rows.dtype))
    return keys, rows
