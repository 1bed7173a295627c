"""URL canonicalisation and link filtering (courlan / w3lib), pure functions."""

from __future__ import annotations

from urllib.parse import urlsplit

import courlan
from w3lib.url import canonicalize_url


def canonical_url(url: str) -> str:
    """Normalise ``url`` for fetching and storing: tracking parameters and fragment removed,
    host lower-cased, query sorted. Unparseable URLs are returned unchanged."""
    try:
        cleaned = courlan.normalize_url(url, strict=True)
    except (ValueError, TypeError):
        return url
    return canonicalize_url(cleaned, keep_fragments=False)


def host_of(url: str) -> str:
    """The lower-cased host name of ``url`` ('' when there is none)."""
    return (urlsplit(url).hostname or "").lower()


def same_site(a: str, b: str) -> bool:
    """Whether two URLs share a host, ignoring a leading ``www.``."""
    return host_of(a).removeprefix("www.") == host_of(b).removeprefix("www.")


def is_article_candidate(url: str, base: str) -> bool:
    """Whether a link found on a start page of ``base`` is worth fetching as an article:
    same site, http(s), not a navigation/tag/author page, not a login or feed page."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not same_site(url, base):
        return False
    path = parts.path
    if path in ("", "/") or path.endswith((".xml", ".rss", ".atom", ".json", ".pdf", ".jpg", ".png")):
        return False
    return not (courlan.is_navigation_page(url) or courlan.is_not_crawlable(url))
