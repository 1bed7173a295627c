"""Page metadata from structured markup: JSON-LD, OpenGraph/meta tags, <time>, <link>."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import extract_title
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report|NewsArticle|WebPage)$", re.I)
_STRICT_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report)$", re.I)
_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)
_HAS_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# meta names that carry the author (a subset of trafilatura's METANAME_AUTHOR)
_AUTHOR_META = (
    "author",
    "article:author",
    "byl",
    "parsely-author",
    "sailthru.author",
    "dc.creator",
    "dcterms.creator",
    "citation_author",
)
_BYLINE_MAX_CHARS = 120
_ALNUM_RE = re.compile(r"[\W_]+")
# " - Site", " | Site", " – Site", " › Site" ... around a headline in <title> or og:title
_TITLE_SEP_RE = re.compile(r"\s+(?:[-|–—›»:·•]|::)\s+")


@dataclass(frozen=True, slots=True)
class PageMeta:
    """Metadata stated by the page itself (each field None when absent)."""

    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601 with time, from JSON-LD or meta tags
    published_weak: str | None = None  # first <time datetime>: may belong to a teaser
    sitename: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    declares_article: bool = False  # og:type article, JSON-LD *Article, article:published_time


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def normalize_datetime(value: str | None) -> str | None:
    """ISO 8601 string with a time of day, or None if `value` has no parseable time."""
    if not value or not _HAS_TIME_RE.search(value):
        return None
    text = value.strip().replace(" ", "T", 1)
    text = re.sub(r"Z$", "+00:00", text)
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.isoformat()


def _jsonld_objects(tree: HtmlElement) -> list[dict]:
    objs: list[dict] = []
    for node in tree.iterfind(".//script[@type]"):
        if "ld+json" not in (node.get("type") or "").lower() or not node.text:
            continue
        try:
            data = json.loads(node.text)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objs.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
    return objs


def _is_article(obj: dict, pattern: re.Pattern[str] = _ARTICLE_TYPES) -> bool:
    types = obj.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and pattern.search(t) for t in types)


def _person_names(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if (name := _clean(name)) and not name.startswith("http"):
            names.append(name)
    return names


def _meta_content(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.iterfind(".//meta"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").lower()
        content = _clean(node.get("content"))
        if key and content and key not in found:
            found[key] = content
    return found


def _language(tree: HtmlElement, meta: dict[str, str], ld: list[dict]) -> str | None:
    candidates = [tree.get("lang"), tree.get("xml:lang"), meta.get("og:locale")]
    candidates += [obj.get("inLanguage") for obj in ld]
    candidates.append(meta.get("content-language"))
    for value in candidates:
        if isinstance(value, str) and (m := re.match(r"\s*([A-Za-z]{2,3})\b", value)):
            return m.group(1).lower()
    return None


def read_metadata(tree: HtmlElement, url: str) -> PageMeta:
    """Metadata the page states explicitly, preferring JSON-LD, then meta tags."""
    ld = [obj for obj in _jsonld_objects(tree) if _is_article(obj)]
    meta = _meta_content(tree)
    declares_article = (
        (meta.get("og:type") or "").lower() == "article"
        or "article:published_time" in meta
        or any(_is_article(obj, _STRICT_ARTICLE_TYPES) for obj in ld)
    )
    http_equiv = {
        (n.get("http-equiv") or "").lower(): n.get("content") or ""
        for n in tree.iterfind(".//meta[@http-equiv]")
    }
    if "content-language" in http_equiv:
        meta.setdefault("content-language", http_equiv["content-language"])

    published = None
    for obj in ld:
        published = published or normalize_datetime(_clean(obj.get("datePublished")))
    for key in _DATE_META:
        published = published or normalize_datetime(meta.get(key))
    published_weak = None
    for node in tree.iterfind(".//time[@datetime]"):
        if published_weak := normalize_datetime(node.get("datetime")):
            break

    title = next((t for obj in ld if (t := _clean(obj.get("headline")))), None)
    title = title or meta.get("og:title") or meta.get("twitter:title")
    authors = next((names for obj in ld if (names := _person_names(obj.get("author")))), [])
    author = "; ".join(authors) or next((meta[k] for k in _AUTHOR_META if k in meta), None)
    if author and author.startswith("http"):
        author = None
    sitename = meta.get("og:site_name")
    if sitename is None:
        for obj in ld:
            names = _person_names(obj.get("publisher"))
            if names:
                sitename = names[0]
                break

    canonical = None
    for node in tree.iterfind(".//link[@rel]"):
        if "canonical" in (node.get("rel") or "").lower().split() and node.get("href"):
            canonical = node.get("href").strip()
            break
    canonical = canonical or meta.get("og:url")
    if canonical:
        canonical = urljoin(url, canonical)
    return PageMeta(
        title=title,
        author=author,
        published=published,
        published_weak=published_weak,
        sitename=sitename,
        language=_language(tree, meta, ld),
        canonical_url=canonical,
        declares_article=declares_article,
    )


def _key(text: str) -> str:
    return _ALNUM_RE.sub("", text).casefold()


def strip_site_suffix(title: str, sitename: str | None = None) -> str:
    """A title without its site decoration ("Headline | Site" -> "Headline").

    With `sitename`, only a part naming the site is dropped; without, the longest part
    is kept (for <title>, which is decorated more often than not).
    """
    parts = [p for p in _TITLE_SEP_RE.split(title) if p]
    if len(parts) < 2:
        return title
    if sitename is None:
        return max(parts, key=len)
    site = _key(sitename)
    kept = [p for p in parts if _key(p) != site]
    return kept[0] if len(kept) == 1 else title


def choose_title(
    h1: str | None,
    stated: str | None,
    guessed: str | None = None,
    title_element: str | None = None,
    sitename: str | None = None,
) -> str | None:
    """The headline, from the page's only <h1>, its stated title, heuristics, <title>.

    Pages state SEO variants and site-decorated titles in JSON-LD/OpenGraph; the single
    visible <h1> is what readers (and labellers) see. When the stated title is a part of
    the <h1>, the <h1> carries a kicker ("Analysis Headline"): the stated one wins.
    `guessed` (trafilatura's title heuristics) and <title> only serve when neither exists.
    """
    if stated:
        stated = strip_site_suffix(stated, sitename)
    if h1 and stated:
        vis, sta = _key(h1), _key(stated)
        return stated if sta and sta in vis and sta != vis else h1
    site = _key(sitename) if sitename else None
    for candidate in (h1, stated, guessed):
        if candidate and _key(candidate) != site:
            return candidate
    return strip_site_suffix(title_element) if title_element else None


def single_h1(tree: HtmlElement) -> str | None:
    """Text of the page's <h1> when it has exactly one."""
    found = tree.findall(".//h1")
    return _clean(found[0].text_content()) if len(found) == 1 else None


def visible_title(tree: HtmlElement) -> str | None:
    """The page's headline as displayed (trafilatura's h1/title heuristics)."""
    return _clean(extract_title(tree))


def title_element(tree: HtmlElement) -> str | None:
    """Text of <head><title>."""
    node = tree.find(".//head//title")
    return _clean(node.text_content()) if node is not None else None


def _text_outside(elem: HtmlElement, skip: set[HtmlElement]) -> str:
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node in skip:
            return
        if isinstance(node.tag, str) and node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(elem)
    return " ".join(" ".join(parts).split())


def byline_author(tree: HtmlElement) -> str | None:
    """Author from byline markup (rel=author, class=author...), outside comments and figures.

    trafilatura's extract_author without its deep copy of the tree, which costs more
    than the rest of the metadata step: discarded subtrees are skipped instead of cut.
    """
    skip: set[HtmlElement] | None = None  # computed once a candidate exists
    for xpath in AUTHOR_XPATHS:
        for node in xpath(tree):
            if skip is None:
                skip = {found for discard in AUTHOR_DISCARD_XPATHS for found in discard(tree)}
            if node in skip or any(a in skip for a in node.iterancestors()):
                continue
            content = _text_outside(node, skip)
            if 2 < len(content) < _BYLINE_MAX_CHARS:
                return normalize_authors(None, content)
    return None


def is_site_name(author: str, sitename: str | None, url: str | None) -> bool:
    """True when an "author" is the outlet itself (site name or domain), not a person."""
    key = _key(author)
    if not key:
        return True
    names = {_key(sitename), _key(sitename.rsplit(".", 1)[0])} if sitename else set()
    host = (urlsplit(url).hostname or "") if url else ""
    if host:
        host = host.removeprefix("www.")
        names |= {_key(host), _key(host.rsplit(".", 1)[0])}
    return key in names


def drop_site_authors(author: str | None, sitename: str | None, url: str | None) -> str | None:
    """Author names without the ones that are the outlet itself; None if nothing is left."""
    if not author:
        return None
    names = [n for n in author.split("; ") if not is_site_name(n, sitename, url)]
    return "; ".join(names) or None
