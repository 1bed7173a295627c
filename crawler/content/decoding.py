"""Bytes -> str for fetched pages: BOM, HTTP charset, <meta charset>, then detection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from chardetng_py import detect as chardetng_detect
from charset_normalizer.md import mess_ratio
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
    unicode = read_bom(head)[0] is not None or utf16_order(head) is not None
    if head.startswith(_BINARY_MAGIC) or (
            not unicode and head.count(0) > _MAX_NUL_SHARE * len(head)):
        raise UndecodableError("binary")
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime not in _UNKNOWN_TYPES and not mime.startswith(_HTML_TYPES):
        raise UndecodableError("not_html")
    if not unicode and not _MARKUP_RE.search(body if mime in _DECLARED_HTML else head):
        raise UndecodableError("not_html")


#: Share of NUL bytes in the first bytes above which a body is binary: real pages carry a stray
#: NUL or some NUL padding (a CMS or a proxy bug), binary formats are full of them.
_MAX_NUL_SHARE = 0.02


def utf16_order(head: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for UTF-16 without a BOM, else None: markup is mostly
    ASCII, so the same byte of many pairs (a quarter at least) is NUL and the other never is."""
    if len(head) < 64:
        return None
    even, odd = head[0::2], head[1::2]
    for order, zeros, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= len(zeros) // 4 and other.count(0) <= len(other) // 100:
            return order
    return None


def _is_utf8_with_multibyte(body: bytes) -> bool:
    """True if `body` is strictly valid UTF-8 and not plain ASCII."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect(body: bytes, url: str | None) -> str:
    """What a browser takes an undeclared legacy page for: Firefox's detector (chardetng), told
    the URL's top-level domain as browsers tell it (a .pl page is more likely Windows-1250)."""
    tld = (urlsplit(url or "").hostname or "").rsplit(".", 1)[-1]
    hint = tld.encode() if tld.isascii() and tld.isalpha() else None
    return resolve_encoding(chardetng_detect(body, allow_utf8=False, tld=hint)) or "cp1252"


#: Enough of a page's non-ASCII words (each cut to its letters near the non-ASCII) to judge a
#: reading of it; mess_ratio's time grows fast with the length of what it is given.
_JUDGED_WORDS = 1000
_NON_ASCII_WORD_RE = re.compile(r"[^\s<>\"'=]{0,20}[^\x00-\x7f][^\s<>\"'=]{0,20}")


def _misreading(body: bytes, codec: str) -> float:
    """How wrong reading ``body`` as ``codec`` looks: the share of its non-ASCII words'
    characters that are undecodable, plus charset-normalizer's mess ratio of those words
    (accented capitals inside words, symbols among letters: "zg³osi³ siê", "ÕâÑùµÄ")."""
    text = to_unicode(body, codec)
    words = " ".join(_NON_ASCII_WORD_RE.findall(text)[:_JUDGED_WORDS])
    if not words:
        return 0.0
    return words.count("\ufffd") / len(words) + mess_ratio(words, maximum_threshold=1.0)


def _declared(body: bytes, content_type: str | None) -> tuple[str | None, str]:
    """The codec the page declares and where (``header``, ``meta``). When the header and the
    ``<meta>`` disagree, the one whose reading looks right wins (the header on a tie, as the
    spec has it): a server's default (``ISO-8859-1``, ``UTF-8``) is often not the page's."""
    header = http_content_type_encoding(content_type)
    meta = html_body_declared_encoding(body)
    if header is None:
        return meta, "meta"
    if meta is None or meta == header or meta in {"utf-16", "utf-32"} or body.isascii():
        return header, "header"
    if _misreading(body, meta) < _misreading(body, header):
        return meta, "meta"
    return header, "header"


def decode_html(body: bytes, content_type: str | None = None, url: str | None = None) -> Decoded:
    """Decode an HTML body the way a browser would, correcting known server lies.

    Order: BOM, UTF-16 without one (by its NUL bytes), the declared charset (HTTP ``charset``
    or ``<meta charset>``; when they disagree, the one whose reading looks right), then
    detection (chardetng, hinted by the ``url``'s top-level domain, as Firefox does).
    Legacy aliases are widened to their supersets by w3lib (latin-1 -> cp1252,
    gb2312/gbk -> gb18030, shift_jis -> cp932, euc-kr -> cp949). A single-byte
    declaration on a body that is valid multi-byte UTF-8 is overridden to UTF-8:
    legacy text is practically never valid UTF-8 by accident. NUL bytes are dropped.
    """
    decoded = _decode(body, content_type, url)
    if "\x00" in decoded.text:  # no character of a page; and PostgreSQL text cannot hold it
        return Decoded(decoded.text.replace("\x00", ""), decoded.encoding, decoded.source)
    return decoded


def _decode(body: bytes, content_type: str | None, url: str | None) -> Decoded:
    bom_enc, bom = read_bom(body)
    if bom_enc is not None and bom is not None:
        return Decoded(to_unicode(body[len(bom) :], bom_enc), bom_enc, "bom")
    order = utf16_order(body[:_SNIFF_BYTES])
    if order is not None:  # whatever a header says ("utf-16" names no byte order)
        return Decoded(to_unicode(body, order), order, "detected")
    declared, source = _declared(body, content_type)
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
    detected = _detect(body, url)
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
