"""Hashes shared by the tokenizer, the shingles and the LSH keys: SplitMix64's finaliser,
xxHash64 (compiled, bit-exact with the ``xxhash`` package) and the token hash.

A token's hash (``token_hash``) is a polynomial over its code points, length mixed in and
finalised by SplitMix64's mixer; the tokenizer computes the same in its compiled pass. A
shingle's hash is the seeded, position-weighted sum of its tokens' hashes (``_weights``),
mixed once (``dedup.reference.combine_tokens`` spells it out token by token).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

_P = 0x100000001B3  # odd: a token's polynomial hash over its code points
_G = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_U_P = np.uint64(_P)
_U_G = np.uint64(_G)
_U_M1 = np.uint64(0xBF58476D1CE4E5B9)
_U_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(cache=True, inline="always")
def _fmix(z: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    z = (z ^ (z >> _S30)) * _U_M1
    z = (z ^ (z >> _S27)) * _U_M2
    return z ^ (z >> _S31)


_X1 = np.uint64(0x9E3779B185EBCA87)
_X2 = np.uint64(0xC2B2AE3D27D4EB4F)
_X3 = np.uint64(0x165667B19E3779F9)
_X4 = np.uint64(0x85EBCA77C2B2AE63)
_X5 = np.uint64(0x27D4EB2F165667C5)


@njit(cache=True, inline="always")
def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@njit(cache=True, inline="always")
def _read32(b, i):
    v = np.uint64(0)
    for q in range(4):
        v |= np.uint64(b[i + q]) << np.uint64(8 * q)
    return v


@njit(cache=True, inline="always")
def _round(acc, x):
    acc = acc + x * _X2
    acc = _rotl(acc, 31)
    return acc * _X1


@njit(cache=True, inline="always")
def _merge(acc, v):
    acc ^= _round(np.uint64(0), v)
    return acc * _X1 + _X4


@njit(cache=True, inline="always")
def _finish(h, b, i, end):  # pragma: no cover - compiled
    """xxh64's last 4- and 1-byte steps from ``b[i:end]`` and the final avalanche."""
    if i + 4 <= end:
        h ^= _read32(b, i) * _X1
        h = _rotl(h, 23) * _X2 + _X3
        i += 4
    while i < end:
        h ^= np.uint64(b[i]) * _X5
        h = _rotl(h, 11) * _X1
        i += 1
    h ^= h >> np.uint64(33)
    h *= _X2
    h ^= h >> np.uint64(29)
    h *= _X3
    h ^= h >> np.uint64(32)
    return h


@njit(cache=True)
def xxh64_aligned(b, w, n, seed):  # pragma: no cover - compiled
    """xxHash64 of ``b[:n]`` (uint8; ``w``: the same buffer viewed as uint64 words), bit-exact
    with the ``xxhash`` package."""
    i = 0
    end = n
    if n >= 32:
        v1 = seed + _X1 + _X2
        v2 = seed + _X2
        v3 = seed
        v4 = seed - _X1
        while i + 32 <= end:
            v1 = _round(v1, w[i >> 3])
            v2 = _round(v2, w[(i >> 3) + 1])
            v3 = _round(v3, w[(i >> 3) + 2])
            v4 = _round(v4, w[(i >> 3) + 3])
            i += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = seed + _X5
    h += np.uint64(n)
    while i + 8 <= end:
        h ^= _round(np.uint64(0), w[i >> 3])
        h = _rotl(h, 27) * _X1 + _X4
        i += 8
    return _finish(h, b, i, end)




def _fmix_int(z: int) -> int:
    """SplitMix64's finaliser on a Python int (``_fmix``)."""
    z = ((z ^ (z >> 30)) * int(_U_M1)) & _MASK
    z = ((z ^ (z >> 27)) * int(_U_M2)) & _MASK
    return z ^ (z >> 31)


def token_hash(word: str) -> int:
    """64-bit hash of a normalised token: polynomial over its code points, length mixed in,
    finalised (the tokenizer computes the same in its pass)."""
    h = 0
    for ch in word:
        h = (h * _P + ord(ch)) & _MASK
    return _fmix_int(h ^ ((len(word) * _G) & _MASK))


@lru_cache(maxsize=8)
def _weights(n: int) -> np.ndarray:
    """Odd 64-bit weights of the first ``n`` token positions of a shingle."""
    return np.asarray([_fmix_int(((j + 1) * _G) & _MASK) | 1 for j in range(n)],
                      dtype=np.uint64)

