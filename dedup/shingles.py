"""Fingerprints: positional shingle hashes of documents and their passage windows.

``fingerprint_batch`` fingerprints many documents in one compiled pass (numba) over their code
points (``str.encode("utf-32-le")``): tokens exactly as ``dedup.text.tokenize`` makes them
(character-class and normalisation tables built once from ``re`` and ``unicodedata``; a token
holding a character whose normalisation is not one character, or could compose with a
neighbour, is normalised by ``normalize_token`` itself), then a 64-bit hash of each normalised token
(``token_hash``: a polynomial over its code points, finalised by SplitMix64's mixer), shingle
hashes (``combine_tokens``: the seeded, position-weighted sum of the shingle's token hashes,
mixed once; bit-exact with ``shingle_hashes``, the per-shingle Python reference) and passage
windows. A token is hashed once however many shingles hold it: seven multiplications a shingle
instead of xxHash64 over its 30-odd joined bytes. Lines that
``tokenize`` skips (the title line, syndication and rights notes) are found with the same
rules: title lines by comparing token hashes of the first line and the title (Python decides
close calls), notes only on lines of at most 30 words holding a keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from dedup.config import DedupConfig
from dedup.text import (
    _NOTE_MAX_WORDS,
    char_tables,
    is_cjk,
    is_note_line,
    is_title_line,
    normalize_token,
)

_P = 0x100000001B3  # odd: a token's polynomial hash over its code points
_G = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_U_P = np.uint64(_P)
_U_G = np.uint64(_G)
_U_M1 = np.uint64(0xBF58476D1CE4E5B9)
_U_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_FLAG_CJK = np.uint8(1)
_FLAG_SLOW = np.uint8(2)


@njit(cache=True, inline="always")
def _fmix(z: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    z = (z ^ (z >> _S30)) * _U_M1
    z = (z ^ (z >> _S27)) * _U_M2
    return z ^ (z >> _S31)


_X1 = np.uint64(0x9E3779B185EBCA87)
_X2 = np.uint64(0xC2B2AE3D27D4EB4F)
_X3 = np.uint64(0x165667B19E3779F9)
_X4 = np.uint64(0x85EBCA77C2B2AE63)
_X5 = np.uint64(0x27D4EB2F165667C5)


@njit(cache=True, inline="always")
def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@njit(cache=True, inline="always")
def _read32(b, i):
    v = np.uint64(0)
    for q in range(4):
        v |= np.uint64(b[i + q]) << np.uint64(8 * q)
    return v


@njit(cache=True, inline="always")
def _round(acc, x):
    acc = acc + x * _X2
    acc = _rotl(acc, 31)
    return acc * _X1


@njit(cache=True, inline="always")
def _merge(acc, v):
    acc ^= _round(np.uint64(0), v)
    return acc * _X1 + _X4


@njit(cache=True, inline="always")
def _finish(h, b, i, end):  # pragma: no cover - compiled
    """xxh64's last 4- and 1-byte steps from ``b[i:end]`` and the final avalanche."""
    if i + 4 <= end:
        h ^= _read32(b, i) * _X1
        h = _rotl(h, 23) * _X2 + _X3
        i += 4
    while i < end:
        h ^= np.uint64(b[i]) * _X5
        h = _rotl(h, 11) * _X1
        i += 1
    h ^= h >> np.uint64(33)
    h *= _X2
    h ^= h >> np.uint64(29)
    h *= _X3
    h ^= h >> np.uint64(32)
    return h


@njit(cache=True)
def xxh64_aligned(b, w, n, seed):  # pragma: no cover - compiled
    """xxHash64 of ``b[:n]`` (uint8; ``w``: the same buffer viewed as uint64 words), bit-exact
    with the ``xxhash`` package."""
    i = 0
    end = n
    if n >= 32:
        v1 = seed + _X1 + _X2
        v2 = seed + _X2
        v3 = seed
        v4 = seed - _X1
        while i + 32 <= end:
            v1 = _round(v1, w[i >> 3])
            v2 = _round(v2, w[(i >> 3) + 1])
            v3 = _round(v3, w[(i >> 3) + 2])
            v4 = _round(v4, w[(i >> 3) + 3])
            i += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = seed + _X5
    h += np.uint64(n)
    while i + 8 <= end:
        h ^= _round(np.uint64(0), w[i >> 3])
        h = _rotl(h, 27) * _X1 + _X4
        i += 8
    return _finish(h, b, i, end)


