"""Fingerprints: positional shingle hashes of documents and their passage windows.

``fingerprint_batch`` fingerprints many documents in compiled passes (numba) over their code
points, read in place from the buffer of a few documents joined (a str holds 1, 2 or 4 bytes a
code point; the joined chunk stays in cache): tokens exactly as ``dedup.text.tokenize`` makes
them (character-class and normalisation tables built once from ``re`` and ``unicodedata``,
packed in one word a code point; a token holding a character whose normalisation is not one
character, or could compose with a neighbour, is normalised by ``normalize_token`` itself),
then a 64-bit hash of each normalised token (``token_hash``: a polynomial over its code points,
finalised by SplitMix64's mixer), shingle hashes (``combine_tokens``: the seeded,
position-weighted sum of the shingle's token hashes, mixed once; bit-exact with
``shingle_hashes``, the per-shingle Python reference) and passage windows. A token is hashed
once however many shingles hold it: seven multiplications a shingle instead of xxHash64 over
its 30-odd joined bytes. Lines that ``tokenize`` skips (the title line, syndication and rights
notes) are found with the same rules in the same pass: title lines by comparing token hashes
of the first line and the title (Python decides close calls), notes only on lines of at most
30 words holding a keyword (found compiled; Python runs the regexes on those lines).
``distinct_shingles`` (what the document-level archive signs) goes from the token hashes
straight to each document's distinct shingle hashes, sorted, a document at a time in cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
from numba import carray, njit
from numba.cpython.unicode import PY_UNICODE_1BYTE_KIND, PY_UNICODE_2BYTE_KIND

from dedup.arrays import sort_into
from dedup.config import DedupConfig
from dedup.text import (
    _NOTE_MAX_WORDS,
    CJK,
    NOTE_ANY,
    STOPS,
    char_tables,
    is_cjk,
    is_note_line,
    is_title_line,
    normalize_token,
    note_codes,
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
_FLAG_STOP = np.uint8(4)  # a sentence stop follows the token on its line
_STOPS = np.asarray([ord(c) for c in STOPS], dtype=np.uint32)


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


_M21 = np.uint32(0x1FFFFF)
_S21 = np.uint32(21)
_B_SPACE = np.uint32(1 << 23)
_B_CJK = np.uint32(1 << 24)
_S25 = np.uint32(25)
_OK, _FULL_TOKENS, _FULL_ASKS = 0, 1, 2


@lru_cache(maxsize=1)
def _packed_table() -> np.ndarray:
    """``char_tables()`` and ``note_codes()`` in one uint32 per code point (one lookup a
    character): the mapped code point (bits 0-20), the class (21-22), a space (23), a token of
    this one character is CJK (24), the note code (25-31)."""
    cls, mapped, space = char_tables()
    out = mapped.astype(np.uint32)
    out |= cls.astype(np.uint32) << _S21
    out |= space.astype(np.uint32) << np.uint32(23)
    out |= (cls[mapped] == CJK).astype(np.uint32) << np.uint32(24)  # mapped 0: class 0
    out |= note_codes()[0].astype(np.uint32) << _S25
    return out


@lru_cache(maxsize=1)
def _note_hints() -> tuple[np.ndarray, np.ndarray]:
    """``note_codes()``'s hints and, by their first two codes, 1 + the first row starting so."""
    hints = note_codes()[1]
    first = np.zeros((NOTE_ANY + 1, NOTE_ANY + 1), dtype=np.int64)
    for q in range(hints.shape[0] - 1, -1, -1):
        first[hints[q, 1], hints[q, 2]] = q + 1
    return hints, first


@njit(cache=True, inline="always")
def _may_hold_note(cps, a, b, table, hints, first):  # pragma: no cover - compiled
    """Whether line ``cps[a:b]`` may hold a note (``may_hold_note``, exact): a character of
    note code ``NOTE_ANY`` or the codes of a hint (rows: length, codes) one after the other."""
    prev = np.uint32(0)
    for p in range(a, b):
        code = table[cps[p]] >> _S25
        if code == NOTE_ANY:
            return True
        q = first[prev, code] - 1
        while q >= 0 and q < hints.shape[0] and hints[q, 1] == prev and hints[q, 2] == code:
            length = hints[q, 0]
            if p - 1 + length <= b:
                t = 2
                while t < length and table[cps[p - 1 + t]] >> _S25 == hints[q, t + 1]:
                    t += 1
                if t == length:
                    return True
            q += 1
        prev = code
    return False


