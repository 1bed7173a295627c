"""Fingerprints: positional shingle hashes of documents and their passage windows.

``fingerprint_batch`` goes from the tokenizer's token hashes (``dedup.tokenizer``) to shingle
hashes (the seeded, position-weighted sum of the shingle's token hashes, mixed once: seven
multiplications a shingle instead of xxHash64 over its 30-odd joined bytes; bit-exact with
``dedup.reference.shingle_hashes``) and passage windows. ``distinct_shingles`` (what the
document-level archive signs) goes from the token hashes straight to each document's distinct
shingle hashes, sorted, a document at a time in cache. ``sign_batch`` adds the LSH band keys
of every window: what an index keeps of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from dedup.arrays import gather_ranges, sort_into
from dedup.config import DedupConfig
from dedup.hashing import _U_G, _X1, _fmix, _weights
from dedup.lsh import window_keys
from dedup.tokenizer import _FLAG_STOP, _token_hashes


@njit(cache=True)
def _shingle(t_hash, t_flag, doc_tok, k, cjk_k, seed, weights):  # pragma: no cover - compiled
    """Hash of every shingle: ``combine_tokens`` of its tokens' hashes (``t_hash``), with its
    last token; ``k`` tokens, ``cjk_k`` from a CJK character, cut at the end of the text."""
    n_docs = doc_tok.shape[0] - 1
    doc_sh = np.empty(n_docs + 1, np.int64)
    total = 0
    for d in range(n_docs):
        doc_sh[d] = total
        n = doc_tok[d + 1] - doc_tok[d]
        if n > 0:
            total += max(1, n - k + 1)
    doc_sh[n_docs] = total
    hashes = np.empty(total, np.uint64)
    last = np.empty(total, np.int32)
    start = seed * _X1
    for d in range(n_docs):
        t0 = doc_tok[d]
        n = doc_tok[d + 1] - t0
        s0 = doc_sh[d]
        for i in range(doc_sh[d + 1] - s0):
            size = cjk_k if t_flag[t0 + i] & 1 else k
            stop = min(n, i + size)
            acc = start
            for j in range(stop - i):
                acc += t_hash[t0 + i + j] * weights[j]
            hashes[s0 + i] = _fmix(acc ^ (np.uint64(stop - i) * _U_G))
            last[s0 + i] = stop - 1
    return hashes, last, doc_sh


#: A line of more than this many tokens is a block (a story extracted as one paragraph, or a
#: table row): its windows end at sentence stops too. Ordinary paragraphs (news paragraphs
#: hold 20-80 words) stay whole windows: sentence windows everywhere find as many chance
#: matches of stock phrases as quotes (bench/scale.py: 7x the links, 10x the time). 100, not
#: 150: a short copy published as one block (100-150 tokens: two paragraphs, a promo and a
#: footer) was one window, a fifth of any paragraph window of its source: never a candidate.
_BLOCK_TOKENS = 100


@njit(cache=True)
def _windows_kernel(t_line, t_flag, doc_tok, doc_sh, min_size):  # pragma: no cover - compiled
    """Passage windows: paragraphs (lines), and inside a block (a line of more than
    ``_BLOCK_TOKENS`` tokens) sentences (up to a token followed by a stop), merged forward
    until they hold ``min_size`` shingles; a short tail is folded into the previous window.
    A story as one block is cut at its sentences, as paragraphs at its paragraphs: windows
    of one hold whole windows of the other, so a copy is a candidate either way."""
    n_docs = doc_sh.shape[0] - 1
    out = np.empty((doc_sh[n_docs] + n_docs, 2), np.int32)
    doc_win = np.empty(n_docs + 1, np.int64)
    w = 0
    for d in range(n_docs):
        doc_win[d] = w
        n = doc_sh[d + 1] - doc_sh[d]
        if n == 0:
            continue
        t0 = doc_tok[d]
        t1 = doc_tok[d + 1]
        first = w
        cur = 0
        line_start = 0  # token index (in the document) where the current line starts
        line_end = 0  # one past its last token
        for i in range(n):
            if i >= line_end:
                line_start = i
                line_end = i + 1
                while t0 + line_end < t1 and t_line[t0 + line_end] == t_line[t0 + i]:
                    line_end += 1
            size = i - cur + 1
            block = line_end - line_start > _BLOCK_TOKENS
            if size >= min_size and (i == n - 1 or i == line_end - 1
                                     or (block and t_flag[t0 + i] & _FLAG_STOP)):
                out[w, 0] = cur
                out[w, 1] = i
                w += 1
                cur = i + 1
        if cur < n:
            if w > first:  # fold a short tail into the previous window
                out[w - 1, 1] = n - 1
            else:
                out[w, 0] = cur
                out[w, 1] = n - 1
                w += 1
    doc_win[n_docs] = w
    return out[:w].copy(), doc_win



@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Shingle ``i`` covers tokens ``i .. last_token[i]``: ``shingle_size`` words, or
    ``cjk_shingle_size`` characters when it starts on a CJK character (the same text gives the same
    shingles whatever the rest of the page is written in). A text shorter than a shingle has one.

    ``hashes`` are 64-bit hashes of the normalised tokens (seeded, stable across processes);
    ``windows`` are the (first, last) shingle indexes of the passages signed for LSH:
    paragraphs, and sentences inside a block, merged forward until they hold
    ``min_window_shingles`` shingles (``_windows_kernel``).
    """

    hashes: np.ndarray  # uint64, one per shingle, in text order
    last_token: np.ndarray  # int per shingle: index of its last token
    token_starts: np.ndarray  # int char offsets per token
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