@njit(cache=True)
def _tokenize(cps, doc_off, cls, mapped, space, max_note_words, cap):  # pragma: no cover

    """Tokens of every document (no line skipped yet), its first non-blank line, and its
    non-blank lines of at most ``max_note_words`` words (where a note may be)."""
    n = cps.shape[0]
    n_docs = doc_off.shape[0] - 1
    t_start = np.empty(cap, np.int32)
    t_end = np.empty(cap, np.int32)
    t_line = np.empty(cap, np.int32)
    t_hash = np.empty(cap, np.uint64)
    t_flag = np.empty(cap, np.uint8)
    doc_tok = np.empty(n_docs + 1, np.int64)
    first_line = np.full(n_docs, -1, np.int32)
    n_lines = n_docs
    for i in range(n):
        if cps[i] == 10:
            n_lines += 1
    short = np.empty((n_lines, 4), np.int32)  # doc, line, start, end
    n_short = 0
    k = 0
    for d in range(n_docs):
        doc_tok[d] = k
        base = doc_off[d]
        end = doc_off[d + 1]
        line = 0
        line_start = base
        words = 0
        in_word = False
        i = base
        while i <= end:
            c = cps[i] if i < end else 10
            if c == 10:  # close the line (the text's end closes its last line)
                if words > 0:
                    if first_line[d] < 0:
                        first_line[d] = line
                    if words <= max_note_words:
                        short[n_short, 0] = d
                        short[n_short, 1] = line
                        short[n_short, 2] = line_start - base
                        short[n_short, 3] = i - base
                        n_short += 1
                line += 1
                line_start = i + 1
                words = 0
                in_word = False
                i += 1
                continue
            kind = cls[c]
            if kind == 0:
                if space[c]:
                    in_word = False
                elif not in_word:
                    words += 1
                    in_word = True
                i += 1
                continue
            if not in_word:
                words += 1
                in_word = True
            j = i + 1
            if kind == 1:
                while j < end and cls[cps[j]] == 1:
                    j += 1
            h = np.uint64(0)
            slow = False
            for q in range(i, j):
                m = mapped[cps[q]]
                if m == 0:
                    slow = True
                h = h * _U_P + np.uint64(m)
            if k == cap:  # more tokens than room: the caller retries with more
                doc_tok[n_docs] = -1
                return (t_start[:k], t_end[:k], t_line[:k], t_hash[:k], t_flag[:k], doc_tok,
                        first_line, short[:n_short])
            t_start[k] = i - base
            t_end[k] = j - base
            t_line[k] = line
            length = np.uint64(j - i)
            t_hash[k] = _fmix(h ^ (length * _U_G))
            if slow:
                t_flag[k] = _FLAG_SLOW
            elif j - i == 1 and cls[mapped[c]] == 2:
                t_flag[k] = _FLAG_CJK
            else:
                t_flag[k] = 0
            k += 1
            i = j
    doc_tok[n_docs] = k
    return (t_start[:k], t_end[:k], t_line[:k], t_hash[:k], t_flag[:k], doc_tok, first_line,
            short[:n_short])


@njit(cache=True)
def _title_codes(t_start, t_end, t_line, t_hash, t_flag, doc_tok, first_line,
                 title_row):  # pragma: no cover - compiled
    """Per document: 0 the first non-blank line is not the title, 1 it is, 2 undecided (a token
    whose normalised length is unknown, or lengths close enough for a prefix: check in Python).

    ``title_row[d]``: the row (in the same batch) holding document ``d``'s title, or -1.
    """
    n_docs = first_line.shape[0]
    out = np.zeros(n_docs, np.uint8)
    for d in range(n_docs):
        r = title_row[d]
        if r < 0 or first_line[d] < 0:
            continue
        a0 = doc_tok[d]
        while a0 < doc_tok[d + 1] and t_line[a0] < first_line[d]:
            a0 += 1
        a1 = a0
        while a1 < doc_tok[d + 1] and t_line[a1] == first_line[d]:
            a1 += 1
        b0, b1 = doc_tok[r], doc_tok[r + 1]
        if a1 == a0 or b1 == b0:
            continue
        slow = False
        la = a1 - a0 - 1
        for t in range(a0, a1):
            la += t_end[t] - t_start[t]
            slow = slow or (t_flag[t] & 2) != 0
        lb = b1 - b0 - 1
        for t in range(b0, b1):
            lb += t_end[t] - t_start[t]
            slow = slow or (t_flag[t] & 2) != 0
        if slow:
            out[d] = 2
        elif la == lb:
            same = a1 - a0 == b1 - b0
            if same:
                for t in range(a1 - a0):
                    if t_hash[a0 + t] != t_hash[b0 + t]:
                        same = False
                        break
            out[d] = 1 if same else 0
        elif min(la, lb) >= 0.8 * max(la, lb):
            out[d] = 2
    return out