@njit(cache=True, inline="always")
def _ask(asks, n, row, what):  # pragma: no cover - compiled
    """Row ``n`` of ``asks``: ``row`` (doc, line, start, end) and ``what``; returns n + 1."""
    for q in range(4):
        asks[n, q] = row[q]
    asks[n, 4] = what
    return n + 1


@njit(cache=True, inline="always")
def _title_code(toks, a0, a1, heads, b0, b1):  # pragma: no cover - compiled
    """Whether tokens ``a0:a1`` (a first non-blank line) repeat title tokens ``b0:b1``: 0 no,
    1 yes, 2 undecided (a token whose normalised length is unknown, or lengths close enough
    for a prefix: Python decides)."""
    if a1 == a0 or b1 == b0:
        return 0
    slow = False
    la = a1 - a0 - 1
    for t in range(a0, a1):
        la += toks[1][t] - toks[0][t]
        slow = slow or (toks[4][t] & _FLAG_SLOW) != 0
    lb = b1 - b0 - 1
    for t in range(b0, b1):
        lb += heads[1][t] - heads[0][t]
        slow = slow or (heads[4][t] & _FLAG_SLOW) != 0
    if slow:
        return 2
    if la == lb:
        if a1 - a0 != b1 - b0:
            return 0
        for t in range(a1 - a0):
            if toks[3][a0 + t] != heads[3][b0 + t]:
                return 0
        return 1
    return 2 if min(la, lb) >= 0.8 * max(la, lb) else 0


@njit(cache=True, inline="always")
def _digit_or_lower(c):  # pragma: no cover - compiled
    """An ASCII digit or lower-case letter (after a ".", which then is no stop: ``_is_stop``)."""
    return 48 <= c <= 57 or 97 <= c <= 122


@njit(cache=True)
def _scan(cps, doc_off, d0, d1, table, notes, toks, doc_tok, heads, asks, k,
          n_asks):  # pragma: no cover - compiled
    """Tokens of documents ``d0 .. d1 - 1`` (code points ``cps[doc_off[d] - doc_off[d0]:
    ...]``) into ``toks`` (start, end, line, hash, flag) from row ``k`` on, but for a first
    non-blank line repeating the title (``heads``: the titles' tokens, their offsets, each
    document's title or -1). ``notes``: (max words of a note line, ``_note_hints()``). Lines
    Python decides on go to ``asks`` (doc, line, start, end, 0: may be a note / 1: may be the
    title) from row ``n_asks`` on. A token followed on its line by a sentence stop
    (``dedup.text._is_stop``) gets flag ``_FLAG_STOP``. Returns (status, k, n_asks)."""
    t_start, t_end, t_line, t_hash, t_flag = toks
    max_words, hints, hint_first = notes
    head_tok, head_row = heads[5], heads[6]
    cap = t_start.shape[0]
    shift = doc_off[d0]
    for d in range(d0, d1):
        doc_tok[d] = k
        base = doc_off[d] - shift
        end = doc_off[d + 1] - shift
        line = 0
        line_start = base
        line_tok = k
        first = True
        words = 0
        in_word = False
        i = base
        while i <= end:
            c = np.uint32(cps[i]) if i < end else np.uint32(10)
            e = table[c]
            kind = e >> _S21 & np.uint32(3)
            if kind == 0:
                if c == 10:  # close the line (the text's end closes its last line)
                    if words > 0:
                        title = 0
                        if first:
                            first = False
                            r = head_row[d]
                            if r >= 0:
                                title = _title_code(toks, line_tok, k, heads, head_tok[r],
                                                    head_tok[r + 1])
                        if title == 1:
                            k = line_tok
                        else:
                            note = words <= max_words and _may_hold_note(
                                cps, line_start, i, table, hints, hint_first)
                            if note or title == 2:
                                if n_asks + 2 > asks.shape[0]:
                                    return _FULL_ASKS, k, n_asks
                                row = (d, line, line_start - base, i - base)
                                if note:
                                    n_asks = _ask(asks, n_asks, row, 0)
                                if title == 2:
                                    n_asks = _ask(asks, n_asks, row, 1)
                    line += 1
                    line_start = i + 1
                    line_tok = k
                    words = 0
                    in_word = False
                elif e & _B_SPACE:
                    in_word = False
                else:
                    if not in_word:
                        words += 1
                        in_word = True
                    if k > line_tok:
                        for stop in _STOPS:
                            if c == stop:
                                if c != 46 or i + 1 >= end or not _digit_or_lower(cps[i + 1]):
                                    t_flag[k - 1] |= _FLAG_STOP
                                break
                i += 1
                continue
            if not in_word:
                words += 1
                in_word = True
            m = e & _M21
            slow = m == 0
            h = np.uint64(m)
            j = i + 1
            if kind == 1:
                while j < end:
                    f = table[cps[j]]
                    if f >> _S21 & np.uint32(3) != 1:
                        break
                    m = f & _M21
                    slow |= m == 0
                    h = h * _U_P + np.uint64(m)
                    j += 1
            if k == cap:  # more tokens than room: the caller retries with more
                return _FULL_TOKENS, k, n_asks
            t_start[k] = i - base
            t_end[k] = j - base
            t_line[k] = line
            t_hash[k] = _fmix(h ^ (np.uint64(j - i) * _U_G))
            if slow:
                t_flag[k] = _FLAG_SLOW
            elif j - i == 1 and e & _B_CJK:
                t_flag[k] = _FLAG_CJK
            else:
                t_flag[k] = 0
            k += 1
            i = j
    doc_tok[d1] = k
    return _OK, k, n_asks


