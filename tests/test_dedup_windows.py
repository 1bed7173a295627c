"""Passage-window signing: kperm32 signatures and their band keys (compiled vs references,
accuracy against exact Jaccard, LSH recall, key collisions)."""

from __future__ import annotations

import numpy as np
import pytest

from dedup import DedupConfig
from dedup.lsh import band_keys, window_keys
from dedup.minhash import (
    fold32,
    kperm32_ranges,
    kperm32_signatures,
    kperm_signatures,
    perm_params32,
)
from dedup.reference import band_keys32_reference
from dedup.signatures import signatures

K32 = DedupConfig(scheme="kperm32")


def _pairs(rng: np.random.Generator, size: int, jaccard: float,
           n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``n`` pairs of ``size``-shingle sets of the given Jaccard, flattened A0 B0 A1 B1 ..."""
    both = round(2 * size * jaccard / (1 + jaccard))
    u = rng.integers(0, 2**64, size=(n, 2 * size - both), dtype=np.uint64)
    flat = np.stack([u[:, :size], np.concatenate([u[:, :both], u[:, size:]], axis=1)],
                    axis=1).reshape(-1)
    return flat, np.arange(0, flat.size + 1, size), both / (2 * size - both)


def test_kperm32_is_the_affine_map_mod_2_32_of_the_folded_hash() -> None:
    x = np.asarray([0x0123456789ABCDEF], dtype=np.uint64)
    a, b = perm_params32(128, 1)
    assert (a % 2 == 1).all() and np.unique(a).size == 128
    folded = (0x01234567 ^ 0x89ABCDEF)
    assert int(fold32(x)[0]) == folded
    want = [(int(ap) * folded + int(bp)) % 2**32 for ap, bp in zip(a, b, strict=True)]
    assert kperm32_signatures(x, np.asarray([0, 1]), 128, 1)[0].tolist() == want
    assert kperm32_ranges(x, np.asarray([0]), np.asarray([1]), 128, 1)[0].tolist() == want


def test_compiled_kperm32_and_keys_equal_the_references() -> None:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**64, 6000, dtype=np.uint64)
    hashes[100:110] = hashes[90:100]  # duplicates inside a set
    bounds = np.asarray([0, 1, 2, 5, 9, 9, 60, 61, 120, 700, 2000, 6000])  # 0-3 past a multiple of 4
    lo, hi = bounds[:-1], bounds[1:]
    sig = kperm32_ranges(hashes, lo, hi, 128, 1)
    assert sig.dtype == np.uint32
    assert (sig == kperm32_signatures(hashes, bounds, 128, 1)).all()
    assert (sig[4] == 0xFFFFFFFF).all() and (sig[3] != 0xFFFFFFFF).all()  # empty set, full set
    keys = band_keys(sig, K32)
    assert (keys == band_keys32_reference(sig, 32, 4)).all()
    assert (window_keys(hashes, lo, hi, K32, 1) == keys).all()
    for bands, rows in ((128, 1), (43, 3), (16, 8)):  # odd rows: a last row alone in its word
        config = DedupConfig(scheme="kperm32", num_perm=bands * rows, lsh_bands=bands,
                             lsh_rows=rows)
        s = kperm32_signatures(hashes, bounds, bands * rows, 1)
        assert (band_keys(s, config) == band_keys32_reference(s, bands, rows)).all()
        assert (window_keys(hashes, lo, hi, config, 1) == band_keys(s, config)).all()
    assert (signatures([hashes[x:y] for x, y in zip(lo, hi, strict=True)], K32) == sig).all()


def test_window_keys_ignore_order_duplicates_and_threads() -> None:
    rng = np.random.default_rng(4)
    hashes = rng.integers(0, 2**64, 300000, dtype=np.uint64)
    lo = np.sort(rng.integers(0, 299000, 25000))
    hi = lo + rng.integers(1, 60, lo.size)
    one = window_keys(hashes, lo, hi, K32, 1)
    assert (window_keys(hashes, lo, hi, K32, 2) == one).all()
    s = hashes[lo[7]:hi[7]]
    again = np.concatenate([s[::-1], s[:3]])
    assert (window_keys(again, np.asarray([0]), np.asarray([again.size]), K32, 1)[0]
            == one[7]).all()


@pytest.mark.parametrize("size", [20, 40, 60])
def test_kperm32_estimates_are_as_accurate_as_kperm64(size: int) -> None:
    rng = np.random.default_rng(size)
    for jaccard in (0.2, 0.5, 0.8):
        flat, offsets, exact = _pairs(rng, size, jaccard, 2000)
        err = {}
        for name, sign in (("k32", kperm32_signatures), ("k64", kperm_signatures)):
            sig = sign(flat, offsets, 128, 1)
            est = (sig[0::2] == sig[1::2]).mean(axis=1)
            assert abs(float((est - exact).mean())) < 0.005  # unbiased
            err[name] = float(np.abs(est - exact).mean())
        ideal = np.sqrt(exact * (1 - exact) / 128 * 2 / np.pi)  # independent rows: binomial
        assert err["k32"] < ideal * 1.08 and err["k32"] < err["k64"] + 0.002


def test_lsh_recall_follows_the_s_curve() -> None:
    """Windows become candidates (share a band key) with probability 1-(1-J^4)^32."""
    rng = np.random.default_rng(9)
    for jaccard, low, high in ((0.6, 0.975, 1.0), (0.33, 0.25, 0.40), (0.1, 0.0, 0.01)):
        flat, offsets, exact = _pairs(rng, 40, jaccard, 4000)
        keys = window_keys(flat, offsets[:-1], offsets[1:], K32, 1)
        recall = float((keys[0::2] == keys[1::2]).any(axis=1).mean())
        assert low <= recall <= high, (exact, recall, 1 - (1 - exact**4) ** 32)


def test_band_keys_of_distinct_rows_never_collide() -> None:
    rng = np.random.default_rng(12)
    n = 8000
    small = rng.integers(0, 2**26, (n, 128)).astype(np.uint32)  # like minima of ~60 values
    sig = np.concatenate([small, small[:, ::-1], rng.integers(0, 2**32, (n, 128)
                                                              ).astype(np.uint32)])
    sig[:100] = small[0]  # one row 100 times; every other band content is distinct
    keys = band_keys(sig, K32)
    assert np.unique(keys[0]).size == 32  # the band salts set equal rows apart
    assert (keys[:100] == keys[0]).all()
    distinct = np.unique(keys)
    assert distinct.size == 32 * (3 * n - 99)
    top = np.bincount((distinct >> np.uint64(54)).astype(np.int64), minlength=1024)
    assert top.min() > 0.8 * top.mean()  # top bits uniform (the index sorts by them)


def test_band_keys_avalanche() -> None:
    """Each input bit of a band flips each key bit with probability ~1/2."""
    rng = np.random.default_rng(13)
    rows = rng.integers(0, 2**28, (3000, 4)).astype(np.uint32)
    base = band_keys32_reference(np.pad(rows, ((0, 0), (0, 124))), 32, 4)[:, 0]
    shifts = np.arange(64, dtype=np.uint64)
    for bit in range(128):
        flipped = rows.copy()
        flipped[:, bit // 32] ^= np.uint32(1 << (bit % 32))
        key = band_keys32_reference(np.pad(flipped, ((0, 0), (0, 124))), 32, 4)[:, 0]
        p = (((base ^ key)[:, None] >> shifts) & np.uint64(1)).mean(axis=0)
        assert np.abs(p - 0.5).max() < 0.05, bit