@dataclass(frozen=True, slots=True)
class FingerprintBatch:
    """Fingerprints of many documents, concatenated; row ``i``'s parts are cut by the offsets.

    Token offsets and shingle/window indexes are relative to their own document.
    """

    doc_sh: np.ndarray  # int64 (rows + 1): shingle offsets
    hashes: np.ndarray  # uint64 per shingle
    last: np.ndarray  # int32 per shingle: its last token, in its document
    doc_tok: np.ndarray  # int64 (rows + 1): token offsets
    tok_start: np.ndarray  # int32 per token
    tok_end: np.ndarray
    doc_win: np.ndarray  # int64 (rows + 1): window offsets
    win: np.ndarray  # int32 (windows, 2): first, last shingle of each window

    def __len__(self) -> int:
        return int(self.doc_sh.shape[0]) - 1

    def get(self, row: int) -> Fingerprint:
        s0, s1 = int(self.doc_sh[row]), int(self.doc_sh[row + 1])
        t0, t1 = int(self.doc_tok[row]), int(self.doc_tok[row + 1])
        w0, w1 = int(self.doc_win[row]), int(self.doc_win[row + 1])
        return Fingerprint(self.hashes[s0:s1], self.last[s0:s1], self.tok_start[t0:t1],
                           self.tok_end[t0:t1], tuple(map(tuple, self.win[w0:w1].tolist())))

    def char_spans(self, rows: np.ndarray, first: np.ndarray,
                   last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Character spans (start, end) of shingles ``first..last`` (inclusive) of ``rows``, many
        at once: ``Fingerprint.char_span`` of each."""
        sizes = last - first + 1
        cuts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        shingles = self.last[gather_ranges(self.doc_sh[rows] + first, sizes)]
        last_tok = np.maximum.reduceat(shingles, cuts)  # the last token of each range
        tok = self.doc_tok[rows]
        return self.tok_start[tok + first], self.tok_end[tok + last_tok]

    def window_ranges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row of each window, its first and last shingle as global indexes into ``hashes``)."""
        rows = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.doc_win))
        base = self.doc_sh[rows]
        return rows, base + self.win[:, 0], base + self.win[:, 1]

    @staticmethod
    def empty() -> FingerprintBatch:
        off = np.zeros(1, dtype=np.int64)
        return FingerprintBatch(off, np.zeros(0, np.uint64), np.zeros(0, np.int32), off,
                                np.zeros(0, np.int32), np.zeros(0, np.int32), off,
                                np.zeros((0, 2), np.int32))

    @staticmethod
    def concat(parts: list[FingerprintBatch]) -> FingerprintBatch:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return FingerprintBatch.empty()

        def offsets(name: str) -> np.ndarray:
            out = [np.zeros(1, np.int64)]
            base = 0
            for p in parts:
                off = getattr(p, name)
                out.append(off[1:] + base)
                base += int(off[-1])
            return np.concatenate(out)

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts])

        return FingerprintBatch(offsets("doc_sh"), cat("hashes"), cat("last"), offsets("doc_tok"),
                                cat("tok_start"), cat("tok_end"), offsets("doc_win"), cat("win"))


def fingerprint_batch(texts: list[str], titles: list[str | None],
                      config: DedupConfig) -> FingerprintBatch:
    """Tokenise, shingle and window many documents at once (same hashes as ``fingerprint``
    computed token by token in Python: ``shingle_hashes``)."""
    if not texts:
        return FingerprintBatch.empty()
    start, end, line, flag, doc_tok, t_hash = _token_hashes(texts, titles)
    k, cjk_k = config.shingle_size, config.cjk_shingle_size
    hashes, last, doc_sh = _shingle(t_hash, flag, doc_tok, k, cjk_k, np.uint64(config.seed),
                                    _weights(max(k, cjk_k)))
    win, doc_win = _windows_kernel(line, flag, doc_tok, doc_sh, config.min_window_shingles)
    return FingerprintBatch(doc_sh, hashes, last, doc_tok, start, end, doc_win, win)


