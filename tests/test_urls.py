"""canonical_url: the storage key keeps every parameter that may identify an article."""

from __future__ import annotations

import pytest

from crawler.urls import canonical_url, is_tracking_param


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # issue 14: courlan's strict mode made these one key, and one article replaced the other
        ("http://www.example.com/sports/index.jsp?storyID=331300",
         "http://www.example.com/sports/index.jsp?storyID=331198"),
        ("http://blog.example.com/?p=1021", "http://blog.example.com/?p=1022"),
        ("http://news.example.com/view.php?newsid=77", "http://news.example.com/view.php?newsid=78"),
        ("http://www.example.co.uk/news/main.jhtml?xml=/news/2008/03/01/wfire101.xml",
         "http://www.example.co.uk/news/main.jhtml?xml=/news/2008/03/01/wrail101.xml"),
        ("http://example.com/article?id=5&page=1", "http://example.com/article?id=5&page=2"),
        ("http://example.com/photos?gallery=12", "http://example.com/photos?gallery=13"),
        ("http://example.com/story.asp?cid=901", "http://example.com/story.asp?cid=902"),
    ],
)
def test_content_parameters_keep_articles_apart(first: str, second: str) -> None:
    assert canonical_url(first) != canonical_url(second)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://News.Example/a.html?utm_source=x&id=3&fbclid=9#top", "https://news.example/a.html?id=3"),
        ("http://example.com:80/index.jsp?utm_medium=rss&storyID=331300&utm_campaign=feed",
         "http://example.com/index.jsp?storyID=331300"),
        ("http://example.com/a?gclid=1&mc_cid=2&mc_eid=3&_ga=4&msclkid=5&PHPSESSID=6",
         "http://example.com/a"),
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/a/../b?xml=/news/x.xml", "http://example.com/b?xml=%2Fnews%2Fx.xml"),
    ],
)
def test_tracking_parameters_and_fragments_dropped(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_tracking_params_are_only_known_trackers() -> None:
    for name in ("utm_source", "UTM_Campaign", "fbclid", "gclid", "mc_cid", "pk_kwd", "ns_mchannel"):
        assert is_tracking_param(name), name
    for name in ("id", "p", "storyID", "newsid", "xml", "cid", "gallery", "ref", "page", "sid"):
        assert not is_tracking_param(name), name


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # issue 14a: courlan escaped ';' (a URL the server does not know: the crawl fetched it)
        ("https://www.nachrichten.at/gesundheit/therapien-bei-krebs;art114,3177663",
         "https://www.nachrichten.at/gesundheit/therapien-bei-krebs;art114,3177663"),
        # ... and collapsed the '//' of an archived URL inside the path
        ("https://web.archive.org/web/20190717140047/http://www.example.de/paris",
         "https://web.archive.org/web/20190717140047/http://www.example.de/paris"),
        # a session id in a path parameter is not part of the article's address
        ("https://www.bafa.de/DE/info.html;jsessionid=B01BDCE4530E.2_cid390?b=2&a=1",
         "https://www.bafa.de/DE/info.html?a=1&b=2"),
        ("https://Example.com:443//a/./b/../c.html", "https://example.com/a/c.html"),
        ("http://example.com", "http://example.com/"),
    ],
)
def test_path_kept_as_the_site_wrote_it(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_one_article_one_key_and_two_articles_two_keys() -> None:
    session = "https://www.bund.example/DE/a.html;jsessionid={}"
    assert canonical_url(session.format("AAA1")) == canonical_url(session.format("BBB2"))
    archived = "https://web.archive.org/web/2016/http://{}.example/story"
    assert canonical_url(archived.format("one")) != canonical_url(archived.format("two"))
