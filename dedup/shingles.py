"""Fingerprints: positional shingle hashes of one document and its passage windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

from dedup.config import DedupConfig
from dedup.text import Tokens, tokenize


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Shingle ``i`` covers tokens ``i .. i+k-1`` (a text shorter than k has one shingle).

    ``hashes`` are 64-bit xxhash values (seeded, stable across processes); ``windows`` are the
    (first, last) shingle indexes of the passages signed for LSH: paragraphs, merged forward
    until they hold ``min_window_shingles`` shingles.
    """

    hashes: np.ndarray  # uint64, one per shingle, in text order
    k: int
    token_starts: np.ndarray  # int64 char offsets per token
    token_ends: np.ndarray
    windows: tuple[tuple[int, int], ...]

    @property
    def n(self) -> int:
        return int(self.hashes.shape[0])

    def char_span(self, first: int, last: int) -> tuple[int, int]:
        """Character span of shingles ``first..last`` inclusive."""
        last_tok = min(last + self.k - 1, self.token_ends.shape[0] - 1)
        return int(self.token_starts[first]), int(self.token_ends[last_tok])

    def shingle_tokens(self, first: int, last: int) -> tuple[int, int]:
        """Token range (inclusive) covered by shingles ``first..last``."""
        return first, min(last + self.k - 1, self.token_ends.shape[0] - 1)


def shingle_hashes(words: tuple[str, ...], k: int, seed: int) -> np.ndarray:
    """64-bit hashes of the k-token shingles of ``words`` (one shingle if shorter than k)."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    joined = ["\x1f".join(words[i:i + k]) for i in range(max(1, len(words) - k + 1))]
    return np.fromiter((xxhash.xxh64_intdigest(s.encode(), seed=seed) for s in joined),
                       dtype=np.uint64, count=len(joined))


def _windows(tokens: Tokens, n_shingles: int, min_size: int) -> tuple[tuple[int, int], ...]:
    if n_shingles == 0:
        return ()
    paras = np.asarray(tokens.paragraphs[:n_shingles])  # paragraph of each shingle's first token
    bounds = np.flatnonzero(np.diff(paras)) + 1
    starts = [0, *bounds.tolist()]
    ends = [*(b - 1 for b in bounds.tolist()), n_shingles - 1]
    out: list[tuple[int, int]] = []
    cur: int | None = None
    for s, e in zip(starts, ends, strict=True):
        cur = s if cur is None else cur
        if e - cur + 1 >= min_size:
            out.append((cur, e))
            cur = None
    if cur is not None:
        if out:  # fold a short tail into the previous window
            out[-1] = (out[-1][0], n_shingles - 1)
        else:
            out.append((cur, n_shingles - 1))
    return tuple(out)


def fingerprint(text: str, title: str | None, config: DedupConfig) -> Fingerprint:
    """Tokenise, shingle and window one document."""
    tokens = tokenize(text, title)
    k = config.cjk_shingle_size if tokens.cjk else config.shingle_size
    hashes = shingle_hashes(tokens.words, k, config.seed)
    return Fingerprint(
        hashes=hashes,
        k=k,
        token_starts=np.asarray(tokens.starts, dtype=np.int64),
        token_ends=np.asarray(tokens.ends, dtype=np.int64),
        windows=_windows(tokens, hashes.shape[0], config.min_window_shingles),
    )
