"""process_page end to end: bytes in, article or NotAnArticle out."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crawler.content import NotAnArticle, PageResult, process_page
from crawler.content.extraction import count_words

FIXTURES = Path(__file__).parent / "fixtures" / "content"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SYNDICATION = DATA / "syndication-dev"
URL = "https://example.test/news/2026/03/chipmaker-fab.html"


@pytest.fixture(scope="module")
def article() -> PageResult:
    return process_page((FIXTURES / "article.html").read_bytes(), URL, "text/html")


def test_metadata(article: PageResult) -> None:
    assert article.title == "Chipmaker opens new fab in Dresden"
    assert article.author == "Jane Doe"
    assert article.published == "2026-03-04T09:15:00+01:00"
    assert article.sitename == "Example Tech"
    assert article.language == "en"
    assert article.canonical_url == "https://example.test/news/2026/03/chipmaker-fab.html"
    assert article.encoding == "utf-8"
    assert article.repaired == ()
    assert article.url == URL


def test_body_paragraphs_without_boilerplate(article: PageResult) -> None:
    lines = article.text.split("\n")
    assert lines[0].startswith("The chipmaker opened its new fabrication plant")
    assert lines[-1].startswith("Production is due to start")
    assert "“This is the largest single investment in our history,”" in article.text
    for boilerplate in ("cookies", "Most read", "newsletter", "Another story"):
        assert boilerplate not in article.text


def test_latin1_mojibake_repaired_before_extraction() -> None:
    html = (FIXTURES / "article.html").read_text(encoding="utf-8")
    # the page as a UTF-8 -> Latin-1 -> UTF-8 pipeline leaves it: C1 controls inside
    broken = html.encode("utf-8").decode("latin-1").encode("utf-8")
    result = process_page(broken, URL, "text/html; charset=utf-8")
    assert "“This is the largest single investment in our history,”" in result.text
    assert "region’s growing" in result.text
    assert result.repaired == ("ftfy:mojibake",)


def test_windows_1252_page() -> None:
    html = (FIXTURES / "article.html").read_text(encoding="utf-8")
    body = html.replace('charset="utf-8"', 'charset="windows-1252"').encode("cp1252")
    result = process_page(body, URL, "text/html; charset=iso-8859-1")
    assert result.encoding == "cp1252"
    assert "region’s growing" in result.text
    assert result.repaired == ()


def _page(body_html: str) -> bytes:
    return f"<html><head><title>x</title></head><body>{body_html}</body></html>".encode()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "text/html", "empty"),
        (b"%PDF-1.4 binary", "application/pdf", "binary"),
        (b"\x89PNG\r\n\x1a\n", None, "binary"),
        (b"<html><body>hi</body></html>", "application/json", "not_html"),
        (_page(""), "text/html", "no_text"),
        (_page("<article><p>Too short to be an article at all.</p></article>"), None, "too_short"),
        (
            _page(
                "<ul>"
                + "".join(
                    f'<li><a href="/s{i}.html">Headline number {i} about a story today</a></li>'
                    for i in range(40)
                )
                + "</ul>"
            ),
            "text/html",
            "listing",
        ),
    ],
)
def test_not_an_article(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(NotAnArticle) as info:
        process_page(body, "https://example.test/", content_type)
    assert info.value.reason == reason


def test_count_words_cjk_aware() -> None:
    assert count_words("one two three") == 3
    assert count_words("阿里巴巴宣布投入") == 4
    assert count_words("Qwen 模型发布") == 3


@pytest.mark.skipif(not SYNDICATION.exists(), reason="shared data not available")
@pytest.mark.parametrize("site", ["mojibake-mirror", "the-byte-ledger", "silicon-dispatch"])
def test_syndication_outlet_page(site: str) -> None:
    manifest = json.loads((SYNDICATION / "manifest.json").read_text(encoding="utf-8"))
    page = next(p for p in manifest["pages"] if p["site"] == site)
    body = (SYNDICATION / "sites" / site / page["path"].lstrip("/")).read_bytes()
    result = process_page(body, f"http://{site}.test{page['path']}", page["content_type"])
    assert result.title == page["title"]
    assert result.author == page["author"]
    assert result.published == page["published"]
    truth = [p for p in page["body"].split("\n\n") if p]
    got = result.text.split("\n")
    # mojibake whose bytes were dropped upstream (e.g. ” = E2 80 9D) cannot come back
    found = sum(p in got for p in truth)
    assert found >= len(truth) - (2 if site == "mojibake-mirror" else 0)
    assert len(got) <= len(truth) + 1  # at most a standfirst line beyond the body
    assert "Most read" not in result.text


def test_gzip_input_is_caller_business() -> None:
    # process_page takes the HTML bytes; gzip is decoded by the caller (CLI / Scrapy)
    with pytest.raises(NotAnArticle) as info:
        process_page(gzip.compress(_page("<p>x</p>")), "https://example.test/", None)
    assert info.value.reason == "binary"
