"""Spider callbacks on hand-built responses: what is requested, what is yielded."""

from __future__ import annotations

import gzip

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler

from crawler.items import RawPage
from crawler.sources import Source
from crawler.spiders.news import NewsSpider

SOURCE = Source(name="wire", feeds=("https://wire.example/feed.xml",))


@pytest.fixture
def spider() -> NewsSpider:
    crawler = get_crawler(NewsSpider, {"NEWSDEDUP_SKIP_SEEN": False})
    spider = NewsSpider.from_crawler(crawler)
    spider.sources = [SOURCE]
    return spider


def response(url: str, body: bytes, cls: type[Response] = TextResponse, **meta: object) -> Response:
    request = Request(url, meta={"source": "wire", **meta})
    extra = {"encoding": "utf-8"} if issubclass(cls, TextResponse) else {}
    return cls(url=url, body=body, request=request,
               headers={"Content-Type": "text/html; charset=utf-8"}, **extra)


FEED = b"""<rss version="2.0"><channel><title>W</title>
<item><title>One</title><link>https://wire.example/2026/one.html?utm_source=rss</link>
<pubDate>Mon, 02 Mar 2026 10:00:00 +0000</pubDate></item>
<item><title>Two</title><link>https://wire.example/2026/two.html</link></item>
</channel></rss>"""


def test_feed_entries_become_article_requests_with_hints(spider: NewsSpider) -> None:
    requests = list(spider.parse_feed(response("https://wire.example/feed.xml", FEED)))
    assert [r.url for r in requests] == ["https://wire.example/2026/one.html",
                                         "https://wire.example/2026/two.html"]
    assert requests[0].meta["hint_title"] == "One"
    assert requests[0].meta["hint_published"] == "2026-03-02T10:00:00+00:00"
    assert requests[0].callback == spider.parse_article
    assert "wire" in spider.reached


def test_already_stored_urls_are_not_requested(spider: NewsSpider) -> None:
    spider.seen = {"https://wire.example/2026/one.html"}
    requests = list(spider.parse_feed(response("https://wire.example/feed.xml", FEED)))
    assert [r.url for r in requests] == ["https://wire.example/2026/two.html"]
    assert spider.crawler.stats.get_value("newsdedup/skipped_seen") == 1
    # the same URL from a second discovery path in this run is not queued twice
    again = list(spider.parse_feed(response("https://wire.example/feed.xml", FEED)))
    assert again == []


def test_invalid_feed_is_counted_as_a_source_failure(spider: NewsSpider) -> None:
    out = list(spider.parse_feed(response("https://wire.example/feed.xml", b"\x00\x01 not xml")))
    assert out == []
    assert spider.crawler.stats.get_value("newsdedup/invalid_feed") == 1
    assert "invalid feed" in spider.failures["wire"][0]


def test_gzipped_sitemap_index_and_urlset(spider: NewsSpider) -> None:
    index = gzip.compress(b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sitemap><loc>https://wire.example/s1.xml</loc></sitemap></sitemapindex>""")
    out = list(spider.parse_sitemap(response("https://wire.example/sitemap.xml.gz", index,
                                             cls=Response, depth=0)))
    assert [r.url for r in out] == ["https://wire.example/s1.xml"]
    assert out[0].callback == spider.parse_sitemap and out[0].meta["depth"] == 1
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <url><loc>https://wire.example/a.html</loc></url></urlset>"""
    out = list(spider.parse_sitemap(response("https://wire.example/s1.xml", urlset, depth=1)))
    assert [r.url for r in out] == ["https://wire.example/a.html"]


def test_article_response_becomes_a_raw_page(spider: NewsSpider) -> None:
    body = "<html><body><p>Über café – “quoted”</p></body></html>".encode()
    resp = response("https://wire.example/2026/one.html", body, cls=HtmlResponse,
                    hint_title="One", hint_published="2026-03-02T10:00:00+00:00")
    (page,) = list(spider.parse_article(resp))
    assert isinstance(page, RawPage)
    assert page.body == body  # raw bytes: decoding is the pipelines' job
    assert page.content_type == "text/html; charset=utf-8"
    assert page.source == "wire" and page.status == 200
    assert page.hint_title == "One"


def test_start_page_yields_itself_links_and_feeds(spider: NewsSpider) -> None:
    html = b"""<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml">
    </head><body><a href="/2026/03/x.html">x</a><a href="/tag/y">y</a></body></html>"""
    out = list(spider.parse_start(response("https://wire.example/", html, cls=HtmlResponse)))
    pages = [o for o in out if isinstance(o, RawPage)]
    urls = [o.url for o in out if isinstance(o, Request)]
    assert len(pages) == 1
    assert urls == ["https://wire.example/atom.xml", "https://wire.example/2026/03/x.html"]


# -- revalidation and robots.txt sitemaps ------------------------------------------------------
def _state(url: str, kind: str = "feed", **kw: object):
    from crawler.fetchstate import DocState

    return DocState(url=url, source="wire", kind=kind, **kw)


def test_documents_are_requested_with_validators_and_skipped_when_not_due(spider: NewsSpider) -> None:
    from datetime import timedelta

    feed = "https://wire.example/feed.xml"
    spider.states = {feed: _state(feed, etag='"v1"', last_modified="Sun, 01 Mar 2026 10:00:00 GMT")}
    (request,) = spider._doc_request(feed, SOURCE, "feed", spider.parse_feed)
    assert request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"If-Modified-Since"] == b"Sun, 01 Mar 2026 10:00:00 GMT"
    assert request.meta["handle_httpstatus_list"] == [304] and request.meta["doc_kind"] == "feed"
    assert list(spider._doc_request(feed, SOURCE, "feed", spider.parse_feed)) == []  # once per run
    refetch = NewsSpider.from_crawler(get_crawler(NewsSpider, {"NEWSDEDUP_REVALIDATE": False}))
    refetch.states = spider.states
    (unconditional,) = refetch._doc_request(feed, SOURCE, "feed", refetch.parse_feed)
    assert b"If-None-Match" not in unconditional.headers
    due_only = NewsSpider.from_crawler(get_crawler(NewsSpider, {"NEWSDEDUP_ONLY_DUE": True}))
    due_only.states = {feed: _state(feed, next_due=due_only.now + timedelta(minutes=5))}
    assert list(due_only._doc_request(feed, SOURCE, "feed", due_only.parse_feed)) == []
    assert due_only.crawler.stats.get_value("newsdedup/source/wire/not_due") == 1
    due_only.states = {feed: _state(feed, next_due=due_only.now)}
    due_only.queued_docs.clear()
    assert len(list(due_only._doc_request(feed, SOURCE, "feed", due_only.parse_feed))) == 1


