"""Text normalisation and tokenisation: words for alphabetic scripts, characters for CJK."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

# Han, Hiragana, Katakana, Hangul (syllables and jamo), CJK compatibility ideographs.
_CJK = (
    "\u1100-\u11ff\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff"
)
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_DIGITS = re.compile(r"\d")
# Syndication notes ("This story was originally published by X ...", "Editor's note: this
# article first appeared on X", "The following report is syndicated from X", a truncated copy's
# "Read more at X"): metadata about the page, identical across unrelated republished stories,
# so never story text.
SYNDICATION_NOTE = re.compile(
    r"(?:(?:originally\s+(?:published|appeared|ran)|first\s+(?:published|appeared|ran)|"
    r"syndicated|republished|reprinted|reproduced)\s+(?:by|on|in|from|with\s+permission\s+from)|"
    r"(?:read more|continue reading|read the full (?:story|article)) at)"
    r"\s+(?:the\s+website\s+of\s+)?([^\n.,;:()]{2,60}?)(?=\s+(?:and|with|under)\b|[\n.,;:()]|$)",
    re.IGNORECASE,
)
# Rights lines ("© 2026 X. All rights reserved.", "저작권자 ⓒ … 무단전재 및 재배포 금지", "版权所有"):
# metadata of the publisher, shared by unrelated pages of one upstream source, never story text.
# The wire's own rights sentence ("This material may not be published, broadcast, rewritten or
# redistributed.") holds none of those words: once a glued credit line is dropped a sentence at
# a time (``_note_sentences``), it alone would still link unrelated copies of one wire.
RIGHTS_NOTE = re.compile(
    r"[©ⓒ]|\(c\)\s*\d{4}|\bcopyright\b|all\s+rights\s+reserved|무단\s*전재|版权所有|無断転載|"
    r"may not be published, broadcast",
    re.IGNORECASE,
)
_NOTE_MAX_WORDS = 30
#: Sentence stops: full stops, question and exclamation marks (Latin, CJK, fullwidth, Arabic,
#: Devanagari) and the ellipsis. Inside a block (a story extracted as one paragraph) passage
#: windows end at them (``dedup.shingles._windows_kernel``), so it matches the same story in
#: paragraphs, whatever its quote style or dateline punctuation. A "." directly followed by an
#: ASCII digit or lower-case letter ("2.26", "example.com", "e.g.") is no stop; "ocean.The" is.
STOPS = ".!?\u2026\u3002\uff01\uff1f\uff0e\uff61\u061f\u0964"


def _is_stop(line: str, p: int) -> bool:
    """Whether ``line[p]`` ends a sentence (``STOPS``)."""
    if line[p] not in STOPS:
        return False
    return line[p] != "." or p + 1 == len(line) or not ("0" <= line[p + 1] <= "9"
                                                         or "a" <= line[p + 1] <= "z")


def is_cjk(token: str) -> bool:
    """Whether a token is one Chinese, Japanese or Korean character."""
    return _CJK_CHAR.fullmatch(token) is not None


@dataclass(frozen=True, slots=True)
class Tokens:
    """Normalised tokens of a text with their character spans, paragraph numbers and whether a
    sentence stop (``STOPS``) follows each on its line before the next token."""

    words: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    paragraphs: tuple[int, ...]
    stops: tuple[bool, ...]
    cjk: bool  # mostly CJK: shingled by characters

    def __len__(self) -> int:
        return len(self.words)


def normalize_token(token: str) -> str:
    """NFKC, case-folded, digits -> 0 (wire copies differ in numbers and punctuation)."""
    return _DIGITS.sub("0", unicodedata.normalize("NFKC", token).casefold())


def normalize_line(line: str) -> str:
    """A line reduced to its normalised tokens, space-joined (for title comparison)."""
    return " ".join(normalize_token(m.group()) for m in _TOKEN.finditer(line))


def _is_title_line(line: str, title: str | None) -> bool:
    if not title:
        return False
    a, b = normalize_line(line), normalize_line(title)
    if not a or not b:
        return False
    short, long_ = sorted((a, b), key=len)
    return a == b or (long_.startswith(short) and len(short) >= 0.8 * len(long_))


def _note_sentences(line: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences of a line that are notes (``is_note_line``, at most
    ``_NOTE_MAX_WORDS`` words): a credit line glued into a story extracted as one block. A
    sentence ends after a stop (``_is_stop``) that follows a token of the line."""
    first = _TOKEN.search(line)
    if first is None:
        return []
    ends = [p + 1 for p in range(first.end(), len(line)) if _is_stop(line, p)] + [len(line)]
    words = [m.start() for m in re.finditer(r"\S+", line)]
    out, start = [], 0
    for end in ends:
        n = sum(start <= w < end for w in words)
        if 0 < n <= _NOTE_MAX_WORDS and is_note_line(line[start:end]):
            out.append((start, end))
        start = end
    return out