@njit(cache=True)
def _tokenize(s, doc_off, d0, d1, table, notes, toks, doc_tok, heads, asks, k,
              n_asks):  # pragma: no cover - compiled
    """``_scan`` over the code points of ``s`` (documents ``d0 .. d1 - 1`` joined), read in
    place: a str's buffer holds 1, 2 or 4 bytes a code point (its kind; numba's unboxed str
    exposes the buffer and kind as ``_data`` and ``_kind``)."""
    n = len(s)
    if s._kind == PY_UNICODE_1BYTE_KIND:
        return _scan(carray(s._data, n, np.uint8), doc_off, d0, d1, table, notes, toks,
                     doc_tok, heads, asks, k, n_asks)
    if s._kind == PY_UNICODE_2BYTE_KIND:
        return _scan(carray(s._data, n, np.uint16), doc_off, d0, d1, table, notes, toks,
                     doc_tok, heads, asks, k, n_asks)
    return _scan(carray(s._data, n, np.uint32), doc_off, d0, d1, table, notes, toks, doc_tok,
                 heads, asks, k, n_asks)


@njit(cache=True)
def _drop_lines(toks, doc_tok, d0, d1, drop):  # pragma: no cover - compiled
    """Drops the tokens of lines ``drop`` (rows: doc, line; sorted) from documents ``d0 ..
    d1 - 1``, compacting ``toks`` and ``doc_tok`` in place; returns the new end."""
    t_start, t_end, t_line, t_hash, t_flag = toks
    k = doc_tok[d0]
    s = 0
    for d in range(d0, d1):
        t0, t1 = doc_tok[d], doc_tok[d + 1]
        doc_tok[d] = k
        for t in range(t0, t1):
            while s < drop.shape[0] and (drop[s, 0] < d or (drop[s, 0] == d
                                         and drop[s, 1] < t_line[t])):
                s += 1
            if s < drop.shape[0] and drop[s, 0] == d and drop[s, 1] == t_line[t]:
                continue
            t_start[k] = t_start[t]
            t_end[k] = t_end[t]
            t_line[k] = t_line[t]
            t_hash[k] = t_hash[t]
            t_flag[k] = t_flag[t]
            k += 1
    doc_tok[d1] = k
    return k


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


_CHUNK_CHARS = 1 << 17  # documents joined per compiled call: the joined str stays in cache
_TOKS = (np.int32, np.int32, np.int32, np.uint64, np.uint8)  # start, end, line, hash, flag


def _grow(a: np.ndarray, used: int, size: int) -> np.ndarray:
    """``a`` with room for ``size`` rows, its first ``used`` kept."""
    out = np.empty((size, *a.shape[1:]), dtype=a.dtype)
    out[:used] = a[:used]
    return out