@njit(cache=True, inline="always")
def _doc_shingles(t_hash, t_flag, t0, n, k, cjk_k, start, weights, buf):  # pragma: no cover
    """``buf[:m]`` = the shingle hashes of the ``n`` tokens from ``t0`` (``_shingle``'s),
    ``m = max(1, n - k + 1)``. Every shingle is first hashed as ``k`` whole tokens, a token
    position at a time over the document (loops LLVM vectorises); the few starting on a CJK
    character, or cut at the end of the text, are then hashed again."""
    m = max(1, n - k + 1)
    if n >= k:
        for i in range(m):
            buf[i] = start
        for j in range(k):
            w = weights[j]
            for i in range(m):
                buf[i] += t_hash[t0 + i + j] * w
        mixed = np.uint64(k) * _U_G
        for i in range(m):
            buf[i] = _fmix(buf[i] ^ mixed)
    for i in range(m):
        wide = t_flag[t0 + i] & 1
        if wide or i + k > n:
            stop = min(n, i + (cjk_k if wide else k))
            acc = start
            for j in range(stop - i):
                acc += t_hash[t0 + i + j] * weights[j]
            buf[i] = _fmix(acc ^ (np.uint64(stop - i) * _U_G))
    return m


@njit(cache=True)
def _distinct_kernel(t_hash, t_flag, doc_tok, k, cjk_k, seed, weights,
                     out):  # pragma: no cover - compiled
    """Each document's distinct shingle hashes, sorted, into ``out`` (room for all the batch's
    shingles), and their counts: ``_doc_unique`` of ``_shingle``'s hashes, a document at a
    time in buffers that stay in cache (``sort_into`` with about one hash in two buckets).
    Returns (hashes written, counts)."""
    n_docs = doc_tok.shape[0] - 1
    longest = 1
    for d in range(n_docs):
        longest = max(longest, doc_tok[d + 1] - doc_tok[d])
    bits = 1
    while (1 << bits) < 2 * longest:
        bits += 1
    counts = np.zeros(n_docs, np.int64)
    buf = np.empty(longest, np.uint64)
    tmp = np.empty(longest, np.uint64)
    hist = np.empty(1 << bits, np.int64)
    start = seed * _X1
    at = 0
    for d in range(n_docs):
        t0 = doc_tok[d]
        n = doc_tok[d + 1] - t0
        if n == 0:
            continue
        m = _doc_shingles(t_hash, t_flag, t0, n, k, cjk_k, start, weights, buf)
        nb = 1
        while (1 << nb) < 2 * m:
            nb += 1
        sort_into(buf, 0, m, tmp, 0, nb, hist)
        first = at
        out[at] = tmp[0]
        at += 1
        for i in range(1, m):
            out[at] = tmp[i]
            at += tmp[i] != tmp[i - 1]
        counts[d] = at - first
    return at, counts


def distinct_shingles(texts: list[str], titles: list[str | None],
                      config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct shingle hashes, sorted, concatenated (uint64), and how many each
    has (int64): ``_doc_unique`` of ``fingerprint_batch``'s hashes, bit-exact, without the
    batch's shingle, last-token and window arrays."""
    if not texts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    _, _, _, flag, doc_tok, t_hash = _token_hashes(texts, titles)
    k, cjk_k = config.shingle_size, config.cjk_shingle_size
    n = np.diff(doc_tok)
    # Allocated by NumPy, not in the kernel: large NumPy buffers get huge pages (fewer faults).
    out = np.empty(int(np.maximum(n - k + 1, n > 0).sum()), np.uint64)
    used, counts = _distinct_kernel(t_hash, flag, doc_tok, k, cjk_k, np.uint64(config.seed),
                                    _weights(max(k, cjk_k)), out)
    return out[:used], counts


def sign_batch(texts: list[str], titles: list[str | None], config: DedupConfig,
               threads: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What an index keeps of a batch: (shingle offsets, shingle hashes, band keys of every
    passage window (windows, bands), the batch row of each window). Picklable, for workers;
    ``threads`` sign windows (0: one per core)."""
    fb = fingerprint_batch(texts, titles, config)
    rows, lo, hi = fb.window_ranges()
    return fb.doc_sh, fb.hashes, window_keys(fb.hashes, lo, hi + 1, config, threads), rows
