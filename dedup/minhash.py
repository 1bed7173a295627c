"""Vectorised NumPy MinHash over 64-bit shingle hashes: every shingle counts, no sampling.

``oph_signatures``: one-permutation MinHash with optimal densification. Every shingle is mixed
once and falls in one of ``num_perm`` bins; a bin keeps the minimum mixed value of its shingles.
An empty bin copies the first non-empty bin along a seeded probe sequence of its own (a
permutation of the bins, never data-dependent: Shrivastava 2017), so two sets' bins agree with
probability exactly their Jaccard. O(shingles + num_perm) per set: the fast path for whole
documents.

``kperm_signatures``: classic MinHash, ``num_perm`` affine permutations of 2**64, vectorised
over many sets. Its rows are independent even for small sets, which banded LSH over passage
windows needs. Both run over many sets at once (hashes concatenated, ``offsets`` cut them).

``kperm32_signatures``: the same over 32-bit values (each hash folded to 32 bits, permutations
``a_i * x + b_i mod 2**32``): as accurate on window-sized sets (the inputs are already uniform
hashes), and its compiled loop multiplies 8 lanes per AVX2 instruction (AVX2 has no 64-bit
vector multiply), so ``kperm32_ranges`` signs ~8x faster than ``kperm_ranges``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = 0x9E3779B97F4A7C15
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
_EMPTY32 = np.uint32(0xFFFFFFFF)
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_CHUNK = 1 << 15


def mix64(x: np.ndarray, seed: int) -> np.ndarray:
    """Seeded bijective mix of 64-bit hashes: xor a salt, multiply by an odd constant, xorshift.

    Inputs are already xxhash64 values (uniform), so one multiply suffices to make the set's
    minimum and bin depend on the seed; uint64 arithmetic wraps modulo 2**64.
    """
    salt = np.uint64((seed * _GOLDEN + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF)
    z = np.bitwise_xor(x.astype(np.uint64, copy=False), salt)
    z *= _M1
    z ^= z >> np.uint64(29)
    return z


def probe_ranks(num_perm: int, seed: int) -> np.ndarray:
    """(num_perm, num_perm) small ints: ``[j, b]`` = step at which empty bin ``j`` probes bin ``b``.

    Each bin's probe sequence is a seeded permutation of all bins (the order of mixed
    ``j * num_perm + b``), so probing always ends and never depends on the data.
    """
    keys = np.arange(num_perm * num_perm, dtype=np.uint64)
    z = mix64(mix64(keys, seed ^ 0x5EED) * _M2, seed).reshape(num_perm, num_perm)
    order = np.argsort(z, axis=1, kind="stable")
    return np.argsort(order, axis=1, kind="stable").astype(np.uint8 if num_perm < 255 else np.uint16)


def mix_salt(seed: int) -> np.uint64:
    """The salt ``mix64`` xors into every hash for ``seed``."""
    return np.uint64((seed * _GOLDEN + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF)


@lru_cache(maxsize=8)
def probe_order(num_perm: int, seed: int) -> np.ndarray:
    """(num_perm, num_perm) int64: row ``j``, the bins empty bin ``j`` probes, in order (the
    inverse of ``probe_ranks``' rows)."""
    return np.argsort(probe_ranks(num_perm, seed), axis=1).astype(np.int64)


@njit(cache=True, nogil=True)
def oph_into(out, raw, hashes, lo, hi, salt, order):  # pragma: no cover - compiled
    """``out[:]`` = the ``oph_signatures`` row of ``hashes[lo:hi]`` (bit-exact), ``raw`` a
    scratch row of the same length: each bin's minimum mixed value, then each empty bin the
    value of the first originally filled bin of its probe sequence (``order``)."""
    k = out.shape[0]
    pow2 = (k & (k - 1)) == 0
    lg = 0
    while (1 << lg) < k:
        lg += 1
    shift = np.uint64(64 - lg)
    for p in range(k):
        raw[p] = _EMPTY
    for i in range(lo, hi):
        z = (hashes[i] ^ salt) * _M1
        z ^= z >> np.uint64(29)
        if not pow2:
            b = np.int64((z >> _S32) * np.uint64(k) >> _S32)
        elif k > 1:
            b = np.int64(z >> shift)
        else:
            b = 0
        raw[b] = min(raw[b], z)
    for p in range(k):
        v = raw[p]
        if v == _EMPTY:
            for q in range(k):
                v = raw[order[p, q]]
                if v != _EMPTY:
                    break
        out[p] = v


@njit(cache=True)
def _oph_rows(hashes, offsets, salt, order):  # pragma: no cover - compiled
    k = order.shape[0]
    n = offsets.shape[0] - 1
    sig = np.empty((n, k), np.uint64)
    raw = np.empty(k, np.uint64)
    for s in range(n):
        oph_into(sig[s], raw, hashes, offsets[s], offsets[s + 1], salt, order)
    return sig


def oph_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int,
                   seed: int) -> np.ndarray:
    """Signatures of the sets ``hashes[offsets[i]:offsets[i+1]]``, shape (sets, num_perm),
    compiled, a set at a time (``oph_into``; 3.5x ``dedup.reference.oph_signatures_numpy``, same values).

    ``hashes`` are uint64 shingle hashes (duplicates allowed); an empty set's row is all
    ``2**64-1``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    if offsets.shape[0] < 2:
        return np.full((0, num_perm), _EMPTY, dtype=np.uint64)
    _check_ranges(hashes, offsets[:-1], offsets[1:])
    return _oph_rows(hashes.astype(np.uint64, copy=False), offsets, mix_salt(seed),
                     probe_order(num_perm, seed))


def perm_params(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Odd multipliers and addends of the ``num_perm`` affine permutations of 2**64."""
    keys = np.arange(2 * num_perm, dtype=np.uint64)
    z = mix64(mix64(keys, seed ^ 0xA5A5) * _M2, seed)
    return z[:num_perm] | np.uint64(1), z[num_perm:]