@njit(cache=True)
def _drop_lines(t_start, t_end, t_line, t_hash, t_flag, doc_tok, n_docs, skip_off,
                skip_line):  # pragma: no cover - compiled
    """Tokens of the first ``n_docs`` documents without the lines ``skip_line[skip_off[d]:
    skip_off[d + 1]]`` (sorted) of document ``d``, compacted in place (the arrays are the
    tokenizer's own buffers)."""
    out_tok = np.empty(n_docs + 1, np.int64)
    k = 0
    for d in range(n_docs):
        out_tok[d] = k
        s = skip_off[d]
        for t in range(doc_tok[d], doc_tok[d + 1]):
            while s < skip_off[d + 1] and skip_line[s] < t_line[t]:
                s += 1
            if s < skip_off[d + 1] and skip_line[s] == t_line[t]:
                continue
            t_start[k] = t_start[t]
            t_end[k] = t_end[t]
            t_line[k] = t_line[t]
            t_hash[k] = t_hash[t]
            t_flag[k] = t_flag[t]
            k += 1
    out_tok[n_docs] = k
    return t_start[:k], t_end[:k], t_line[:k], t_hash[:k], t_flag[:k], out_tok


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


@njit(cache=True)
def _windows_kernel(t_line, doc_tok, doc_sh, min_size):  # pragma: no cover - compiled
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
        first = w
        cur = -1
        s = 0
        for i in range(n):
            if i == n - 1 or t_line[t0 + i + 1] != t_line[t0 + i]:  # paragraph s..i ends
                if cur < 0:
                    cur = s
                if i - cur + 1 >= min_size:
                    out[w, 0] = cur
                    out[w, 1] = i
                    w += 1
                    cur = -1
                s = i + 1
        if cur >= 0:
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
    paragraphs, merged forward until they hold ``min_window_shingles`` shingles.
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


