"""Article body and metadata from repaired HTML, with trafilatura plus page metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import extract_sitename
from trafilatura.settings import set_date_params

from crawler.content.errors import NotAnArticle
from crawler.content.metadata import (
    PageMeta,
    byline_author,
    choose_title,
    drop_site_authors,
    read_metadata,
    single_h1,
    title_element,
    visible_title,
)

# A precision-first pass removes more teasers and promos; when it keeps less than
# this many characters it probably cut the article, so we fall back to the default.
PRECISION_MIN_CHARS = 500
MIN_WORDS = 30
# A body whose lines are mostly link texts of the page is a listing, not an article.
MAX_LINK_TEXT_SHARE = 0.5
_LINK_TEXT_MIN_CHARS = 15

_TRAFILATURA_ARGS = {
    "deduplicate": False,  # its cache is process-global: results would depend on history
    "include_comments": False,
    "include_tables": True,
    "include_formatting": False,
    "include_images": False,
    "output_format": "txt",
}
# Han, kana and Thai are written without spaces: count characters, not tokens.
_UNSPACED_RE = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_UNSPACED_CHARS_PER_WORD = 2
_WORD_RE = re.compile(r"[^\W\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_BLANK_LINES_RE = re.compile(r"\n\s*\n+")


@dataclass(frozen=True, slots=True)
class Extracted:
    """Body text and metadata of one article page."""

    text: str
    title: str | None
    author: str | None
    published: str | None
    sitename: str | None
    language: str | None
    canonical_url: str | None


def count_words(text: str) -> int:
    """Whitespace words, with unspaced scripts (CJK, Thai) counted as 2 chars a word."""
    return len(_WORD_RE.findall(text)) + len(_UNSPACED_RE.findall(text)) // (
        _UNSPACED_CHARS_PER_WORD
    )


def drop_title_line(body: str, title: str | None) -> str:
    """Remove a leading line that repeats the headline: it is metadata, not body."""
    if not title:
        return body
    first, _, rest = body.partition("\n")
    return rest if " ".join(first.split()).casefold() == " ".join(title.split()).casefold() else body


def extract_body(tree: HtmlElement, url: str) -> str:
    """Main text, paragraphs separated by a single newline ("" if none)."""
    text = trafilatura.extract(tree, url=url, favor_precision=True, **_TRAFILATURA_ARGS) or ""
    if len(text) < PRECISION_MIN_CHARS:
        fallback = trafilatura.extract(tree, url=url, **_TRAFILATURA_ARGS) or ""
        if len(fallback) > len(text):
            text = fallback
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _link_texts(tree: HtmlElement) -> set[str]:
    texts = set()
    for node in tree.iterfind(".//a"):
        text = " ".join(node.text_content().split())
        if len(text) >= _LINK_TEXT_MIN_CHARS:
            texts.add(text)
    return texts


def link_text_share(body: str, link_texts: set[str]) -> float:
    """Share of body characters in lines that are the text of a link on the page."""
    lines = body.splitlines()
    total = sum(len(line) for line in lines)
    linked = sum(len(line) for line in lines if line in link_texts)
    return linked / total if total else 0.0


# htmldate without dateparser (extensive search costs more than extraction itself)
_DATE_PARAMS = set_date_params(False)


def _published(meta: PageMeta, guessed: str | None) -> str | None:
    """The stated datetime, unless htmldate's reading of the page puts it on another day.

    JSON-LD/meta dates keep the time and offset; the first <time datetime> ranks above
    htmldate's day (it may belong to a teaser, but htmldate is misled by dates in
    cross-site canonical URLs). When a stated date and htmldate disagree on the day,
    htmldate is right more often (modified dates and UTC shifts in the markup).
    """
    stated = meta.published
    if stated and guessed and stated[:10] != guessed[:10]:
        return guessed
    return stated or meta.published_weak or guessed


def page_metadata(tree: HtmlElement, url: str) -> dict[str, str | None]:
    """Title, author, date, site and links: structured markup first, then page heuristics.

    Calls trafilatura's individual metadata functions rather than extract_metadata, whose
    author search (deep copy plus regex XPaths) is only needed when no author is stated.
    """
    meta = read_metadata(tree, url)
    sitename = meta.sitename or extract_sitename(tree)
    author = drop_site_authors(meta.author, sitename, url)
    if author is None:
        author = drop_site_authors(byline_author(tree), sitename, url)
    return {
        "title": choose_title(
            single_h1(tree), meta.title, visible_title(tree), title_element(tree), sitename
        ),
        "author": author,
        "published": _published(meta, find_date(tree, url=url, **_DATE_PARAMS)),
        "sitename": sitename,
        "language": meta.language,
        "canonical_url": meta.canonical_url,
    }


def extract_article(html: str, url: str) -> Extracted:
    """Extract an article from decoded, repaired HTML; raise NotAnArticle if there is none."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise NotAnArticle("empty", "unparseable HTML")
    link_texts = _link_texts(tree)
    merged = page_metadata(tree, url)
    body = drop_title_line(extract_body(tree, url), merged["title"])
    if not body:
        raise NotAnArticle("no_text")
    words = count_words(body)
    if words < MIN_WORDS:
        raise NotAnArticle("too_short", f"{words} words")
    if link_text_share(body, link_texts) > MAX_LINK_TEXT_SHARE:
        raise NotAnArticle("listing")
    return Extracted(text=body, **merged)