def tokenize(text: str, title: str | None = None) -> Tokens:
    """Tokenise ``text``; a leading paragraph repeating ``title`` is metadata and skipped.

    Extractors often put the headline on the first line; headlines also recur as inline promos
    on other pages, so matching them would link unrelated pages.
    """
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    paras: list[int] = []
    stops: list[bool] = []
    offset = 0
    para = 0
    first_content = True
    n_cjk = 0
    for line in text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        if first_content:
            first_content = False
            if _is_title_line(line, title):
                continue
        if len(line.split()) <= _NOTE_MAX_WORDS:
            if SYNDICATION_NOTE.search(line) or RIGHTS_NOTE.search(line):
                continue
            notes = []
        else:
            notes = _note_sentences(line)
        matches = list(_TOKEN.finditer(line))
        nexts = [x.start() for x in matches[1:]] + [len(line)] if matches else []
        for m, after in zip(matches, nexts, strict=True):
            if any(a <= m.start() < b for a, b in notes):
                continue
            tok = m.group()
            if _CJK_CHAR.fullmatch(tok):
                n_cjk += 1
            words.append(normalize_token(tok))
            starts.append(line_start + m.start())
            ends.append(line_start + m.end())
            paras.append(para)
            stops.append(any(_is_stop(line, p) for p in range(m.end(), after)))
        para += 1
    return Tokens(tuple(words), tuple(starts), tuple(ends), tuple(paras), tuple(stops),
                  cjk=bool(words) and n_cjk >= 0.5 * len(words))


# -- tables for the compiled tokenizer (dedup.tokenizer) ------------------------------------------

#: Character classes of ``char_tables()``: not part of a token, a word character (``[^\W_]``
#: outside the CJK ranges), a CJK character (one token each, whatever its category).
OTHER, WORD, CJK = 0, 1, 2
_TABLES: tuple | None = None


def char_tables() -> tuple:
    """(class, mapped, space) NumPy tables indexed by code point, built once per process.

    ``class``: OTHER / WORD / CJK, exactly the classes of ``_TOKEN`` (taken from the regex
    itself over every code point). ``mapped``: the code point ``normalize_token`` gives the
    character alone when that is one character and normalising a token character by character
    equals normalising it whole; 0 otherwise. A CJK character is a token alone; a word
    character qualifies when its NFKD starts with a starter (so its marks neither reorder nor
    compose across the boundary: "é" is e + U+0301, composed back within itself) and holds no
    Hangul jamo (starter pairs that compose); the other starter-starter compositions end in
    vowel signs, which are not word characters: tokens holding such a character are
    normalised by ``normalize_token`` itself. ``space``: 1 for the whitespace of ``str.split``.
    """
    global _TABLES
    if _TABLES is None:
        import numpy as np

        everything = "".join(map(chr, range(0x110000)))
        cls = np.zeros(0x110000, dtype=np.uint8)
        mapped = np.zeros(0x110000, dtype=np.uint32)
        for m in _TOKEN.finditer(everything):
            if m.end() - m.start() == 1 and _CJK_CHAR.fullmatch(m.group()):
                cls[m.start()] = CJK
            else:
                cls[m.start():m.end()] = WORD
        codes = np.flatnonzero(cls)
        # NUL separators: a starter that composes with nothing, so each piece is normalised alone.
        joined = "\0".join(map(chr, codes.tolist()))
        norms = _DIGITS.sub("0", unicodedata.normalize("NFKC", joined).casefold()).split("\0")
        nfkd = unicodedata.normalize("NFKD", joined).split("\0")
        marks = {ch for ch in everything if unicodedata.combining(ch)}
        jamo = set(map(chr, [*range(0x1100, 0x1200), *range(0x3130, 0x3190)]))
        alone = (cls[codes] == CJK).tolist()  # a CJK token is one character: nothing to compose
        ok = [len(n) == 1 and (a or (d[:1] not in marks and jamo.isdisjoint(d)))
              for n, d, a in zip(norms, nfkd, alone, strict=True)]
        sel = np.asarray(ok, dtype=bool)
        mapped[codes[sel]] = [ord(n) for n, k in zip(norms, ok, strict=True) if k]
        space = np.zeros(0x110000, dtype=np.uint8)
        space[[m.start() for m in re.finditer(r"\s", everything)]] = 1  # str.split()'s spaces
        _TABLES = (cls, mapped, space)
    return _TABLES


