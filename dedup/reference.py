"""Reference implementations in plain Python/NumPy of what compiled kernels compute: the
specification the kernels are tested against, and a baseline for benches. Not used by the
product."""

from __future__ import annotations

import numpy as np

from dedup.hashing import _G, _MASK, _X1, _fmix_int, _weights, token_hash
from dedup.text import is_cjk


def combine_tokens(tokens: list[int], seed: int) -> int:
    """Hash of a shingle from its tokens' hashes: seeded, position-weighted sum, length mixed
    in, finalised (order matters; ``_shingle`` computes the same)."""
    weights = _weights(len(tokens)).tolist()
    acc = (seed * int(_X1)) & _MASK
    for t, w in zip(tokens, weights, strict=True):
        acc = (acc + t * w) & _MASK
    return _fmix_int(acc ^ ((len(tokens) * _G) & _MASK))


def shingle_hashes(words: tuple[str, ...], k: int, cjk_k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the shingles of ``words`` and each shingle's last token index (the
    reference, token by token in Python; ``fingerprint_batch`` computes the same values).

    Shingle ``i`` starts at token ``i`` and spans ``k`` tokens, or ``cjk_k`` when token ``i`` is a
    CJK character (cut at the end of the text); there are ``len(words) - k + 1`` (at least one).
    """
    n = len(words)
    if not n:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    count = max(1, n - k + 1)
    last = np.fromiter((min(n, i + (cjk_k if is_cjk(words[i]) else k)) - 1 for i in range(count)),
                       dtype=np.int64, count=count)
    tokens = [token_hash(w) for w in words]
    hashes = np.fromiter((combine_tokens(tokens[i:j + 1], seed)
                          for i, j in enumerate(last.tolist())), dtype=np.uint64, count=count)
    return hashes, last

