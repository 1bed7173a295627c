"""Page metadata from structured markup: JSON-LD, OpenGraph/meta tags, <time>, <link>."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from lxml.html import HtmlElement

_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report|NewsArticle|WebPage)$", re.I)
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


def _is_article(obj: dict) -> bool:
    types = obj.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and _ARTICLE_TYPES.search(t) for t in types)


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
    author = "; ".join(authors) or meta.get("author") or meta.get("article:author")
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
    )
