"""Article body and metadata from repaired HTML, with trafilatura plus page metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura
from lxml.html import HtmlElement
from trafilatura.metadata import extract_metadata

from crawler.content.errors import NotAnArticle
from crawler.content.metadata import PageMeta, read_metadata

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


def _merge(meta: PageMeta, traf: object | None) -> dict[str, str | None]:
    """Prefer what the page states in structured metadata over trafilatura's guesses."""
    t_title = getattr(traf, "title", None)
    t_author = getattr(traf, "author", None)
    t_date = getattr(traf, "date", None)
    t_site = getattr(traf, "sitename", None)
    # JSON-LD/meta dates, then the first <time datetime>, then htmldate's day: on
    # trafilatura-eval the <time> element beats htmldate (0.764 vs 0.761 day accuracy),
    # and htmldate is misled by dates in cross-site canonical URLs.
    published = meta.published or meta.published_weak
    return {
        "title": t_title or meta.title,
        "author": meta.author or t_author,
        "published": published or t_date,
        "sitename": meta.sitename or t_site,
        "language": meta.language,
        "canonical_url": meta.canonical_url,
    }


def extract_article(html: str, url: str) -> Extracted:
    """Extract an article from decoded, repaired HTML; raise NotAnArticle if there is none."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise NotAnArticle("empty", "unparseable HTML")
    link_texts = _link_texts(tree)
    meta = read_metadata(tree, url)
    # extensive=False: htmldate without dateparser, which costs more than extraction itself
    traf_meta = extract_metadata(tree, default_url=url, extensive=False)
    merged = _merge(meta, traf_meta)
    body = drop_title_line(extract_body(tree, url), merged["title"])
    if not body:
        raise NotAnArticle("no_text")
    words = count_words(body)
    if words < MIN_WORDS:
        raise NotAnArticle("too_short", f"{words} words")
    if link_text_share(body, link_texts) > MAX_LINK_TEXT_SHARE:
        raise NotAnArticle("listing")
    return Extracted(text=body, **merged)
