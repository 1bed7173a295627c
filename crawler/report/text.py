"""Hostile article text made safe to show: invisible controls made visible, URLs vetted."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

#: C0/C1 controls (except tab and newline), zero-width and bidirectional formatting characters:
#: they can hide or reorder text (U+202E turns "gpj.exe" into "exe.jpg") or drive a terminal.
CONTROL_CHARS = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in its number: "1 story", "2 stories"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def control_name(char: str) -> str:
    return f"U+{ord(char):04X}"


def visible_controls(text: str | None) -> str:
    """Plain text with each control character replaced by a visible ``⟨U+XXXX⟩``."""
    return CONTROL_CHARS.sub(lambda m: f"⟨{control_name(m.group())}⟩", text or "")


def html_text(text: str | None) -> Markup:
    """HTML-escaped text whose control characters are shown as marked ``U+XXXX`` tokens."""
    escaped = str(escape(text or ""))
    return Markup(CONTROL_CHARS.sub(
        lambda m: f'<span class="ctl" title="invisible control character">{control_name(m.group())}</span>',
        escaped,
    ))


def safe_href(url: str | None) -> str | None:
    """The URL if it is plain http(s) and safe to link; None otherwise (shown as text only)."""
    if not url or CONTROL_CHARS.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def spreadsheet_safe(value: str | None) -> str:
    """A CSV cell that a spreadsheet will not evaluate as a formula (OWASP CSV injection)."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
