"""Clustering of copy edges: union-find (the archive: components that may chain) and star
clusters (the passage index: every member linked to its center, never chained)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set

import numpy as np
from numba import njit


@njit(cache=True)
def union_roots(n, a, b):  # pragma: no cover - compiled
    """Union-find over the pairs ``a[i]``-``b[i]`` of rows ``0 .. n - 1``: each row's component
    root (its smallest row), whatever the order of the pairs."""
    parent = np.arange(n)
    for p in range(a.shape[0]):
        x, y = a[p], b[p]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x != y:
            parent[max(x, y)] = min(x, y)
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        parent[i] = r
    return parent


def star_components(nodes: Iterable[int], edges: Iterable[tuple[int, int]],
                    center: Callable[[tuple[int, ...]], int]) -> list[tuple[int, ...]]:
    """Components in which every member has a direct edge to the component's center.

    Members reached only through other members (A copies B, B copies C) are split off and
    grouped again among themselves: a story never grows by chaining. Work is proportional to
    the edges of each group split, not to all edges.
    """
    nbrs: dict[int, set[int]] = {n: set() for n in nodes}
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    pending = _induced_components(nbrs.keys(), nbrs)
    done: list[tuple[int, ...]] = []
    while pending:
        group = pending.pop()
        if len(group) <= 2:
            done.append(group)
            continue
        hub = center(group)
        near = nbrs[hub]
        keep = tuple(m for m in group if m == hub or m in near)
        done.append(keep)
        if len(keep) < len(group):
            pending.extend(_induced_components(set(group).difference(keep), nbrs))
    return sorted(done, key=lambda g: g[0])


def _induced_components(inside: Set[int], nbrs: dict[int, set[int]]) -> list[tuple[int, ...]]:
    """Connected components (sorted tuples) of the subgraph induced by ``inside``."""
    seen: set[int] = set()
    out = []
    for start in inside:
        if start in seen:
            continue
        seen.add(start)
        group, stack = [start], [start]
        while stack:
            for m in nbrs[stack.pop()]:
                if m not in seen and m in inside:
                    seen.add(m)
                    group.append(m)
                    stack.append(m)
        out.append(tuple(sorted(group)))
    return out