def _tokens(texts: list[str], titles: list[str | None]) -> tuple[np.ndarray, ...]:
    """(code points, document offsets, start, end, line, flag, token offsets, token hashes) of
    the tokens of many texts: ``tokenize``'s tokens, with the title line and note lines dropped.
    ``line`` numbers a text's lines from 0 (a paragraph per line); ``flag`` bit 1: a token the
    tables do not map (normalised in Python, its hash still to be set: ``_hash_slow_tokens``).
    Titles are tokenised in the same pass (as extra rows) to find title lines.
    """
    cls, mapped, space = char_tables()
    n = len(texts)
    title_row = np.full(n, -1, dtype=np.int64)
    extra = []
    for d, title in enumerate(titles):
        if title:
            title_row[d] = n + len(extra)
            extra.append(title)
    every = texts + extra if extra else texts
    lens = np.fromiter(map(len, every), dtype=np.int64, count=len(every))
    doc_off = np.zeros(len(every) + 1, dtype=np.int64)
    np.cumsum(lens, out=doc_off[1:])
    cps = np.frombuffer("".join(every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    # Room for a token every 4 characters (words); CJK text, a token a character, retries.
    for cap in (cps.shape[0] // 4 + 16, cps.shape[0] + 1):
        start, end, line, poly, flag, doc_tok, first_line, short = _tokenize(
            cps, doc_off, cls, mapped, space, _NOTE_MAX_WORDS, cap)
        if doc_tok[-1] >= 0:
            break
    codes = _title_codes(start, end, line, poly, flag, doc_tok, first_line[:n], title_row)
    skips: list[tuple[int, int]] = []
    for d in np.flatnonzero(codes).tolist():
        if codes[d] == 1 or is_title_line(texts[d].split("\n")[first_line[d]], titles[d]):
            skips.append((d, int(first_line[d])))
    for d, ln, a, b in short[short[:, 0] < n].tolist():
        if is_note_line(texts[d][a:b]):
            skips.append((d, ln))
    if not skips:  # title rows come last: cut them off
        cut = int(doc_tok[n])
        return (cps, doc_off, start[:cut], end[:cut], line[:cut], flag[:cut], doc_tok[:n + 1],
                poly[:cut])
    else:
        skip = np.unique(np.asarray(skips, dtype=np.int64).reshape(-1, 2), axis=0)
        skip_off = np.searchsorted(skip[:, 0], np.arange(n + 1))
        start, end, line, poly, flag, doc_tok = _drop_lines(
            start, end, line, poly, flag, doc_tok, n, skip_off, skip[:, 1].copy())
    return cps, doc_off, start, end, line, flag, doc_tok, poly


def _slow_words(texts: list[str], start: np.ndarray, end: np.ndarray, flag: np.ndarray,
                doc_tok: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The tokens the tables do not map (flag bit 1) and their words, normalised in Python;
    sets flag bit 0 (one CJK character) of those that are."""
    slow = np.flatnonzero(flag & _FLAG_SLOW)
    words: list[str] = []
    if slow.size:
        docs = np.searchsorted(doc_tok, slow, side="right") - 1
        cache: dict[str, tuple[str, int]] = {}
        for t, d in zip(slow.tolist(), docs.tolist(), strict=True):
            raw = texts[d][start[t]:end[t]]
            got = cache.get(raw)
            if got is None:
                word = normalize_token(raw)
                got = cache[raw] = (word, int(is_cjk(word)))
            words.append(got[0])
            flag[t] |= got[1]
    return slow, words


def normalized_tokens(texts: list[str], titles: list[str | None]) -> list[tuple[list[str], ...]]:
    """Per text: (words, starts, ends, lines) as the compiled path sees them (for tests): the
    tables' mapping of each character, or ``normalize_token`` for the tokens they do not map."""
    _, _, start, end, line, flag, doc_tok, _ = _tokens(texts, titles)
    slow, words = _slow_words(texts, start, end, flag, doc_tok)
    by_token = dict(zip(slow.tolist(), words, strict=True))
    mapped = char_tables()[1]
    out = []
    for d, text in enumerate(texts):
        a, b = int(doc_tok[d]), int(doc_tok[d + 1])
        got = [by_token[t] if t in by_token
               else "".join(chr(mapped[ord(c)]) for c in text[start[t]:end[t]])
               for t in range(a, b)]
        out.append((got, start[a:b].tolist(), end[a:b].tolist(), line[a:b].tolist()))
    return out


def fingerprint_batch(texts: list[str], titles: list[str | None],
                      config: DedupConfig) -> FingerprintBatch:
    """Tokenise, shingle and window many documents at once (same hashes as ``fingerprint``
    computed token by token in Python: ``shingle_hashes``)."""
    if not texts:
        return FingerprintBatch.empty()
    _, _, start, end, line, flag, doc_tok, t_hash = _tokens(texts, titles)
    slow, words = _slow_words(texts, start, end, flag, doc_tok)
    if words:
        t_hash[slow] = np.fromiter(map(token_hash, words), dtype=np.uint64, count=len(words))
    k, cjk_k = config.shingle_size, config.cjk_shingle_size
    hashes, last, doc_sh = _shingle(t_hash, flag, doc_tok, k, cjk_k, np.uint64(config.seed),
                                    _weights(max(k, cjk_k)))
    win, doc_win = _windows_kernel(line, doc_tok, doc_sh, config.min_window_shingles)
    return FingerprintBatch(doc_sh, hashes, last, doc_tok, start, end, doc_win, win)


def _fmix_int(z: int) -> int:
    """SplitMix64's finaliser on a Python int (``_fmix``)."""
    z = ((z ^ (z >> 30)) * int(_U_M1)) & _MASK
    z = ((z ^ (z >> 27)) * int(_U_M2)) & _MASK
    return z ^ (z >> 31)


def token_hash(word: str) -> int:
    """64-bit hash of a normalised token: polynomial over its code points, length mixed in,
    finalised (the tokenizer computes the same in its pass)."""
    h = 0
    for ch in word:
        h = (h * _P + ord(ch)) & _MASK
    return _fmix_int(h ^ ((len(word) * _G) & _MASK))


@lru_cache(maxsize=8)
def _weights(n: int) -> np.ndarray:
    """Odd 64-bit weights of the first ``n`` token positions of a shingle."""
    return np.asarray([_fmix_int(((j + 1) * _G) & _MASK) | 1 for j in range(n)],
                      dtype=np.uint64)


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


def fingerprint(text: str, title: str | None, config: DedupConfig) -> Fingerprint:
    """Tokenise, shingle and window one document."""
    return fingerprint_batch([text], [title], config).get(0)


def sign_batch(texts: list[str], titles: list[str | None], config: DedupConfig,
               threads: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What an index keeps of a batch: (shingle offsets, shingle hashes, band keys of every
    passage window (windows, bands), the batch row of each window). Picklable, for workers;
    ``threads`` sign windows (0: one per core)."""
    from dedup.lsh import window_keys

    fb = fingerprint_batch(texts, titles, config)
    rows, lo, hi = fb.window_ranges()
    return fb.doc_sh, fb.hashes, window_keys(fb.hashes, lo, hi + 1, config, threads), rows
