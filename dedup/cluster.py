"""Union-find over copy edges: deterministic connected components."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set


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