#: Literals one of which every note match holds (in the lower-cased text); "first" and
#: "rights" are common words, so they count only inside the phrase the regexes need.
_NOTE_HINTS = ("originally", "syndicated", "republished", "reprinted", "reproduced",
               "\u00a9", "\u24d2", "(c)", "copyright", "무단", "版权所有", "無断転載",
               "may not be published, broadcast", "read more at", "continue reading at",
               "read the full ")
_FIRST = re.compile(r"first\s+(?:published|appeared|ran)")
_RIGHTS = re.compile(r"rights\s+reserved")
#: Characters IGNORECASE matches to an ASCII letter of the notes but ``str.lower()`` does not.
_ODD_CASE = ("\u0130", "\u0131", "\u017f")


def may_hold_note(text: str) -> bool:
    """False only when neither note regex can match anywhere in ``text``: each match holds one
    of ``_NOTE_HINTS`` or the phrase of ``_FIRST`` / ``_RIGHTS`` in the lower-cased text (unless
    a character folds differently under IGNORECASE, then True). A cheap exact pre-check."""
    low = text.lower()
    return (any(h in low for h in _NOTE_HINTS) or any(c in text for c in _ODD_CASE)
            or ("first" in low and _FIRST.search(low) is not None)
            or ("rights" in low and _RIGHTS.search(low) is not None))


def is_note_line(line: str) -> bool:
    """Whether a line of at most ``_NOTE_MAX_WORDS`` words is a syndication or rights note.

    Each regex needs one of ``_NOTE_HINTS`` in the lower-cased line, so most lines cost one
    ``lower()`` and a few substring tests.
    """
    if not may_hold_note(line):
        return False
    return SYNDICATION_NOTE.search(line) is not None or RIGHTS_NOTE.search(line) is not None


#: ``note_codes``: the code of a character that makes any line a candidate.
NOTE_ANY = 127


@lru_cache(maxsize=1)
def note_codes() -> tuple:
    """Tables for a compiled, exact pre-check of ``may_hold_note`` (NumPy): (the code of each
    code point, the hints). The hints are ``_NOTE_HINTS`` and the literal prefixes of
    ``_FIRST`` / ``_RIGHTS``; a character's code is that of its lower-case form among the
    hints' characters (1 ..; 0: in none), or ``NOTE_ANY`` when that is a one-character hint,
    several characters, or it is one of ``_ODD_CASE``. The longer hints are rows (length,
    codes, 0 padding) sorted by their codes. A line may hold a note only if it holds a
    ``NOTE_ANY`` character or the codes of a row one after the other.
    """
    import numpy as np

    hints = sorted({*_NOTE_HINTS, "first", "rights"})
    chars = sorted(set("".join(hints)))
    code_of = {ch: i + 1 for i, ch in enumerate(chars)}  # fewer than NOTE_ANY
    code_of.update((h, NOTE_ANY) for h in hints if len(h) == 1)
    lows = list(map(str.lower, map(chr, range(0x110000))))
    codes = np.fromiter(map(code_of.get, lows, repeat(0)), dtype=np.uint8, count=len(lows))
    codes[np.fromiter(map(len, lows), dtype=np.int64, count=len(lows)) != 1] = NOTE_ANY
    codes[[ord(ch) for ch in _ODD_CASE]] = NOTE_ANY
    rows = sorted(([len(h), *map(code_of.__getitem__, h)] for h in hints if len(h) > 1),
                  key=lambda row: row[1:])
    width = max(map(len, rows))
    return codes, np.asarray([row + [0] * (width - len(row)) for row in rows], dtype=np.uint8)


def is_title_line(line: str, title: str | None) -> bool:
    """Whether ``line`` (the first non-blank line of a text) repeats ``title``."""
    return _is_title_line(line, title)
