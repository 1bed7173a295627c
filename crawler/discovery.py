"""Link discovery, pure functions of response bodies: feeds, sitemaps, start pages."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from parsel import Selector

from crawler.urls import is_article_candidate


@dataclass(frozen=True)
class Link:
    """A URL to fetch, with what the feed or sitemap said about it."""

    url: str
    title: str | None = None
    published: str | None = None  #: ISO 8601 as given
    language: str | None = None
    news: bool = False  #: from a Google News sitemap (``news:publication_date`` given)


@dataclass(frozen=True)
class SitemapDoc:
    """A parsed sitemap: either an index of sitemaps or a set of page URLs."""

    is_index: bool
    links: tuple[Link, ...]


class DiscoveryError(ValueError):
    """A feed or sitemap that cannot be parsed."""


def parse_json_feed(body: bytes, base_url: str) -> list[Link]:
    """Items of a JSON Feed 1.x document (feedparser 6 reads only XML feeds)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DiscoveryError(f"not a JSON feed: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise DiscoveryError("not a JSON feed: no jsonfeed.org version")
    links = []
    for item in doc.get("items") or []:
        href = isinstance(item, dict) and (item.get("url") or item.get("external_url"))
        if isinstance(href, str) and href:
            links.append(
                Link(
                    url=urljoin(base_url, href),
                    title=item.get("title") or None,
                    published=item.get("date_published") or item.get("date_modified") or None,
                    language=item.get("language") or doc.get("language") or None,
                )
            )
    return links


def parse_feed(body: bytes, base_url: str) -> list[Link]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom (feedparser) or JSON Feed document."""
    if body.lstrip()[:1] == b"{":
        return parse_json_feed(body, base_url)
    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    if parsed.bozo and not parsed.entries:
        raise DiscoveryError(f"not a feed: {parsed.get('bozo_exception', 'unparseable')}")
    links: list[Link] = []
    for entry in parsed.entries:
        href = entry.get("link") or _first_alternate(entry)
        if not href:
            continue
        links.append(
            Link(
                url=urljoin(base_url, href),
                title=entry.get("title") or None,
                published=_feed_date(entry),
                language=parsed.feed.get("language") or None,
            )
        )
    return links


def _first_alternate(entry: dict) -> str | None:
    for link in entry.get("links", ()):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return None


def _feed_date(entry: dict) -> str | None:
    struct = entry.get("published_parsed") or entry.get("updated_parsed")
    if not struct:
        return None
    return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC).isoformat()


_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_sitemap(body: bytes, base_url: str) -> SitemapDoc:
    """A sitemap (``urlset``) or sitemap index, keeping Google News fields
    (``news:publication_date``, ``news:title``, ``news:language``) that Scrapy's parser drops."""
    try:
        root = etree.fromstring(body, parser=_SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"not a sitemap: {exc}") from exc
    if root is None or _local(root.tag) not in ("urlset", "sitemapindex"):
        raise DiscoveryError("not a sitemap: root element is not urlset or sitemapindex")
    is_index = _local(root.tag) == "sitemapindex"
    links: list[Link] = []
    for entry in root:
        if _local(entry.tag) not in ("url", "sitemap"):
            continue
        fields: dict[str, str] = {}
        for child in entry.iter():
            name = _local(child.tag)
            if child is not entry and child.text and child.text.strip():
                fields.setdefault(name, child.text.strip())
        loc = fields.get("loc")
        if not loc:
            continue
        links.append(
            Link(
                url=urljoin(base_url, loc),
                title=fields.get("title"),
                published=fields.get("publication_date") or fields.get("lastmod"),
                language=fields.get("language"),
                news="publication_date" in fields,
            )
        )
    return SitemapDoc(is_index=is_index, links=tuple(links))


def page_links(html: str, base_url: str) -> list[str]:
    """Article candidates linked from a start (listing) page, in page order, without repeats."""
    selector = Selector(text=html)
    base = selector.css("base::attr(href)").get() or base_url
    seen: set[str] = set()
    out: list[str] = []
    for href in selector.css("a::attr(href)").getall():
        url = urljoin(base, href.strip())
        url = url.split("#", 1)[0]
        if url not in seen and is_article_candidate(url, base_url):
            seen.add(url)
            out.append(url)
    return out


def feed_links_in_page(html: str, base_url: str) -> list[str]:
    """Feeds a page advertises with ``<link rel="alternate" type="application/rss+xml">`` etc."""
    selector = Selector(text=html)
    types = ("application/rss+xml", "application/atom+xml", "application/feed+json")
    out = []
    for link in selector.css("link[rel~=alternate]"):
        if (link.attrib.get("type") or "").lower() in types and link.attrib.get("href"):
            out.append(urljoin(base_url, link.attrib["href"]))
    return out


def robots_sitemaps(body: bytes, base_url: str) -> list[str]:
    """URLs of the ``Sitemap:`` lines of a robots.txt, absolute, in order, without repeats."""
    out: list[str] = []
    for raw in body.decode("utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "sitemap" and value.strip():
            url = urljoin(base_url, value.strip())
            if url.startswith(("http://", "https://")) and url not in out:
                out.append(url)
    return out


def robots_url(url: str) -> str:
    """The robots.txt of ``url``'s origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"
