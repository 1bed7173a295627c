"""Union-find over copy edges: deterministic connected components."""

from __future__ import annotations

from collections.abc import Iterable


def components(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Connected components as sorted tuples, ordered by their smallest member."""
    parent = {n: n for n in nodes}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:  # smaller id becomes the root: independent of edge order
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for n in sorted(parent):
        groups.setdefault(find(n), []).append(n)
    return sorted((tuple(g) for g in groups.values()), key=lambda g: g[0])
