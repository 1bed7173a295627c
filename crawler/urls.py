"""URL canonicalisation and link filtering (courlan / w3lib), pure functions."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan
from w3lib.url import canonicalize_url

# Query parameters that only say how a reader arrived (campaign, click and session ids): every
# other parameter may identify the article (index.jsp?storyID=331300, ?p=, ?newsid=, ?xml=/news/...).
# courlan's strict mode keeps only the few it knows and its lax mode drops any name starting
# with "ga", "gl" or "ref" (gallery, global, reference): neither is safe for a storage key.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "wbraid",
    "gbraid", "mkt_tok", "_ga", "_gl", "xtor", "ocid", "ref_src", "ref_url", "spm", "smid",
    "cmpid", "s_cid", "_hsenc", "_hsmi", "phpsessid", "jsessionid", "aspsessionid",
})
TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "mtm_", "matomo_", "hsa_", "ns_", "oly_", "vero_",
                     "itm_", "ga_", "fb_", "wt.")


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter is a known tracker (it never identifies content)."""
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


#: Session ids carried as path parameters (``/a.html;jsessionid=B01B…``): one article, many URLs.
_SESSION_PATH_PARAM_RE = re.compile(r";(?:jsessionid|phpsessid|sid|sessionid)=[^/;?]*", re.I)


def canonical_url(url: str) -> str:
    """Normalise ``url`` for fetching and storing: tracking parameters, session path parameters
    and fragment removed, host lower-cased, default port dropped, dot segments resolved, query
    sorted; every other parameter kept. The path is otherwise left as the site wrote it: other
    ``;`` parameters identify articles (``…-krebs;art114,3177663``; courlan escaped the ``;``,
    a URL the server does not know) and a ``//`` inside a path may be part of it
    (``web.archive.org/web/2019…/http://…``; courlan collapsed it). Unparseable URLs are returned
    unchanged."""
    try:
        parts = urlsplit(url)
        origin = courlan.normalize_url(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
        path = "/" + _SESSION_PATH_PARAM_RE.sub("", parts.path).lstrip("/")
        base = urljoin(origin.rstrip("/") + "/", path)  # RFC 3986 dot segments
    except (ValueError, TypeError):
        return url
    query = "&".join(pair for pair in parts.query.split("&")
                     if pair and not is_tracking_param(pair.split("=", 1)[0]))
    return canonicalize_url(f"{base}?{query}" if query else base, keep_fragments=False)


#: The only schemes the crawler requests: a file:// or ftp:// link in someone else's sitemap must
#: never make the crawler read it.
FETCHABLE_SCHEMES = ("http", "https")


def unfetchable(url: str) -> str | None:
    """Why ``url`` cannot be requested ("is not an http(s) URL", "has no host", "is not a valid
    URL (…)"), or None. Scrapy raises on a port out of range or a broken IPv6 literal when it
    builds the request, and fails a host with spaces as a network fault, run after run."""
    if url != url.strip():
        return "is not a valid URL (spaces around it)"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port out of range or not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in FETCHABLE_SCHEMES:
        return "is not an http(s) URL"
    if not parts.hostname:
        return "has no host"
    if any(c.isspace() or c in '<>"{}|\\^`' or not c.isprintable() for c in parts.netloc):
        return "is not a valid URL (a space or a stray character in its host)"
    return None


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