def kperm_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int,
                     seed: int) -> np.ndarray:
    """Classic MinHash: per permutation ``a_i * x + b_i mod 2**64``, minimum per set.

    O(shingles * num_perm) but vectorised over many sets at once; for small sets (passage
    windows) its rows are independent, which banded LSH needs (densified one-permutation rows
    of a sparse set are copies of one another, so bands fail together).
    """
    a, b = perm_params(num_perm, seed)
    return _affine_min(hashes.astype(np.uint64, copy=False), offsets, a, b)


def _affine_min(x: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per set ``x[offsets[i]:offsets[i+1]]`` and permutation p: min of ``a[p] * x + b[p]`` in
    the dtype of ``x``, ``a`` and ``b`` (wrapping); an empty set's row is the dtype's maximum."""
    offsets = np.asarray(offsets, dtype=np.int64)
    n_sets = max(int(offsets.shape[0]) - 1, 0)
    num_perm = a.shape[0]
    sig = np.full((n_sets, num_perm), np.iinfo(x.dtype).max, dtype=x.dtype)
    if n_sets == 0 or x.shape[0] == 0:
        return sig
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    step = max(1, _CHUNK // num_perm)
    lo = 0
    while lo < nonempty.size:  # chunks of whole sets holding about `step` shingles
        first = int(offsets[nonempty[lo]])
        hi = int(np.searchsorted(offsets[nonempty + 1], first + step, side="right"))
        hi = max(hi, lo + 1)
        sets = nonempty[lo:hi]
        starts = offsets[sets] - first
        chunk = x[first:int(offsets[sets[-1] + 1])]
        h = chunk[:, None] * a[None, :]
        h += b
        sig[sets] = np.minimum.reduceat(h, starts, axis=0)
        lo = hi
    return sig


@njit(cache=True, nogil=True)
def _kperm_rows(hashes, lo, hi, a, b):  # pragma: no cover - compiled
    n_sets = lo.shape[0]
    k = a.shape[0]
    sig = np.empty((n_sets, k), np.uint64)
    for s in range(n_sets):
        row = sig[s]
        for p in range(k):
            row[p] = _EMPTY
        for i in range(lo[s], hi[s]):
            x = hashes[i]
            for p in range(k):
                v = x * a[p] + b[p]
                if v < row[p]:
                    row[p] = v
    return sig


def fold32(hashes: np.ndarray) -> np.ndarray:
    """64-bit hashes folded to 32 bits (``low ^ high``), the input of ``kperm32``."""
    h = hashes.astype(np.uint64, copy=False)
    return ((h ^ (h >> _S32)) & _LOW32).astype(np.uint32)


def perm_params32(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Odd multipliers and addends of the ``num_perm`` affine permutations of 2**32 (the high
    halves of ``perm_params``)."""
    a, b = perm_params(num_perm, seed)
    return (a >> _S32).astype(np.uint32) | np.uint32(1), (b >> _S32).astype(np.uint32)


def kperm32_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int,
                       seed: int) -> np.ndarray:
    """``kperm_signatures`` over 32 bits: per permutation ``a_i * fold32(x) + b_i mod 2**32``,
    minimum per set; uint32 (sets, num_perm), an empty set's row all ``2**32-1``. The reference
    of ``kperm32_ranges``."""
    a, b = perm_params32(num_perm, seed)
    return _affine_min(fold32(hashes), offsets, a, b)


