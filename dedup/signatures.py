"""MinHash signatures of shingle-hash sets: the one swappable signature function."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from dedup.config import DedupConfig


def _fold32(hashes: np.ndarray) -> np.ndarray:
    """64-bit shingle hashes folded to 32 bits (the input width of the affine32 scheme)."""
    h = hashes.astype(np.uint64, copy=False)
    return ((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _identity(value: int) -> int:
    return value


def signatures(sets: Sequence[np.ndarray], config: DedupConfig) -> np.ndarray:
    """One MinHash signature row per set of 64-bit shingle hashes, shape (len(sets), num_perm).

    Backend ``datasketch``: ``MinHash(scheme=config.scheme)`` fed the folded hashes through an
    identity ``hashfunc`` (affine32 pre-mixes inputs itself). Exact, no sampling. A faster
    backend must reproduce these values or declare a new ``signature_backend``, which the
    index header records.
    """
    if config.signature_backend != "datasketch":  # pragma: no cover - guarded by Literal
        raise ValueError(f"unknown signature backend {config.signature_backend!r}")
    out = np.zeros((len(sets), config.num_perm), dtype=np.uint64)
    if not sets:
        return out
    proto = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme,
                    hashfunc=_identity)
    for i, hashes in enumerate(sets):
        m = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme,
                    hashfunc=_identity, permutations=proto.permutations)
        m.update_batch(int(v) for v in _fold32(np.unique(hashes)))
        out[i] = m.hashvalues
    return out
