"""The tokenizer: ``dedup.text.tokenize``'s tokens of many documents and their hashes, in
compiled passes (numba) over their code points.

Code points are read in place from the buffer of a few documents joined (a str holds 1, 2 or 4
bytes a code point; the joined chunk stays in cache): tokens exactly as ``dedup.text.tokenize``
makes them (character-class and normalisation tables built once from ``re`` and
``unicodedata``, packed in one word a code point; a token holding a character whose
normalisation is not one character, or could compose with a neighbour, is normalised by
``normalize_token`` itself), then a 64-bit hash of each normalised token
(``dedup.hashing.token_hash``). Lines that ``tokenize`` skips (the title line, syndication and
rights notes) are found with the same rules in the same pass: title lines by comparing token
hashes of the first line and the title (Python decides close calls), notes only on lines of at
most 30 words holding a keyword (found compiled; Python runs the regexes on those lines).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

import numpy as np
from numba import carray, njit
from numba.cpython.unicode import PY_UNICODE_1BYTE_KIND, PY_UNICODE_2BYTE_KIND

from dedup.hashing import _U_G, _U_P, _fmix, token_hash
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

_FLAG_CJK = np.uint8(1)
_FLAG_SLOW = np.uint8(2)
_FLAG_STOP = np.uint8(4)  # a sentence stop follows the token on its line
_STOPS = np.asarray([ord(c) for c in STOPS], dtype=np.uint32)

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
    title) from row ``n_asks`` on; on a line of more than ``max_words`` words, sentences (up to
    a stop) of at most ``max_words`` words that may be a note (a credit line glued into a
    one-block body). A token followed on its line by a sentence stop
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
        sent_start = base  # the current sentence: its first code point, its words
        sent_words = 0
        line_asks = n_asks  # sentence asks of this line start here
        i = base
        while i <= end:
            c = np.uint32(cps[i]) if i < end else np.uint32(10)
            e = table[c]
            kind = e >> _S21 & np.uint32(3)
            if kind == 0:
                if c == 10:  # close the line (the text's end closes its last line)
                    if words > max_words >= 0 and 0 < sent_words <= max_words and \
                            _may_hold_note(cps, sent_start, i, table, hints, hint_first):
                        if n_asks + 1 > asks.shape[0]:
                            return _FULL_ASKS, k, n_asks
                        n_asks = _ask(asks, n_asks, (d, line, sent_start - base, i - base), 0)
                    elif words <= max_words:
                        n_asks = line_asks  # a short line is judged whole
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
                    sent_start = i + 1
                    sent_words = 0
                    line_asks = n_asks
                elif e & _B_SPACE:
                    in_word = False
                else:
                    if not in_word:
                        words += 1
                        sent_words += 1
                        in_word = True
                    if k > line_tok:
                        for stop in _STOPS:
                            if c == stop:
                                if c != 46 or i + 1 >= end or not _digit_or_lower(cps[i + 1]):
                                    t_flag[k - 1] |= _FLAG_STOP
                                    if max_words >= 0 and 0 < sent_words <= max_words and \
                                            _may_hold_note(cps, sent_start, i + 1, table, hints,
                                                           hint_first):
                                        if n_asks + 1 > asks.shape[0]:
                                            return _FULL_ASKS, k, n_asks
                                        n_asks = _ask(asks, n_asks,
                                                      (d, line, sent_start - base, i + 1 - base), 0)
                                    sent_start = i + 1
                                    sent_words = 0
                                break
                i += 1
                continue
            if not in_word:
                words += 1
                sent_words += 1
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
def _drop_spans(toks, doc_tok, d0, d1, drop):  # pragma: no cover - compiled
    """Drops the tokens starting in spans ``drop`` (rows: doc, start, end code points of the
    document; sorted, not overlapping: lines and sentences) from documents ``d0 .. d1 - 1``,
    compacting ``toks`` and ``doc_tok`` in place; returns the new end."""
    t_start, t_end, t_line, t_hash, t_flag = toks
    k = doc_tok[d0]
    s = 0
    for d in range(d0, d1):
        t0, t1 = doc_tok[d], doc_tok[d + 1]
        doc_tok[d] = k
        for t in range(t0, t1):
            while s < drop.shape[0] and (drop[s, 0] < d or (drop[s, 0] == d
                                         and drop[s, 2] <= t_start[t])):
                s += 1
            if s < drop.shape[0] and drop[s, 0] == d and drop[s, 1] <= t_start[t]:
                continue
            t_start[k] = t_start[t]
            t_end[k] = t_end[t]
            t_line[k] = t_line[t]
            t_hash[k] = t_hash[t]
            t_flag[k] = t_flag[t]
            k += 1
    doc_tok[d1] = k
    return k

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
            drop = [(d, a, b) for d, _, a, b, what in asks[:n_asks].tolist()
                    if (is_title_line(texts[d][a:b], titles[d]) if what
                        else is_note_line(texts[d][a:b]))]
            if drop:
                drop = sorted(set(drop))  # a line may be asked twice (a note, the title)
                k = _drop_spans(toks, doc_tok, drop[0][0], d1, np.asarray(drop, np.int64))
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


def _token_hashes(texts: list[str], titles: list[str | None]) -> tuple[np.ndarray, ...]:
    """``_tokens``, the hashes of the tokens the tables do not map set from their
    Python-normalised words."""
    start, end, line, flag, doc_tok, t_hash = _tokens(texts, titles)
    slow, words = _slow_words(texts, start, end, flag, doc_tok)
    if words:
        t_hash[slow] = np.fromiter(map(token_hash, words), dtype=np.uint64, count=len(words))
    return start, end, line, flag, doc_tok, t_hash