@njit(nogil=True, inline="always")
def _fold(h):  # pragma: no cover - compiled
    return np.uint32((h ^ (h >> _S32)) & _LOW32)


@njit(nogil=True)
def sign32_into(row, hashes, lo, hi, a, b):  # pragma: no cover - compiled
    """``row[:] = kperm32`` signature of ``hashes[lo:hi]``. Four shingles per pass over the
    row (the last one repeated past the end: the minimum ignores duplicates), so each lane
    loads ``a``, ``b`` and the row once per four multiplies; LLVM vectorises the ``p`` loop."""
    k = a.shape[0]
    for p in range(k):
        row[p] = _EMPTY32
    last = hi - 1
    for i in range(lo, hi, 4):
        x0 = _fold(hashes[i])
        x1 = _fold(hashes[min(i + 1, last)])
        x2 = _fold(hashes[min(i + 2, last)])
        x3 = _fold(hashes[min(i + 3, last)])
        for p in range(k):
            ap = a[p]
            bp = b[p]
            # np.uint32(...) wraps: numba computes uint32 products in 64 bits
            v = min(min(np.uint32(x0 * ap + bp), np.uint32(x1 * ap + bp)),
                    min(np.uint32(x2 * ap + bp), np.uint32(x3 * ap + bp)))
            row[p] = min(row[p], v)


@njit(cache=True, nogil=True)
def _kperm32_rows(hashes, lo, hi, a, b):  # pragma: no cover - compiled
    sig = np.empty((lo.shape[0], a.shape[0]), np.uint32)
    for s in range(lo.shape[0]):
        sign32_into(sig[s], hashes, lo[s], hi[s], a, b)
    return sig


def kperm32_ranges(hashes: np.ndarray, lo: np.ndarray, hi: np.ndarray, num_perm: int,
                   seed: int) -> np.ndarray:
    """``kperm32_signatures`` of the sets ``hashes[lo[i]:hi[i]]`` (compiled, same values)."""
    return _ranges(_kperm32_rows, perm_params32(num_perm, seed), hashes, lo, hi)


def kperm_ranges(hashes: np.ndarray, lo: np.ndarray, hi: np.ndarray, num_perm: int,
                 seed: int) -> np.ndarray:
    """``kperm_signatures`` of the sets ``hashes[lo[i]:hi[i]]`` (compiled, same values)."""
    return _ranges(_kperm_rows, perm_params(num_perm, seed), hashes, lo, hi)


def _ranges(kernel, params: tuple[np.ndarray, np.ndarray], hashes: np.ndarray,
            lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A compiled k-permutation kernel over the checked ranges ``hashes[lo[i]:hi[i]]``."""
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    _check_ranges(hashes, lo, hi)
    return kernel(hashes.astype(np.uint64, copy=False), lo, hi, *params)


def _check_ranges(hashes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Compiled loops do not check bounds: refuse ranges outside ``hashes`` up front."""
    if lo.size and (int(lo.min()) < 0 or int(hi.max()) > hashes.shape[0] or (hi < lo).any()):
        raise ValueError("set ranges outside the hash array")