def test_not_modified_sitemap_index_revalidates_its_known_children(spider: NewsSpider) -> None:
    index, child = "https://wire.example/sitemap.xml", "https://wire.example/s1.xml"
    spider.states = {index: _state(index, "sitemap"),
                     child: _state(child, "sitemap", parent=index, etag='"c"')}
    resp = Response(index, status=304, request=Request(index, meta={
        "source": "wire", "origin": index, "doc_kind": "sitemap", "depth": 0}))
    (request,) = list(spider.parse_sitemap(resp))
    assert request.url == child and request.headers[b"If-None-Match"] == b'"c"'
    assert request.meta["doc_parent"] == index and request.meta["depth"] == 1
    assert spider.outcomes[index].status == 304
    assert spider.crawler.stats.get_value("newsdedup/source/wire/not_modified") == 1


def test_a_failed_article_makes_its_feed_incomplete(spider: NewsSpider) -> None:
    from twisted.python.failure import Failure

    requests = list(spider.parse_feed(response("https://wire.example/feed.xml", FEED)))
    failure = Failure(TimeoutError("timed out"))
    failure.request = requests[0]
    spider.on_error(failure)
    assert spider.incomplete == {"https://wire.example/feed.xml"}


def test_robots_txt_sitemaps_become_sitemap_requests(spider: NewsSpider) -> None:
    body = b"User-agent: *\nDisallow: /private/\nSitemap: https://wire.example/news.xml\n"
    resp = response("https://wire.example/robots.txt", body,
                    origin="https://wire.example/robots.txt")
    (request,) = list(spider.parse_robots(resp))
    assert request.url == "https://wire.example/news.xml" and request.callback == spider.parse_sitemap
    assert request.meta["doc_parent"] == "https://wire.example/robots.txt"
    missing = Response("https://wire.example/robots.txt", status=404,
                       request=Request("https://wire.example/robots.txt", meta={"source": "wire"}))
    assert list(spider.parse_robots(missing)) == []


def test_a_callback_that_raises_is_a_failure_left_to_the_next_run(spider: NewsSpider) -> None:
    """Not Scrapy's traceback in a run recorded `ok` with exit status 0: the document's links after
    the one that raised were lost, and its validators kept them lost (a 304 next time)."""
    from crawler.middlewares import CallbackErrorMiddleware
    from crawler.runs import exit_status, left_over

    feed = response("https://wire.example/feed.xml", FEED, origin="https://wire.example/feed.xml",
                    doc_kind="feed")
    spider.crawler.spider = spider  # as the engine sets it
    middleware = CallbackErrorMiddleware.from_crawler(spider.crawler)
    assert middleware.process_spider_exception(feed, ValueError("Port out of range 0-65535")) == []
    stats = spider.crawler.stats
    assert stats.get_value("newsdedup/source/wire/spider_errors") == 1
    assert stats.get_value("newsdedup/source/wire/failed") == 1
    assert spider.failures["wire"] == ["https://wire.example/feed.xml: could not be read "
                                       "(ValueError: Port out of range 0-65535)"]
    assert spider.incomplete == {"https://wire.example/feed.xml"}
    assert exit_status("ok", left_over(stats.get_stats())) == 1


def test_a_failure_inside_the_http_client_is_one_readable_line() -> None:
    """The client's wrapped failures were shown as their repr ("[<twisted.python.failure.Failure
    twisted.internet.error.ConnectionDone: ...>]", "Error: [('SSL routines', ...)]")."""
    from OpenSSL.SSL import Error as TLSError
    from scrapy.exceptions import DownloadFailedError, ResponseDataLossError
    from twisted.internet.error import ConnectionDone, ConnectionLost
    from twisted.python.failure import Failure
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived
    from twisted.web.http import _DataLoss

    from crawler.spiders.news import failure_reason

    def wrapped(outer: BaseException, inner: BaseException) -> BaseException:
        outer.__cause__ = inner
        return outer

    never = ResponseNeverReceived([Failure(ConnectionDone())])
    assert failure_reason(wrapped(DownloadFailedError(str(never)), never)) == \
        "connection closed by the server before any response"
    cut = ResponseFailed([Failure(ConnectionLost()), Failure(_DataLoss())])
    assert failure_reason(wrapped(ResponseDataLossError(), cut)) == \
        "connection reset; body cut short (less than announced) mid-response"
    tls = ResponseNeverReceived([Failure(TLSError([("SSL routines", "", "wrong version number")]))])
    assert failure_reason(wrapped(DownloadFailedError(str(tls)), tls)) == \
        "TLS failed (wrong version number) before any response"
    assert failure_reason(TimeoutError("Getting https://a.example/ took longer than 2.0 seconds.")) == \
        "Getting https://a.example/ took longer than 2.0 seconds"
