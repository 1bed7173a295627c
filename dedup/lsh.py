"""Banded LSH over MinHash signatures, kept as plain data so an index can be persisted."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import xxhash

from dedup.config import DedupConfig


def band_keys(signature: np.ndarray, config: DedupConfig) -> list[int]:
    """One 64-bit key per band: hash of the band's rows, prefixed by the band number."""
    sig = np.ascontiguousarray(signature, dtype=np.uint64)
    r = config.lsh_rows
    return [
        xxhash.xxh64_intdigest(b.to_bytes(2, "little") + sig[b * r:(b + 1) * r].tobytes())
        for b in range(config.lsh_bands)
    ]


class BandIndex:
    """band key -> ids of the windows (doc id, window number) that fell in that bucket."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config
        self.buckets: dict[int, list[tuple[int, int]]] = defaultdict(list)

    def query(self, signature: np.ndarray) -> set[tuple[int, int]]:
        found: set[tuple[int, int]] = set()
        for key in band_keys(signature, self._config):
            found.update(self.buckets.get(key, ()))
        return found

    def insert(self, item: tuple[int, int], signature: np.ndarray) -> None:
        for key in band_keys(signature, self._config):
            self.buckets[key].append(item)
