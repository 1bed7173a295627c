"""Union-find over copy edges: deterministic connected components."""

from __future__ import annotations

from collections.abc import Callable, Iterable


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
    grouped again among themselves: a story never grows by chaining.
    """
    edge_list = [(a, b) for a, b in edges]
    linked = {(a, b) for a, b in edge_list} | {(b, a) for a, b in edge_list}
    pending = components(nodes, edge_list)
    done: list[tuple[int, ...]] = []
    while pending:
        group = pending.pop()
        if len(group) <= 2:
            done.append(group)
            continue
        hub = center(group)
        keep = tuple(m for m in group if m == hub or (m, hub) in linked)
        done.append(keep)
        rest = set(group) - set(keep)
        if rest:
            pending.extend(components(rest, [(a, b) for a, b in edge_list
                                             if a in rest and b in rest]))
    return sorted(done, key=lambda g: g[0])
