"""Fingerprints: positional shingle hashes of one document and its passage windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

from dedup.config import DedupConfig
from dedup.text import Tokens, is_cjk, tokenize


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Shingle ``i`` covers tokens ``i .. last_token[i]``: ``shingle_size`` words, or
    ``cjk_shingle_size`` characters when it starts on a CJK character (the same text gives the same
    shingles whatever the rest of the page is written in). A text shorter than a shingle has one.

    ``hashes`` are 64-bit xxhash values (seeded, stable across processes); ``windows`` are the
    (first, last) shingle indexes of the passages signed for LSH: paragraphs, merged forward
    until they hold ``min_window_shingles`` shingles.
    """

    hashes: np.ndarray  # uint64, one per shingle, in text order
    last_token: np.ndarray  # int64 per shingle: index of its last token
    token_starts: np.ndarray  # int64 char offsets per token
    token_ends: np.ndarray
    windows: tuple[tuple[int, int], ...]

    @property
    def n(self) -> int:
        return int(self.hashes.shape[0])

    def char_span(self, first: int, last: int) -> tuple[int, int]:
        """Character span of shingles ``first..last`` inclusive."""
        _, last_tok = self.shingle_tokens(first, last)
        return int(self.token_starts[first]), int(self.token_ends[last_tok])

    def shingle_tokens(self, first: int, last: int) -> tuple[int, int]:
        """Token range (inclusive) covered by shingles ``first..last``."""
        return first, int(self.last_token[first:last + 1].max())


def shingle_hashes(words: tuple[str, ...], k: int, cjk_k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the shingles of ``words`` and each shingle's last token index.

    Shingle ``i`` starts at token ``i`` and spans ``k`` tokens, or ``cjk_k`` when token ``i`` is a
    CJK character (cut at the end of the text); there are ``len(words) - k + 1`` (at least one).
    """
    n = len(words)
    if not n:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    count = max(1, n - k + 1)
    last = np.fromiter((min(n, i + (cjk_k if is_cjk(words[i]) else k)) - 1 for i in range(count)),
                       dtype=np.int64, count=count)
    joined = ("\x1f".join(words[i:j + 1]).encode() for i, j in enumerate(last.tolist()))
    hashes = np.fromiter((xxhash.xxh64_intdigest(s, seed=seed) for s in joined),
                         dtype=np.uint64, count=count)
    return hashes, last


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
    hashes, last_token = shingle_hashes(tokens.words, config.shingle_size, config.cjk_shingle_size,
                                        config.seed)
    return Fingerprint(
        hashes=hashes,
        last_token=last_token,
        token_starts=np.asarray(tokens.starts, dtype=np.int64),
        token_ends=np.asarray(tokens.ends, dtype=np.int64),
        windows=_windows(tokens, hashes.shape[0], config.min_window_shingles),
    )
