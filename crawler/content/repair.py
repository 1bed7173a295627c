"""Mojibake repair on decoded HTML, run by run, without touching clean text.

Four repairers, each applied per segment (text between markup delimiters), for UTF-8 of any
script (Cyrillic, Greek, CJK, Arabic, Hebrew, Thai, Indic, emoji) read with the wrong codec:

* ftfy's encoding fixes (read as Windows-1252 / Latin-1, double encoding), with an explicit
  config that disables every style normalisation;
* read as Windows-874 ("๐Ÿ’ก" -> "💡", "ะŸั€ะฐะฒะดะฐ" -> "Правда") and as Windows-1251
  ("ОљО±О»О·" -> "Καλη"), which ftfy 6.3 does not know or does not dare;
* read as GBK/GB18030 ("鍏\ue4c6徃" -> "公司").

The custom repairers re-encode each run of suspect characters to the bytes the wrong codec
read and accept the UTF-8 reading only when those bytes are (almost) entirely well-formed
multi-byte UTF-8 sequences, which natural text in that codec's own script practically never
is. A byte the wrong decoding lost (dropped, or shown as U+FFFD) is never invented: each
character that lost one becomes one U+FFFD, so no mojibake is left half repaired.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol

import regex
from ftfy import TextFixerConfig, fix_encoding_and_explain

# Encoding repairs only: every option that changes the style of clean text is off,
# and HTML entities are left for the HTML parser (we run on markup).
FTFY_CONFIG = TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    explain=True,
)

# Code is never extracted and is full of byte-string tricks that look like mojibake:
# leave <script> (except JSON-LD metadata) and <style> blocks alone.
_CODE_BLOCK_RE = re.compile(
    r"(<script\b(?![^>]*ld\+json)[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>)",
    re.IGNORECASE | re.DOTALL,
)
# Segments never span markup or lines: mojibake of a character never contains these.
_SEGMENT_SPLIT_RE = re.compile(r"([<>\n]+)")
# Share of a segment's suspect bytes that must form UTF-8 sequences for a re-decoding.
MIN_UTF8_COVERAGE = 0.75
MIN_UTF8_COVERAGE_GBK = 0.9  # a double-byte reading resynchronises: natural Chinese never gets close
MIN_GBK_RUN_BYTES = 6
LOST = "\ufffd"  #: what a lossy decoding shows for a byte it could not read; what we mark a loss with


def _single_byte_table(codec: str) -> dict[str, int]:
    """Char -> byte for a single-byte code page, with 0x80-0x9F from Windows-1252 where the code
    page has nothing there (Windows-874). Bytes neither defines are absent."""
    table: dict[str, int] = {}
    for byte in range(0x80, 0x100):
        for name in (codec, "cp1252") if byte < 0xA0 else (codec,):
            try:
                table[bytes([byte]).decode(name)] = byte
                break
            except UnicodeDecodeError:
                continue
    return table


CP874_HYBRID = _single_byte_table("cp874")
CP1252 = _single_byte_table("cp1252")
_CONTINUATION = range(0x80, 0xC0)
_HIGH_C1 = range(0x80, 0xA0)
# Second-byte ranges of the leads that restrict it (no overlongs, surrogates or > U+10FFFF).
_SECOND = {0xE0: range(0xA0, 0xC0), 0xED: range(0x80, 0xA0), 0xF0: range(0x90, 0xC0),
           0xF4: range(0x80, 0x90)}
_THAI_RE = re.compile("[\u0e01-\u0e5b]")
# Characters GBK mojibake of UTF-8 consists of: CJK, PUA (unassigned GBK codes),
# full-width forms, and the replacement char for a lost byte.
_NON_ASCII_RUN_RE = re.compile(r"[^\x00-\x7f]+")
_PUNCT_RE = re.compile("[\u2010-\u205e]")


def _plausible(text: str) -> bool:
    """No unassigned, private-use or control characters in a re-decoded run, and its non-ASCII
    letters of one script: mojibake of real text comes back as one language, while the bytes of
    natural text taken as UTF-8 by chance mix scripts (Chinese "郭美美" as EUC-KR -> "άڸڸ")."""
    return (all(unicodedata.category(ch) not in {"Cn", "Co", "Cc", "Cs"} for ch in text)
            and any(pattern.fullmatch("".join(_NON_ASCII_RUN_RE.findall(text)))
                    for pattern in _ONE_SCRIPT))


#: Text of one script (Unicode's Script property; Common and Inherited go with any), the scripts
#: written together counting as one (Japanese: kanji and kana; Korean: hangul and hanja).
_ONE_SCRIPT = [regex.compile(rf"[{classes}\p{{Common}}\p{{Inherited}}]*") for classes in (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Bopomofo}",
    *(rf"\p{{{name}}}" for name in (
        "Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Syriac", "Thaana",
        "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada",
        "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Georgian", "Ethiopic",
        "Khmer", "Mongolian")),
)]


_LATIN_RE = re.compile("[\u00a0-\u024f]+")


def _lead_size(byte: int) -> int:
    """Length of the UTF-8 sequence `byte` starts (0: not a lead byte)."""
    return 2 if 0xC2 <= byte < 0xE0 else 3 if 0xE0 <= byte < 0xF0 else 4 if 0xF0 <= byte < 0xF5 else 0


def _is_continuation(byte: int | None) -> bool:
    return byte is None or byte in _CONTINUATION


def read_utf8(raw: list[int | None]) -> tuple[list[tuple[str | None, int, int]], int, int]:
    """Greedy UTF-8 reading of bytes in which None is a byte the wrong decoding lost.

    Returns pieces (text, start, end) over `raw`: a decoded character, U+FFFD for a sequence
    missing a byte, or None for a byte in no sequence (an orphan); then the known bytes inside
    sequences and the number of sequences read whole.
    """
    pieces: list[tuple[str | None, int, int]] = []
    covered = whole = 0
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        size = 0 if byte is None else _lead_size(byte)
        seq = raw[i:i + size]
        if size and len(seq) == size and all(_is_continuation(b) for b in seq[1:]) and (
            seq[1] is None or seq[1] in _SECOND.get(byte, _CONTINUATION)
        ):
            known = [b for b in seq if b is not None]
            pieces.append((bytes(known).decode("utf-8") if len(known) == size else LOST, i, i + size))
            covered += len(known)
            whole += len(known) == size
            i += size
        elif byte is None:  # a lost byte and the continuation bytes that went with it
            j = i + 1
            while j < n and j - i < 4 and raw[j] is not None and raw[j] in _CONTINUATION:
                j += 1
            pieces.append((LOST, i, j))
            covered += j - i - 1
            i = j
        elif byte < 0x80:  # ASCII a double-byte reading took as the second byte of a pair
            pieces.append((chr(byte), i, i + 1))
            covered += 1
            i += 1
        else:
            pieces.append((None, i, i + 1))
            i += 1
    return pieces, covered, whole


def render(pieces: list[tuple[str | None, int, int]], raw: list[int | None], chars: str,
           spans: list[tuple[int, int]]) -> str:
    """The UTF-8 reading of a run: decoded characters, one U+FFFD for each character that lost a
    byte (an orphan lead byte starts one, orphan continuation bytes join it) and, where an
    orphan byte is one whole character of typographic punctuation, that character."""
    whole_chars = {span: ch for ch, span in zip(chars, spans, strict=True)}
    out: list[str] = []
    open_loss = False
    for text, start, end in pieces:
        if text is not None:
            out.append(text)
            open_loss = text == LOST
            continue
        lead = _lead_size(raw[start] or 0)
        if open_loss and not lead:
            continue  # a continuation byte of the character already marked lost
        punct = whole_chars.get((start, end), "")
        if not lead and _PUNCT_RE.fullmatch(punct):
            out.append(punct)
        else:
            out.append(LOST)
            open_loss = True
    return "".join(out)


def _splice(text: str, fixes: list[tuple[int, int, str]]) -> str:
    parts, pos = [], 0
    for start, end, new in fixes:
        parts.append(text[pos:start])
        parts.append(new)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


# A UTF-8 sequence one byte short: what is left when the wrong reading dropped a byte that
# neither Windows-874 nor Windows-1252 defines (0x81, 0x8D, 0x8F, 0x90, 0x9D). Only leads of
# punctuation/symbols (E2: U+2000-2FFF) and emoji (F0) are taken: a lone two-letter Thai word
# can read as a truncated CJK sequence (ไป = E4 BB), but not as these.
_TRUNCATED_UTF8_RE = re.compile(rb"\xe2[\x80-\xbf]|\xf0[\x80-\xbf]{2}")


def _inside_latin_word(text: str, start: int, end: int, new: str) -> bool:
    """Whether text[start:end] has an ASCII letter on both sides and reads as Latin letters
    ("pรกgina" -> "página"): the code page's own script is not written inside Latin words, and
    what comes back inside one is Latin too (uppercase Polish "PÓŁNOCNA" as Windows-1250 bytes
    is the UTF-8 of a Cyrillic "ӣ")."""
    return (start > 0 and end < len(text) and text[start - 1].isascii() and text[start - 1].isalpha()
            and text[end].isascii() and text[end].isalpha()
            and bool(_LATIN_RE.fullmatch(new.replace(LOST, ""))))


class SingleByteRepair:
    """UTF-8 read as a single-byte code page (Windows-874, Windows-1251), run by run.

    A run is a stretch of characters of the code page's upper half (or U+FFFD, a lost byte).
    Runs holding a UTF-8 lead byte or a lost byte are the evidence: their known bytes must be at
    least MIN_UTF8_COVERAGE in sequences, one sequence at least (whole, or missing a byte) with
    a continuation byte in 0x80-0x9F (Windows-1252 punctuation or a C1 control in the code
    page, which its own script does not put after a letter) or a whole one inside a Latin word
    ("pรกgina": the UTF-8 of "á"), and the characters plausible.
    """

    def __init__(self, table: dict[str, int], own_chars: bool = False) -> None:
        # a byte the code page leaves undefined may also show as its C1 control (WHATWG's reading)
        self.table = {chr(b): b for b in _HIGH_C1} | table
        self.run_re = re.compile("[" + re.escape("".join(sorted(self.table))) + LOST + "]+")
        # own_chars: only segments holding a character Windows-1252 lacks are this code page's:
        # the rest is Windows-1252 (or Latin-1) mojibake, ftfy's, read with the wrong bytes here
        self.own_re = re.compile("[" + re.escape("".join(sorted(set(table) - set(CP1252)))) + "]"
                                 ) if own_chars else None

    def __call__(self, segment: str, shown: bool = False) -> str | None:
        """The repaired segment, or None if it is clean. `shown`: the page is known to be this
        mojibake, so no 0x80-0x9F byte is asked for."""
        if self.own_re is not None and not self.own_re.search(segment):
            return None
        fixes: list[tuple[int, int, str]] = []
        total = covered = whole = c1 = inside_word = 0
        for run in self.run_re.finditer(segment):
            chars = run.group()
            raw = [self.table.get(ch) for ch in chars]
            if not any(b is None or _lead_size(b) for b in raw):
                continue  # lone punctuation: not evidence either way
            pieces, run_covered, run_whole = read_utf8(raw)
            if None not in raw and _TRUNCATED_UTF8_RE.fullmatch(bytes(raw)):  # type: ignore[arg-type]
                run_covered = len(raw)  # one sequence that lost its last byte ("โ€" of ”)
            total += sum(b is not None for b in raw)
            covered += run_covered
            whole += run_whole
            c1 += sum(1 for text, start, end in pieces if text and raw[start] is not None
                      for b in raw[start + 1:end] if b in _HIGH_C1)
            new = render(pieces, raw, chars, [(k, k + 1) for k in range(len(chars))])
            inside_word += bool(run_whole) and _inside_latin_word(segment, run.start(), run.end(), new)
            fixes.append((run.start(), run.end(), new))
        if not (whole or c1) or covered / total < MIN_UTF8_COVERAGE:
            return None
        if not (shown or c1 or inside_word):
            return None
        if not _plausible("".join(new for _, _, new in fixes).replace(LOST, "")):
            return None
        return _splice(segment, fixes)


repair_cp874 = SingleByteRepair(CP874_HYBRID)
#: The other code pages UTF-8 is commonly misread with that ftfy 6.3 leaves broken (a lone "Ă˝"
#: of cp1250, Cyrillic read as cp1253 or Mac Roman "–ù–∞—à–∏", anything read as cp1256).
SINGLE_BYTE_CODECS = ("cp1250", "cp1251", "cp1253", "cp1256", "mac_roman")

def mark_lost_bytes(text: str) -> str:
    """On a page shown to be UTF-8 read as Windows-874, replace each run that is exactly one UTF-8
    sequence missing one (lost, unrecoverable) byte by U+FFFD: the loss is marked, no character
    is invented, and no mojibake Thai is left behind."""
    fixes = [
        (run.start(), run.end(), LOST)
        for run in repair_cp874.run_re.finditer(text)
        if _THAI_RE.search(run.group()) and LOST not in run.group()
        and _TRUNCATED_UTF8_RE.fullmatch(bytes(CP874_HYBRID[ch] for ch in run.group()))
    ]
    return _splice(text, fixes) if fixes else text


def _double_byte_bytes(chars: str, codec: str) -> tuple[list[int | None], list[tuple[int, int]]] | None:
    """The bytes of `chars` in a double-byte codec (U+FFFD: one lost byte) and each character's
    byte span."""
    raw: list[int | None] = []
    spans = []
    for ch in chars:
        if ch == LOST:
            encoded: bytes | list[None] = [None]
        else:
            try:
                encoded = ch.encode(codec)
            except UnicodeEncodeError:
                return None
        spans.append((len(raw), len(raw) + len(encoded)))
        raw.extend(encoded)
    return raw, spans


class DoubleByteRepair:
    """UTF-8 read as a double-byte code page (GBK/GB18030 "鍏\ue4c6徃" -> "公司", Shift_JIS
    "縺薙ｓ縺ｫ縺｡縺ｯ" -> "こんにちは", EUC-KR), segment by segment.

    Every non-ASCII run of a segment holding the mojibake's characters (`marks`) is re-encoded
    to the code page (U+FFFD: a byte the reading lost). The UTF-8 reading is taken only if at
    least MIN_UTF8_COVERAGE_GBK of the known bytes are in sequences, they hold at least
    MIN_GBK_RUN_BYTES bytes (or come back as typographic punctuation, the non-ASCII of English
    text, or sit inside a Latin word, "Gesch盲ftes" -> "Geschäftes", or the page is `shown` to
    be this mojibake), and the result is plausible text in common scripts. Natural text of the
    code page's own language fails the first test: a double-byte reading resynchronises.
    """

    def __init__(self, codec: str, marks: str) -> None:
        self.codec = codec
        self.marks_re = re.compile(f"[{marks}]")

    def __call__(self, segment: str, shown: bool = False) -> str | None:
        if not self.marks_re.search(segment):
            return None
        fixed: list[tuple[int, int, str]] = []
        total = covered = 0
        inside_word = False
        for run in _NON_ASCII_RUN_RE.finditer(segment):
            encoded = _double_byte_bytes(run.group(), self.codec)
            if encoded is None:
                return None
            raw, spans = encoded
            pieces, run_covered, run_whole = read_utf8(raw)
            new = render(pieces, raw, run.group(), spans)
            core = new.replace(LOST, "")
            if core and (not _CJK_OR_COMMON_RE.fullmatch(core) or not _plausible(core)):
                return None
            total += sum(b is not None for b in raw)
            covered += run_covered
            inside_word = inside_word or (bool(run_whole) and
                                          _inside_latin_word(segment, run.start(), run.end(), new))
            fixed.append((run.start(), run.end(), new))
        if not total or covered / total < MIN_UTF8_COVERAGE_GBK:
            return None
        if not (shown or inside_word or covered >= MIN_GBK_RUN_BYTES
                or all(_PUNCT_RE.search(new) for _, _, new in fixed)):
            return None
        return _splice(segment, fixed)


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: UTF-8 read as GBK/GB18030: CJK, private use (unassigned GBK codes) and lost bytes.
repair_gbk = DoubleByteRepair("gb18030", _CJK + "\ue000-\uf8ff")


_CJK_OR_COMMON_RE = re.compile(
    "[\u0020-\u007e\u00a0-\u024f\u0370-\u04ff\u0590-\u06ff\u0900-\u0dff\u0e00-\u0e7f"
    "\u2000-\u206f\u2100-\u27bf\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\ufe00-\ufe0f\uff00-\uffef\U0001f000-\U0001faff]+"
)


def repair_ftfy(segment: str) -> tuple[str, list[str]]:
    """ftfy encoding repair of one segment; returns text and repair names."""
    result = fix_encoding_and_explain(segment, FTFY_CONFIG)
    if result.text == segment:
        return segment, []
    return result.text, ["ftfy:mojibake"]


class Repairer(Protocol):
    def __call__(self, segment: str, shown: bool = False) -> str | None: ...


def _repair_cp874_page(segment: str, shown: bool = False) -> str | None:
    """Windows-874; on a page shown to be such mojibake, byte-lost runs are marked too."""
    fixed = repair_cp874(segment, shown)
    if shown:
        marked = mark_lost_bytes(fixed or segment)
        return None if marked == segment else marked
    return fixed


_CUSTOM: tuple[tuple[str, Repairer], ...] = (
    ("utf8-as-cp874", _repair_cp874_page),
    *((f"utf8-as-{codec}", SingleByteRepair(_single_byte_table(codec), own_chars=True))
      for codec in SINGLE_BYTE_CODECS),
    ("utf8-as-gbk", repair_gbk),
    # w3lib's supersets of Shift_JIS and EUC-KR; marks: CJK, half-width katakana, Hangul
    ("utf8-as-shift_jis", DoubleByteRepair("cp932", _CJK + "\uff61-\uff9f")),
    ("utf8-as-euc-kr", DoubleByteRepair("cp949", _CJK + "\uac00-\ud7af")),
)


def repair_text(text: str) -> tuple[str, tuple[str, ...]]:
    """Repair mojibake in decoded HTML or plain text, segment by segment.

    Script and style blocks are left untouched. Returns the repaired text and the
    sorted names of the repairs applied, ``()`` when the text was left unchanged.
    A page shown to hold one kind of mojibake is read once more from the original with that
    kind taken as known: segments with less evidence of their own (no 0x80-0x9F byte, only
    a byte-lost sequence) are then repaired too.
    """
    if text.isascii():
        return text, ()
    names: set[str] = set()
    repaired = _repair_blocks(text, names, frozenset())
    if not names:
        return text, ()
    shown = frozenset(names) & {name for name, _ in _CUSTOM}
    if shown:
        repaired = _repair_blocks(text, names, shown)
    return repaired, tuple(sorted(names))


def _repair_blocks(text: str, names: set[str], shown: frozenset[str]) -> str:
    blocks = _CODE_BLOCK_RE.split(text)
    for b in range(0, len(blocks), 2):
        if not blocks[b].isascii():
            blocks[b] = _repair_segments(blocks[b], names, shown)
    return "".join(blocks)


def _repair_segments(text: str, names: set[str], shown: frozenset[str]) -> str:
    parts = _SEGMENT_SPLIT_RE.split(text)
    for i in range(0, len(parts), 2):
        segment = parts[i]
        if segment.isascii():
            continue
        for name, repairer in _CUSTOM:
            fixed = repairer(segment, name in shown)
            if fixed is not None:  # one reading explains the segment: its repair is not re-read
                segment = fixed
                names.add(name)
                break
        segment, ftfy_names = repair_ftfy(segment)
        names.update(ftfy_names)
        parts[i] = segment
    return "".join(parts)
