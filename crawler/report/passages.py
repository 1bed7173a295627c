"""Shared passages between two texts, as character spans, and text cut into highlighted segments."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_WORD = re.compile(r"\S+")
_STRIP = re.compile(r"^\W+|\W+$")

Span = tuple[int, int]


def _words(text: str) -> tuple[list[str], list[Span]]:
    matches = list(_WORD.finditer(text))
    return ([_STRIP.sub("", m.group()).casefold() for m in matches],
            [(m.start(), m.end()) for m in matches])


def shared_spans(a: str, b: str, min_words: int = 6) -> tuple[list[Span], list[Span]]:
    """Character spans of the runs of at least ``min_words`` words that ``a`` and ``b`` share.

    Words are compared case- and punctuation-insensitively; the spans index the original texts.
    """
    wa, sa = _words(a)
    wb, sb = _words(b)
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    spans_a: list[Span] = []
    spans_b: list[Span] = []
    for block in matcher.get_matching_blocks():
        if block.size >= min_words:
            spans_a.append((sa[block.a][0], sa[block.a + block.size - 1][1]))
            spans_b.append((sb[block.b][0], sb[block.b + block.size - 1][1]))
    return spans_a, spans_b


def covered_fraction(text: str, spans: list[Span]) -> float:
    """Share of the text's non-space characters inside ``spans``."""
    total = sum(1 for c in text if not c.isspace())
    inside = sum(1 for start, end in spans for c in text[start:end] if not c.isspace())
    return inside / total if total else 0.0


def segments(text: str, spans: list[Span]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, highlighted) pairs; overlapping or unordered spans are merged."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merged:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def excerpt(text: str, span: Span, context: int = 240) -> tuple[str, Span, bool, bool]:
    """A window of ``text`` around ``span``: (window, span within it, cut at start, cut at end)."""
    start, end = max(0, span[0]), min(len(text), span[1])
    lo, hi = max(0, start - context), min(len(text), end + context)
    return text[lo:hi], (start - lo, end - lo), lo > 0, hi < len(text)