def _scan_texts(texts: list[str], titles: list[str | None],
                heads: tuple[np.ndarray, ...] | None) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """``_tokenize`` over ``texts``, a chunk joined at a time: ((start, end, line, hash, flag),
    token offsets). ``heads``: ``titles``' tokens, offsets and rows (a title line and note
    lines are dropped, Python deciding what the compiled pass cannot); None: titles themselves
    (no line dropped)."""
    table = _packed_table()
    m = len(texts)
    notes = (_NOTE_MAX_WORDS if heads is not None else -1, *_note_hints())
    if heads is None:
        heads = (*(np.empty(0, t) for t in _TOKS), np.zeros(1, np.int64),
                 np.full(m, -1, np.int64))
    doc_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=m), out=doc_off[1:])
    total = int(doc_off[-1])
    # Room for a token every 4 characters (words); CJK text, a token a character, grows it.
    cap = total // 4 + 16
    toks = tuple(np.empty(cap, t) for t in _TOKS)
    asks = np.empty((m // 8 + 16, 5), np.int32)
    doc_tok = np.zeros(m + 1, np.int64)
    chunk = doc_off[:-1] // _CHUNK_CHARS
    bounds = [0, *(np.flatnonzero(chunk[1:] != chunk[:-1]) + 1).tolist(), m]
    k = 0
    for d0, d1 in pairwise(bounds):
        s = "".join(texts[d0:d1])
        while True:
            status, k1, n_asks = _tokenize(s, doc_off, d0, d1, table, notes, toks, doc_tok,
                                           heads, asks, k, 0)
            if status == _OK:
                break
            if status == _FULL_TOKENS:
                cap = min(max(2 * cap, k1 + int(doc_off[d1] - doc_off[d0]) + 1), total + 1)
                toks = tuple(_grow(a, k1, cap) for a in toks)
            else:
                asks = np.empty((2 * asks.shape[0], 5), np.int32)
        k = k1
        if n_asks:
            drop = [(d, ln) for d, ln, a, b, what in asks[:n_asks].tolist()
                    if (is_title_line(texts[d][a:b], titles[d]) if what
                        else is_note_line(texts[d][a:b]))]
            if drop:
                drop.sort()
                k = _drop_lines(toks, doc_tok, drop[0][0], d1, np.asarray(drop, np.int64))
    return tuple(a[:k] for a in toks), doc_tok


def _tokens(texts: list[str], titles: list[str | None]) -> tuple[np.ndarray, ...]:
    """(start, end, line, flag, token offsets, token hashes) of the tokens of many texts:
    ``tokenize``'s tokens, with the title line and note lines dropped. ``line`` numbers a text's
    lines from 0 (a paragraph per line); ``flag`` bit 1: a token the tables do not map
    (normalised in Python, its hash still to be set: ``_slow_words``). Titles are tokenised
    first, to find title lines.
    """
    row = np.full(len(texts), -1, dtype=np.int64)
    present = []
    for d, title in enumerate(titles):
        if title:
            row[d] = len(present)
            present.append(title)
    head_toks, head_off = _scan_texts(present, present, None)
    (start, end, line, poly, flag), doc_tok = _scan_texts(texts, titles,
                                                          (*head_toks, head_off, row))
    return start, end, line, flag, doc_tok, poly


@njit(cache=True)
def _flagged(flag, bit):  # pragma: no cover - compiled
    """``np.flatnonzero(flag & bit)`` without a temporary the size of ``flag``."""
    n = 0
    for f in flag:
        n += (f & bit) != 0
    out = np.empty(n, np.int64)
    n = 0
    for t in range(flag.shape[0]):
        if flag[t] & bit:
            out[n] = t
            n += 1
    return out


def _slow_words(texts: list[str], start: np.ndarray, end: np.ndarray, flag: np.ndarray,
                doc_tok: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The tokens the tables do not map (flag bit 1) and their words, normalised in Python;
    sets flag bit 0 (one CJK character) of those that are."""
    slow = _flagged(flag, _FLAG_SLOW)
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
    start, end, line, flag, doc_tok, _ = _tokens(texts, titles)
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


def _token_hashes(texts: list[str], titles: list[str | None]) -> tuple[np.ndarray, ...]:
    """``_tokens``, the hashes of the tokens the tables do not map set from their
    Python-normalised words."""
    start, end, line, flag, doc_tok, t_hash = _tokens(texts, titles)
    slow, words = _slow_words(texts, start, end, flag, doc_tok)
    if words:
        t_hash[slow] = np.fromiter(map(token_hash, words), dtype=np.uint64, count=len(words))
    return start, end, line, flag, doc_tok, t_hash


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
