"""Link discovery: feeds of every flavour, sitemaps with Google News fields, start pages, URLs."""

from __future__ import annotations

import json

import pytest

from crawler.discovery import (
    DiscoveryError,
    feed_links_in_page,
    page_links,
    parse_feed,
    parse_sitemap,
)
from crawler.urls import canonical_url, is_article_candidate

RSS2 = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<language>en</language>
<item><title>First</title><link>https://news.example/2026/01/02/first.html</link>
<pubDate>Fri, 02 Jan 2026 10:04:00 +0100</pubDate></item>
<item><title>Relative</title><link>/2026/01/03/second.html</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>A</title><entry><title>Atom entry</title>
<link rel="alternate" href="https://atom.example/a/1"/><updated>2026-02-01T08:00:00Z</updated>
<id>urn:1</id></entry></feed>"""

RSS1 = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://r.example/"><title>R</title>
<link>https://r.example/</link></channel>
<item rdf:about="https://r.example/story-1"><title>RDF item</title>
<link>https://r.example/story-1</link></item></rdf:RDF>"""

JSONFEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "J",
    "items": [{"id": "1", "url": "https://j.example/posts/1", "title": "Json item",
               "date_published": "2026-03-01T12:00:00Z"}],
}).encode()


def test_rss2_entries_with_dates_and_relative_links() -> None:
    links = parse_feed(RSS2, "https://news.example/feed.xml")
    assert [link.url for link in links] == [
        "https://news.example/2026/01/02/first.html",
        "https://news.example/2026/01/03/second.html",
    ]
    assert links[0].title == "First"
    assert links[0].published == "2026-01-02T09:04:00+00:00"
    assert links[0].language == "en"
    assert links[1].published is None


@pytest.mark.parametrize(
    ("body", "url", "title"),
    [(ATOM, "https://atom.example/a/1", "Atom entry"),
     (RSS1, "https://r.example/story-1", "RDF item"),
     (JSONFEED, "https://j.example/posts/1", "Json item")],
)
def test_atom_rss1_and_json_feed(body: bytes, url: str, title: str) -> None:
    links = parse_feed(body, "https://x.example/feed")
    assert [(link.url, link.title) for link in links] == [(url, title)]


def test_invalid_feed_is_an_error_not_a_crash() -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(b"\x89PNG\r\n\x1a\n binary", "https://x.example/feed")


def test_google_news_sitemap_keeps_news_fields() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://n.example/2026/ai-plan.html</loc>
  <news:news><news:publication><news:name>N</news:name><news:language>zh</news:language>
  </news:publication><news:publication_date>2026-02-24T08:00:00+08:00</news:publication_date>
  <news:title>Alibaba to invest 380bn yuan</news:title></news:news></url>
 <url><loc>https://n.example/plain.html</loc><lastmod>2026-01-01</lastmod></url>
</urlset>"""
    doc = parse_sitemap(body, "https://n.example/news-sitemap.xml")
    assert not doc.is_index
    first, second = doc.links
    assert first.url == "https://n.example/2026/ai-plan.html"
    assert first.title == "Alibaba to invest 380bn yuan"
    assert first.published == "2026-02-24T08:00:00+08:00"
    assert first.language == "zh"
    assert second.published == "2026-01-01"


def test_sitemap_index_and_garbage() -> None:
    body = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://n.example/s1.xml</loc></sitemap></sitemapindex>"""
    doc = parse_sitemap(body, "https://n.example/sitemap.xml")
    assert doc.is_index and [link.url for link in doc.links] == ["https://n.example/s1.xml"]
    with pytest.raises(DiscoveryError):
        parse_sitemap(b"<html><body>not a sitemap</body></html>", "https://n.example/x")


def test_sitemap_parser_does_not_expand_entities() -> None:
    body = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://n.example/&e;</loc>
</url></urlset>"""
    doc = parse_sitemap(body, "https://n.example/sitemap.xml")
    assert all("root:" not in link.url for link in doc.links)


def test_start_page_links_are_same_site_articles_only() -> None:
    html = """<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">
    </head><body>
    <a href="/2026/03/01/story.html#comments">story</a>
    <a href="/2026/03/01/story.html">again</a>
    <a href="https://other.example/2026/x.html">elsewhere</a>
    <a href="/tag/ai/">tag</a><a href="/login">login</a><a href="/">home</a>
    <a href="mailto:x@y.z">mail</a><a href="/feed.xml">feed</a>
    </body></html>"""
    assert page_links(html, "https://site.example/") == ["https://site.example/2026/03/01/story.html"]
    assert feed_links_in_page(html, "https://site.example/") == ["https://site.example/feed.xml"]


def test_canonical_url_strips_tracking_and_fragment() -> None:
    assert (canonical_url("https://News.Example/a.html?utm_source=x&id=3&fbclid=9#top")
            == "https://news.example/a.html?id=3")
    assert is_article_candidate("https://s.example/2026/01/a.html", "https://s.example/")
    assert not is_article_candidate("https://s.example/category/ai/", "https://s.example/")


def test_robots_sitemaps() -> None:
    from crawler.discovery import robots_sitemaps, robots_url

    body = (b"User-agent: *\nDisallow: /x/\nSitemap: https://a.example/s1.xml\n"
            b"sitemap:/s2.xml.gz # relative\nSITEMAP: https://a.example/s1.xml\nSitemap:\n")
    assert robots_sitemaps(body, "https://a.example/robots.txt") == [
        "https://a.example/s1.xml", "https://a.example/s2.xml.gz"]
    assert robots_url("https://a.example:8080/feed/?x=1") == "https://a.example:8080/robots.txt"
