"""Bytes -> str for fetched pages: BOM, HTTP charset, <meta charset>, then detection."""

from __future__ import annotations

import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

# Single-byte legacy codecs that servers often declare for pages that are really UTF-8.
# w3lib already maps latin-1/ascii -> cp1252 as browsers do.
_UTF8_SUSPECT_DECLARED = frozenset({"cp1252", "iso8859-15", "cp874", "cp1251", "cp1250"})
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/xml", "application/xml", "text/plain")
_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"OggS",
    b"ID3",
)
_SNIFF_BYTES = 4096
# WHATWG MIME sniffing's HTML signatures (and a few more tags): a page may open with a comment,
# a script, a style block or a PHP warning ("<br />\n<b>Deprecated</b>") before <html>.
_MARKUP_RE = re.compile(
    rb"<(?:!--|\s*(?:!doctype|html|head|body|meta|title|div|p|article|script|style|table|iframe"
    rb"|h1|font|a|b|br|span|link)\b)",
    re.I,
)
_DECLARED_HTML = frozenset({"text/html", "application/xhtml+xml"})
#: Types that say nothing about the body (WHATWG MIME sniffing's "unknown" types, and the generic
#: binary type misconfigured servers and object stores send for every file): the body decides,
#: as for a missing Content-Type.
_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream",
                            "application/unknown", "unknown/unknown", "*/*"})


class UndecodableError(ValueError):
    """The body is not text we can treat as HTML; `reason` is a NotAnArticle slug."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded page text and how it was decoded."""

    text: str
    encoding: str
    source: str  # "bom", "header", "meta", "utf8-override", "detected", "default"


def check_html(body: bytes, content_type: str | None) -> None:
    """Raise UndecodableError("binary"|"not_html") for bodies that are not HTML.

    A body served as text/html is HTML if markup appears anywhere in it (whatever text, script
    or comment comes first); without a type, or with one that says nothing
    (application/octet-stream), the first bytes must show markup; any other type (an image, a
    PDF, JSON) is not HTML.
    """
    head = body[:_SNIFF_BYTES]
    bom_enc, _ = read_bom(head)
    if head.startswith(_BINARY_MAGIC) or (bom_enc is None and b"\x00" in head):
        raise UndecodableError("binary")
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime not in _UNKNOWN_TYPES and not mime.startswith(_HTML_TYPES):
        raise UndecodableError("not_html")
    if bom_enc is None and not _MARKUP_RE.search(body if mime in _DECLARED_HTML else head):
        raise UndecodableError("not_html")


def _is_utf8_with_multibyte(body: bytes) -> bool:
    """True if `body` is strictly valid UTF-8 and not plain ASCII."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect(body: bytes) -> str | None:
    """charset-normalizer's guess; ties go to Windows-1252, the web's default codec."""
    matches = from_bytes(body[:200_000])
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if match.encoding in {"cp1252", "latin_1"} and match.chaos <= best.chaos + 0.01:
            return "cp1252"
    return resolve_encoding(best.encoding)


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML body the way a browser would, correcting known server lies.

    Order: BOM, HTTP ``charset``, ``<meta charset>``, then charset-normalizer; an HTTP UTF-8
    the bytes refute gives way to the ``<meta>`` declaration.
    Legacy aliases are widened to their supersets by w3lib (latin-1 -> cp1252,
    gb2312/gbk -> gb18030, shift_jis -> cp932, euc-kr -> cp949). A single-byte
    declaration on a body that is valid multi-byte UTF-8 is overridden to UTF-8:
    legacy text is practically never valid UTF-8 by accident.
    """
    bom_enc, bom = read_bom(body)
    if bom_enc is not None and bom is not None:
        return Decoded(to_unicode(body[len(bom) :], bom_enc), bom_enc, "bom")
    declared, source = http_content_type_encoding(content_type), "header"
    if declared is None:
        declared, source = html_body_declared_encoding(body), "meta"
    if declared in {"utf-16", "utf-32"}:
        declared += "-be"
    if declared is not None and declared != "utf-8":
        if declared in _UTF8_SUSPECT_DECLARED and _is_utf8_with_multibyte(body):
            return Decoded(body.decode("utf-8"), "utf-8", "utf8-override")
        return Decoded(to_unicode(body, declared), declared, source)
    if body.isascii() or _is_utf8_with_multibyte(body):
        return Decoded(body.decode("utf-8"), "utf-8", source if declared else "detected")
    # Declared UTF-8 (or nothing) but invalid UTF-8: a few stray bytes in a UTF-8
    # page keep UTF-8; a page with no valid multi-byte sequence at all is legacy.
    if declared == "utf-8" and _has_utf8_multibyte(body):
        return Decoded(to_unicode(body, "utf-8"), "utf-8", source)
    # A header's UTF-8 the bytes refute (a server default over legacy pages): the page's own
    # <meta> says what it is ("iso-8859-2", which detection takes for Windows-1252).
    meta = html_body_declared_encoding(body) if source == "header" else None
    if meta is not None and meta not in {"utf-8", "utf-16", "utf-32"}:
        return Decoded(to_unicode(body, meta), meta, "meta")
    detected = _detect(body)
    if detected is None:
        return Decoded(to_unicode(body, "cp1252"), "cp1252", "default")
    return Decoded(to_unicode(body, detected), detected, "detected")


_UTF8_SEQ_RE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")


def _has_utf8_multibyte(body: bytes) -> bool:
    """True if most high bytes of `body` sit in well-formed UTF-8 sequences."""
    seq_bytes = sum(len(m) for m in _UTF8_SEQ_RE.findall(body))
    high = len(_HIGH_BYTE_RE.findall(body))
    return high > 0 and seq_bytes / high >= 0.5
