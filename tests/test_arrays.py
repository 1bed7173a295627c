"""The shared bucket sort and union-find agree with their plain definitions."""

from __future__ import annotations

import numpy as np

from dedup.arrays import sort_ranges
from dedup.cluster import union_roots


def test_sort_ranges_is_a_stable_sort_of_the_ranges_entries() -> None:
    rng = np.random.default_rng(7)
    for n_ranges, dup in ((0, False), (1, False), (50, False), (400, True)):
        parts, want_k, want_r = [], [], []
        for _ in range(3):  # several parts, ranges not back to back, some empty
            lens = rng.integers(0, 9, n_ranges)
            gaps = rng.integers(0, 3, n_ranges)
            starts = np.cumsum(gaps + lens) - lens
            size = int(starts[-1] + lens[-1]) if n_ranges else 0
            src = (rng.integers(0, 40, size).astype(np.uint64) << np.uint64(58) if dup
                   else rng.integers(0, 2**63, size, dtype=np.int64).astype(np.uint64) * 2)
            rows = rng.integers(0, 2**31 - 1, n_ranges).astype(np.int32)
            parts.append((src, starts.astype(np.int64), lens.astype(np.int64), rows))
            for s, n, r in zip(starts.tolist(), lens.tolist(), rows.tolist(), strict=True):
                want_k.extend(src[s:s + n].tolist())
                want_r.extend([r] * n)
        keys = np.empty(len(want_k), np.uint64)
        rows_out = np.empty(len(want_k), np.int32)
        sort_ranges(parts, keys, rows_out)
        order = np.argsort(np.asarray(want_k, np.uint64), kind="stable")
        assert keys.tolist() == np.asarray(want_k, np.uint64)[order].tolist()
        assert rows_out.tolist() == np.asarray(want_r, np.int32)[order].tolist()


def test_union_roots_gives_each_row_the_smallest_row_of_its_component() -> None:
    rng = np.random.default_rng(3)
    n = 300
    a = rng.integers(0, n, 200)
    b = rng.integers(0, n, 200)
    nbrs: dict[int, set[int]] = {i: set() for i in range(n)}
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        nbrs[x].add(y)
        nbrs[y].add(x)
    want = list(range(n))
    for start in range(n):
        if want[start] != start:
            continue
        stack, seen = [start], {start}
        while stack:
            for m in nbrs[stack.pop()]:
                if m not in seen:
                    seen.add(m)
                    want[m] = start
                    stack.append(m)
    assert union_roots(n, a, b).tolist() == want
    assert union_roots(n, b[::-1].copy(), a[::-1].copy()).tolist() == want
