"""Mojibake repair on decoded HTML, run by run, without touching clean text.

Three repairers, each applied per segment (text between markup delimiters):

* ftfy's encoding fixes (UTF-8 read as Windows-1252 / Latin-1, double encoding),
  with an explicit config that disables every style normalisation;
* UTF-8 read as Windows-874 whose 0x80-0x9F bytes came from Windows-1252
  ("๐Ÿ’ก" -> "💡"), which ftfy 6.3 does not know;
* UTF-8 read as GBK/GB18030 ("鍏\ue4c6徃" -> "公司").

The two custom repairers re-encode a run of suspect characters to the bytes the
wrong codec read and accept the UTF-8 reading only when those bytes are (almost)
entirely well-formed multi-byte UTF-8 sequences, which natural Thai or Chinese
text practically never is. Bytes the wrong decoding dropped are never invented:
characters that do not belong to a complete sequence are left as they were.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

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
_UTF8_SEQ_RE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# Share of a segment's suspect bytes that must form UTF-8 sequences for a re-decoding.
MIN_UTF8_COVERAGE_CP874 = 0.75
MIN_GBK_RUN_BYTES = 6


def _cp874_hybrid_table() -> dict[str, int]:
    """Char -> byte for Windows-874 with 0x80-0x9F taken from Windows-1252."""
    table: dict[str, int] = {}
    for byte in range(0x80, 0x100):
        codecs = ("cp1252", "cp874") if byte < 0xA0 else ("cp874",)
        for codec in codecs:
            try:
                table[bytes([byte]).decode(codec)] = byte
                break
            except UnicodeDecodeError:
                continue
    return table


CP874_HYBRID = _cp874_hybrid_table()
_CP874_RUN_RE = re.compile("[" + re.escape("".join(CP874_HYBRID)) + "]+")
_THAI_RE = re.compile("[\u0e01-\u0e5b]")
_HIGH_C1_RE = re.compile(rb"[\x80-\x9f]")
# Characters GBK mojibake of UTF-8 consists of: CJK, PUA (unassigned GBK codes),
# full-width forms, and the replacement char for a lost trailing byte.
_NON_ASCII_RUN_RE = re.compile(r"[^\x00-\x7f]+")
_PUNCT_RE = re.compile("[\u2010-\u205e]")
_CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\ue000-\uf8ff]")


def _plausible(text: str) -> bool:
    """No unassigned, private-use or control characters in a re-decoded run."""
    return all(unicodedata.category(ch) not in {"Cn", "Co", "Cc", "Cs"} for ch in text)


def _redecode_bytes(
    raw: bytes, chars: str, byte_spans: list[tuple[int, int]]
) -> tuple[str, int]:
    """Decode well-formed UTF-8 sequences in `raw`, keep other chars of `chars` as is.

    `byte_spans[i]` is the byte range of `chars[i]` in `raw`. Returns the new text
    and the number of bytes covered by sequences.
    """
    out: list[str] = []
    covered = 0
    ci = 0
    pos = 0
    for m in _UTF8_SEQ_RE.finditer(raw):
        start, end = m.span()
        # A sequence must start and end on character boundaries of the wrong reading.
        while ci < len(chars) and byte_spans[ci][1] <= start:
            if byte_spans[ci][0] >= pos:
                out.append(chars[ci])
            ci += 1
        if ci < len(chars) and byte_spans[ci][0] != start:
            continue
        cj = ci
        while cj < len(chars) and byte_spans[cj][1] < end:
            cj += 1
        if cj >= len(chars) or byte_spans[cj][1] != end:
            continue
        out.append(m.group().decode("utf-8"))
        covered += end - start
        ci = cj + 1
        pos = end
    out.extend(chars[ci:])
    return "".join(out), covered


def _spans(widths: list[int]) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for w in widths:
        spans.append((pos, pos + w))
        pos += w
    return spans


def repair_cp874(segment: str) -> str | None:
    """Repair UTF-8 that was read as Windows-874 (+ Windows-1252 C1 range); None if clean."""
    if not _THAI_RE.search(segment):
        return None
    runs = list(_CP874_RUN_RE.finditer(segment))
    total = covered = c1_hits = 0
    fixed: list[tuple[int, int, str]] = []
    lost: list[tuple[int, int, str]] = []  # runs that are a UTF-8 sequence missing a lost byte
    for run in runs:
        chars = run.group()
        if not _THAI_RE.search(chars):
            continue  # lone Windows-1252 punctuation: not evidence either way
        raw = bytes(CP874_HYBRID[ch] for ch in chars)
        new, cov = _redecode_bytes(raw, chars, _spans([1] * len(chars)))
        total += len(raw)
        covered += cov
        if cov:
            c1_hits += len(_HIGH_C1_RE.findall(raw))
            fixed.append((run.start(), run.end(), new))
        elif _TRUNCATED_UTF8_RE.fullmatch(raw):
            lost.append((run.start(), run.end(), "\ufffd"))
    if not fixed or c1_hits == 0 or covered / total < MIN_UTF8_COVERAGE_CP874:
        return None
    if not _plausible("".join(new for _, _, new in fixed)):
        return None
    return _splice(segment, sorted(fixed + lost))


# A UTF-8 sequence one byte short: what is left when the wrong reading dropped a byte that
# neither Windows-874 nor Windows-1252 defines (0x81, 0x8D, 0x8F, 0x90, 0x9D). Only leads of
# punctuation/symbols (E2: U+2000-2FFF) and emoji (F0) are taken: a lone two-letter Thai word
# can read as a truncated CJK sequence (ไป = E4 BB), but not as these.
_TRUNCATED_UTF8_RE = re.compile(rb"\xe2[\x80-\xbf]|\xf0[\x80-\xbf]{2}")


def mark_lost_bytes(text: str) -> str:
    """On a page shown to be UTF-8 read as Windows-874, replace each run that is exactly one UTF-8
    sequence missing one (lost, unrecoverable) byte by U+FFFD: the loss is marked, no character
    is invented, and no mojibake Thai is left behind."""
    fixes = [
        (run.start(), run.end(), "\ufffd")
        for run in _CP874_RUN_RE.finditer(text)
        if _THAI_RE.search(run.group())
        and _TRUNCATED_UTF8_RE.fullmatch(bytes(CP874_HYBRID[ch] for ch in run.group()))
    ]
    return _splice(text, fixes) if fixes else text


def repair_gbk(segment: str) -> str | None:
    """Repair UTF-8 that was read as GBK/GB18030; None if clean.

    Every non-ASCII run of the segment is re-encoded to GB18030. The UTF-8 reading
    is taken only if *all* runs are then strictly valid UTF-8 (a lost final byte,
    shown as U+FFFD, is allowed), together they hold at least MIN_GBK_RUN_BYTES
    bytes, and the result is plausible text. Natural Chinese fails the first test.
    """
    if not _CJK_RE.search(segment):
        return None
    fixed: list[tuple[int, int, str]] = []
    total = 0
    for run in _NON_ASCII_RUN_RE.finditer(segment):
        new = _gbk_redecode(run.group())
        if new is None:
            return None
        core = new.replace("\ufffd", "")
        if core and (not _CJK_OR_COMMON_RE.fullmatch(core) or not _plausible(core)):
            return None
        total += len(run.group()) * 2
        fixed.append((run.start(), run.end(), new))
    # Short evidence is accepted only when every run comes back as typographic
    # punctuation (’ “ — …), the non-ASCII of English text, never Chinese words.
    if total < MIN_GBK_RUN_BYTES and not all(
        _PUNCT_RE.search(new) for _, _, new in fixed
    ):
        return None
    return _splice(segment, fixed)


def _gbk_redecode(chars: str) -> str | None:
    """UTF-8 reading of the GB18030 bytes of `chars`, or None if not valid UTF-8."""
    lost_tail = chars.endswith("\ufffd")
    body = chars.rstrip("\ufffd")
    try:
        raw = body.encode("gb18030")
    except UnicodeEncodeError:
        return None
    if lost_tail:
        # The wrong decoding lost the last byte(s) of the final UTF-8 sequence.
        for cut in range(len(raw), len(raw) - 3, -1):
            try:
                return raw[:cut].decode("utf-8") + "\ufffd"
            except UnicodeDecodeError:
                continue
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


_CJK_OR_COMMON_RE = re.compile(
    "[\u0020-\u007e\u00a0-\u024f\u0370-\u04ff\u2000-\u206f\u2100-\u27bf\u3000-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef\U0001f000-\U0001faff]+"
)


def _splice(text: str, fixes: list[tuple[int, int, str]]) -> str:
    parts, pos = [], 0
    for start, end, new in fixes:
        parts.append(text[pos:start])
        parts.append(new)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def repair_ftfy(segment: str) -> tuple[str, list[str]]:
    """ftfy encoding repair of one segment; returns text and repair names."""
    result = fix_encoding_and_explain(segment, FTFY_CONFIG)
    if result.text == segment:
        return segment, []
    return result.text, ["ftfy:mojibake"]


Repairer = Callable[[str], "str | None"]
_CUSTOM: tuple[tuple[str, Repairer], ...] = (
    ("utf8-as-cp874", repair_cp874),
    ("utf8-as-gbk", repair_gbk),
)


def repair_text(text: str) -> tuple[str, tuple[str, ...]]:
    """Repair mojibake in decoded HTML or plain text, segment by segment.

    Script and style blocks are left untouched. Returns the repaired text and the
    sorted names of the repairs applied, ``()`` when the text was left unchanged.
    """
    if text.isascii():
        return text, ()
    names: set[str] = set()
    blocks = _CODE_BLOCK_RE.split(text)
    for b in range(0, len(blocks), 2):
        if not blocks[b].isascii():
            blocks[b] = _repair_segments(blocks[b], names)
    if not names:
        return text, ()
    if "utf8-as-cp874" in names:
        # The page is shown to be UTF-8 read as Windows-874: once more from the original, now
        # also marking byte-lost runs in segments that had nothing else to repair.
        blocks = _CODE_BLOCK_RE.split(text)
        for b in range(0, len(blocks), 2):
            if not blocks[b].isascii():
                blocks[b] = _repair_segments(blocks[b], names, cp874_page=True)
    return "".join(blocks), tuple(sorted(names))


def _repair_segments(text: str, names: set[str], cp874_page: bool = False) -> str:
    parts = _SEGMENT_SPLIT_RE.split(text)
    for i in range(0, len(parts), 2):
        segment = parts[i]
        if segment.isascii():
            continue
        for name, repairer in _CUSTOM:
            fixed = repairer(segment)
            if fixed is None and cp874_page and name == "utf8-as-cp874":
                fixed = mark_lost_bytes(segment)
                fixed = None if fixed == segment else fixed
            if fixed is not None:
                segment = fixed
                names.add(name)
        segment, ftfy_names = repair_ftfy(segment)
        names.update(ftfy_names)
        parts[i] = segment
    return "".join(parts)
