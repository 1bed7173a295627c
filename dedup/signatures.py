"""MinHash signatures of shingle-hash sets: the one swappable signature function."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dedup.config import DedupConfig
from dedup.minhash import fold32, kperm32_signatures, kperm_signatures, oph_signatures


def _identity(value: int) -> int:
    return value


def signatures(sets: Sequence[np.ndarray], config: DedupConfig) -> np.ndarray:
    """One MinHash signature row per set of 64-bit shingle hashes, shape (len(sets), num_perm).

    Backend ``numpy`` (default): ``dedup.minhash``'s function of ``config.scheme``, all sets
    in one vectorised pass (``kperm32``: uint32 rows; the others uint64). Backend
    ``datasketch``: ``MinHash(scheme=config.scheme)`` fed the folded hashes through an
    identity ``hashfunc`` (the reference; ~100x slower). Both are exact (every
    shingle counts, no sampling); the index header records which one built an index.
    """
    if config.signature_backend == "numpy":
        sizes = np.fromiter((s.shape[0] for s in sets), dtype=np.int64, count=len(sets))
        offsets = np.concatenate(([0], np.cumsum(sizes)))
        flat = np.concatenate(sets) if sets else np.zeros(0, dtype=np.uint64)
        return _numpy(flat.astype(np.uint64, copy=False), offsets, config)
    return _datasketch(sets, config)


_NUMPY_SIGN = {"oph": oph_signatures, "kperm64": kperm_signatures, "kperm32": kperm32_signatures}


def _numpy(hashes: np.ndarray, offsets: np.ndarray, config: DedupConfig) -> np.ndarray:
    return _NUMPY_SIGN[config.scheme](hashes, offsets, config.num_perm, config.seed)


def _datasketch(sets: Sequence[np.ndarray], config: DedupConfig) -> np.ndarray:
    from datasketch import MinHash

    out = np.zeros((len(sets), config.num_perm), dtype=np.uint64)
    if not sets:
        return out
    proto = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme,
                    hashfunc=_identity)
    for i, hashes in enumerate(sets):
        m = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme,
                    hashfunc=_identity, permutations=proto.permutations)
        m.update_batch(int(v) for v in fold32(np.unique(hashes)))
        out[i] = m.hashvalues
    return out
