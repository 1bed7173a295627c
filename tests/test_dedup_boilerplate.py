"""BoilerplateModel against a plain per-(site, shingle) page count, batch by batch."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from dedup.boilerplate import BoilerplateModel, _doc_unique


def _flat(pages: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    doc_sh = np.concatenate(([0], np.cumsum([p.size for p in pages]))).astype(np.int64)
    flat = np.concatenate(pages) if pages else np.zeros(0, np.uint64)
    return flat.astype(np.uint64), doc_sh


def _check_against_plain_count(batches: list[tuple[np.ndarray, list[np.ndarray]]],
                               min_pages: int, unique: bool = False) -> BoilerplateModel:
    """Feed ``batches`` (sites, pages) to a model; after each, its crossed shingles, masks of
    every page so far and ``boiler`` must be those of a plain count."""
    model, counts = BoilerplateModel(min_pages), Counter()
    rows: list[tuple[int, np.ndarray]] = []
    for sites, pages in batches:
        flat, doc_sh = _flat(pages)
        if unique:
            uniq, per_row = _doc_unique(flat, doc_sh)
            crossed = model.add_unique(sites, uniq, per_row)
        else:
            crossed = model.add(sites, flat, doc_sh)
        before = {k for k, c in counts.items() if c >= min_pages}
        for site, page in zip(sites.tolist(), pages, strict=True):
            counts.update((site, h) for h in set(page.tolist()))
            rows.append((site, page))
        now = {k for k, c in counts.items() if c >= min_pages}
        for hs in crossed.values():
            assert hs.tolist() == sorted(hs.tolist())
        assert {(s, h) for s, hs in crossed.items() for h in hs.tolist()} == now - before
        assert all(hs.size for hs in crossed.values())
        all_sites = np.asarray([s for s, _ in rows])
        flat_all, sh_all = _flat([p for _, p in rows])
        want = [(s, h) in now for s, p in rows for h in p.tolist()]
        assert model.masks(all_sites, flat_all, sh_all).tolist() == want
        boiler: dict[int, list[int]] = {}
        for s, h in sorted(now):
            boiler.setdefault(s, []).append(h)
        assert {s: b.tolist() for s, b in model.boiler.items()} == boiler
    assert len(model) == len(counts)
    return model


def _random_batches(rng: np.random.Generator, n_batches: int, rows: int, n_sites: int,
                    pool: np.ndarray, page: int) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    out = []
    for _ in range(n_batches):
        sites = rng.integers(0, n_sites, rows) * 7 + 3  # sparse, not 0..n site ids
        pages = [pool[rng.integers(0, pool.size, rng.integers(0, page))] for _ in sites]
        out.append((sites, pages))
    return out


@pytest.mark.parametrize("min_pages", [1, 2, 3, 5])
def test_many_interleaved_batches_equal_a_plain_count(min_pages: int) -> None:
    rng = np.random.default_rng(min_pages)
    pool = rng.integers(0, 2**64 - 1, 400, dtype=np.uint64, endpoint=True)
    _check_against_plain_count(_random_batches(rng, 25, 30, 6, pool, 25), min_pages)


def test_add_unique_equals_add() -> None:
    rng = np.random.default_rng(11)
    pool = rng.integers(0, 2**64 - 1, 300, dtype=np.uint64, endpoint=True)
    _check_against_plain_count(_random_batches(rng, 10, 40, 4, pool, 30), 3, unique=True)


def test_tables_grow_and_keep_every_count() -> None:
    # thousands of distinct shingles a site: each table is rehashed several times, and
    # shingles seen once or twice before growing must cross the limit after it
    rng = np.random.default_rng(5)
    pool = rng.integers(0, 2**64 - 1, 6000, dtype=np.uint64, endpoint=True)
    batches = _random_batches(rng, 12, 60, 3, pool, 300)
    model = _check_against_plain_count(batches, 3)
    assert model.nbytes > 0


def test_structured_hashes_and_zero() -> None:
    # small integers, zero, and hashes differing only in their top bits
    small = np.arange(0, 3000, dtype=np.uint64)
    top = (np.arange(1, 200, dtype=np.uint64) << np.uint64(56))
    pool = np.concatenate([small, top])
    rng = np.random.default_rng(8)
    _check_against_plain_count(_random_batches(rng, 8, 50, 3, pool, 200), 2)


def test_a_shingle_twice_on_a_page_counts_once_and_crossing_comes_later() -> None:
    model = BoilerplateModel(3)
    h = np.uint64(12345678901234567)
    page = np.asarray([h, h, h, 7], dtype=np.uint64)
    assert model.add(np.asarray([1]), page, np.asarray([0, 4])) == {}
    assert model.add(np.asarray([2]), page, np.asarray([0, 4])) == {}  # another site
    assert model.add(np.asarray([1]), page, np.asarray([0, 4])) == {}
    crossed = model.add(np.asarray([1, 2]), np.concatenate([page, page[:1]]),
                        np.asarray([0, 4, 5]))
    assert {s: v.tolist() for s, v in crossed.items()} == {1: sorted([int(h), 7])}
    assert model.mask(1, page).tolist() == [True] * 4
    assert model.mask(2, page).tolist() == [False] * 4
    assert model.mask(9, page).tolist() == [False] * 4  # a site never seen
    crossed = model.add(np.asarray([2]), page[:1], np.asarray([0, 1]))
    assert {s: v.tolist() for s, v in crossed.items()} == {2: [int(h)]}
    assert model.masks(np.asarray([2, 9, 1]), np.concatenate([page, page, page]),
                       np.asarray([0, 4, 8, 12])).tolist() == [
        True, True, True, False, False, False, False, False, True, True, True, True]


def test_counts_past_255_pages() -> None:
    model = BoilerplateModel(300)
    page = np.asarray([5, 6], dtype=np.uint64)
    for i in range(299):
        assert model.add(np.asarray([0]), page, np.asarray([0, 2])) == {}, i
    crossed = model.add(np.asarray([0, 0]), np.concatenate([page, page]), np.asarray([0, 2, 4]))
    assert crossed[0].tolist() == [5, 6]
    assert model.add(np.asarray([0]), page, np.asarray([0, 2])) == {}


def test_any_batching_gives_the_same_boilerplate() -> None:
    rng = np.random.default_rng(2)
    pool = rng.integers(0, 2**64 - 1, 500, dtype=np.uint64, endpoint=True)
    ((sites, pages),) = _random_batches(rng, 1, 300, 5, pool, 40)
    flat, doc_sh = _flat(pages)
    whole = BoilerplateModel(3)
    whole.add(sites, flat, doc_sh)
    for cuts in ([0, 1, 2, 300], [0, 150, 300], [*range(0, 301, 7), 300]):
        split = BoilerplateModel(3)
        for a, b in itertools.pairwise(cuts):
            part, sh = _flat(pages[a:b])
            split.add(sites[a:b], part, sh)
        assert {k: v.tolist() for k, v in split.boiler.items()} == \
            {k: v.tolist() for k, v in whole.boiler.items()}
        assert np.array_equal(split.masks(sites, flat, doc_sh), whole.masks(sites, flat, doc_sh))


@pytest.mark.parametrize("kind", ["uniform", "small", "sorted", "equal"])
def test_doc_unique_is_each_documents_sorted_set(kind: str) -> None:
    rng = np.random.default_rng(4)
    sizes = [0, 1, 2, 17, 400, 3, 0, 5000, 70000, 33]
    parts = []
    for n in sizes:
        if kind == "uniform":
            p = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
            p[: n // 4] = p[n // 4: 2 * (n // 4)]  # duplicates
        elif kind == "small":
            p = rng.integers(0, 50, n).astype(np.uint64)
        elif kind == "sorted":
            p = np.arange(n, 0, -1, dtype=np.uint64) << np.uint64(40)
        else:
            p = np.full(n, 9, np.uint64)
        parts.append(p)
    flat, doc_sh = _flat(parts)
    uniq, counts = _doc_unique(flat, doc_sh)
    want = [np.unique(p) for p in parts]
    assert counts.tolist() == [w.size for w in want]
    assert uniq.tolist() == np.concatenate(want).tolist()
