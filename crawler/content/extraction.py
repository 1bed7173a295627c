"""Article body and metadata from repaired HTML, with trafilatura plus page metadata."""

from __future__ import annotations

import re
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass

import trafilatura
from htmldate import find_date
from justext.core import ParagraphMaker
from lxml.etree import strip_elements
from lxml.html import HtmlElement, defs, fromstring
from trafilatura.baseline import basic_cleaning
from trafilatura.external import try_justext
from trafilatura.metadata import extract_sitename
from trafilatura.readability_lxml import Document
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
# Pages that do not declare themselves articles get the default pass only.
PRECISION_MIN_CHARS = 500
# ... and takes the default result only if it adds a line of prose (this many words): a short
# article's default pass may add nothing but the navigation, byline and tags.
PROSE_LINE_MIN_WORDS = 10
# Body-like paragraphs: <p> of this many characters ending a sentence, outside
# navigation, footers, sidebars, forms and the site header.
BODY_PARA_MIN_CHARS = 100
# readability is consulted (on ~15 % of article pages) when the extraction
# misses a body-like paragraph before its first one (a lead in another container),
# or covers less than this share of the page's body-like text with at least
# READABILITY_MIN_MISSED characters missed (an article split by ads).
READABILITY_MAX_COVERAGE = 0.5
READABILITY_MIN_MISSED = 1000
READABILITY_MIN_GAIN = 1.3  # its coverage must beat ours by this factor to replace ours
MIN_WORDS = 30
# "Read more: <linked headline>": label words at most, headline words at least
CROSS_REFERENCE_MAX_LABEL_WORDS = 3
CROSS_REFERENCE_MIN_WORDS = 3
# A block of the page with more than this share of its characters in links, unless it is a
# sentence (this many words, ending like one), is navigation ("More on this topic", teasers of
# other stories), not story text. (jusText's share, 0.25, also takes short linked sentences of
# the story: Zyte F1 -0.0006.)
MAX_BLOCK_LINK_SHARE = 0.5
SENTENCE_MIN_WORDS = 5
# ... and a line of at most this many words right before such a block, not a sentence, labels it
LINK_LABEL_MAX_WORDS = 8
# A picture credit ("Foto: dpa", "Fot. X / Agencja Gazeta", "Crédits photos : X") of at most
# this many words describes an image, which is not extracted: not story text.
PICTURE_CREDIT_MAX_WORDS = 10
# A standfirst (a summary paragraph in its own container, above the story: precision mode and
# the default pass both drop it) is named so by its class or id; one of these many words is
# a sentence, not a kicker or a one-line label.
STANDFIRST_MIN_WORDS = 8
STANDFIRST_MAX_WORDS = 80
# A block of the page named as a prompt or an aside to the story (newsletter and paywall
# prompts, disclaimers, picture credits, comments) is not story text, unless it holds at
# least this share of the body (a container named after one of them, holding the story).
PROMPT_BLOCK_MAX_SHARE = 0.5
# A call to the reader that ends a body (a paywall, a subscription or app offer, a login or
# comment form, "follow us on ..."), in plain <p> with no class to tell it by, is told by its
# words: a prompt word and a word addressing the reader or naming the site ("you", "our",
# "Sie", "nos"); one of at most this many words. What such closing prompts cut is at most this
# share of the body's characters (more is a story whose tail reads like one: a how-to).
PROMPT_LINE_MAX_WORDS = 60
CLOSING_PROMPTS_MAX_SHARE = 0.25
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
_SENTENCE_END_RE = re.compile("[.!?…\"'”“»)\u3002\uff01\uff1f]$")
_NOT_BODY_TAGS = frozenset({"nav", "footer", "aside", "form"})
_READABILITY_BLOCKS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "blockquote", "pre", "dd", "dt"}
)
_PREFIX_CHARS = 60
_INLINE_TAGS = defs.special_inline_tags | defs.phrase_tags | defs.font_style_tags
# optional bullet/arrows, a label starting with a letter, ":" or "»", the rest
_CROSS_REFERENCE_RE = re.compile(r"^(\W{0,3}\w[^:»|]{0,40}?)\s*[:»]\s+(.+)$")
# class/id words of a standfirst ("article__intro", "p.lead", "entry-excerpt", "ts-intro",
# "news-description", "article--sub-headline")
_STANDFIRST_CLASS_RE = re.compile(
    r"(?:^|[^a-z])(?:intro|introduction|lead|leadtext|lede|standfirst|summary|excerpt|deck|"
    r"subtitle|sub-title|subheadline|sub-headline|abstract|teaser|teaser-text|description)"
    r"(?:$|[^a-z])"
)
# a standfirst is not inside these (a teaser list, a picture, a data table, a link)
_NOT_STANDFIRST_TAGS = frozenset(
    {"nav", "aside", "footer", "form", "li", "a", "figure", "figcaption", "table", "h1"}
)
_CAPTION_CLASS_RE = re.compile(r"caption|credit")
# class/id words of prompts and asides inside an article's container
_PROMPT_CLASS_RE = re.compile(
    r"(?:^|[^a-z])(?:newsletters?|subscribe|subscription|signup|paywall|disclaimer|disclosure|"
    r"credits?|comments?|kommentare?)(?:$|[^a-z])"
)
_PROMPT_WORD_RE = re.compile(
    r"\b(?:subscribe|subscribers?|subscription|abonn\w*|abbona\w*|suscr[ií]b\w*|newsletter\w*|"
    r"log ?in|sign[ -]?(?:up|in)|einlogg\w*|eingeloggt|loggen|registrieren|inscrivez\w*|"
    r"inscr[ií]bete|iscriviti|follow(?![- ]up|-on)|folgen sie|folge|s[ií]gue\w*|suivez|seguici)\b",
    re.IGNORECASE,
)
_READER_WORD_RE = re.compile(
    r"\b(?:you|your|you['’]re|our|us|we|du|dich|dir|dein\w*|sie|ihr\w*|uns|unser\w*|wir|"
    r"vous|votre|nous|notre|nos|tu|te|usted|nuestr\w*|s[ií]guenos|suivez-nous|noi|nostr\w*)\b",
    re.IGNORECASE,
)
_QUOTE_MARKS = ('"', "“", "”", "„", "«", "»", "‘", "'", "「")
_PICTURE_CREDIT_RE = re.compile(
    r"^(?:fot|fotos?|photos?|bild|image|credit|crédits?\s+photos?|titelbild|beitragsbild)\s*[.:]",
    re.IGNORECASE,
)


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


def _normalize_lines(text: str) -> list[str]:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if line]


def adds_prose(text: str, other: str) -> bool:
    """Whether ``other`` has a line of prose (``PROSE_LINE_MIN_WORDS``) that ``text`` lacks.

    The default pass keeps what precision mode drops: on a short article that is a cut
    paragraph, or only the site's navigation, byline, date and tags.
    """
    known = set(_normalize_lines(text))
    return any(count_words(line) >= PROSE_LINE_MIN_WORDS
               for line in _normalize_lines(other) if line not in known)


def _trafilatura(
    tree: HtmlElement, url: str, precision: bool, fast: bool = False, recall: bool = False
) -> str:
    return (
        trafilatura.extract(
            tree, url=url, favor_precision=precision, favor_recall=recall, fast=fast, **_TRAFILATURA_ARGS
        )
        or ""
    )


def clean_text(text: str) -> str:
    """Text as trafilatura outputs it: invisible format characters (soft hyphens,
    zero-width spaces) dropped and whitespace runs collapsed to one space."""
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    return " ".join(text.split())


def _squash(text: str) -> str:
    """`text` without whitespace, for comparing a page's paragraphs with extracted lines:
    a <p> split at <br> or into child blocks (a question and its answer) still matches,
    though the markup's text runs them together and the extraction breaks the line."""
    return "".join(text.split())


def is_sentence(text: str) -> bool:
    """A line that reads as a sentence of the story: a few words, ending like one."""
    return count_words(text) >= SENTENCE_MIN_WORDS and _SENTENCE_END_RE.search(text) is not None


def is_body_like(text: str) -> bool:
    """A paragraph that reads like article prose: long and ending a sentence."""
    return len(text) >= BODY_PARA_MIN_CHARS and _SENTENCE_END_RE.search(text) is not None


def _in_site_header(ancestor_tags: set[str]) -> bool:
    """Inside the site's own header (a <header> outside <article>/<main>): its logo, navigation
    and tagline, not the article's (precision mode drops an article's own <header> too)."""
    return "header" in ancestor_tags and not ancestor_tags & {"article", "main"}


def body_paragraphs(tree: HtmlElement) -> list[str]:
    """Body-like <p> texts in document order, outside nav/footer/aside/form/site header."""
    found = []
    for node in tree.iter("p"):
        tags = {a.tag for a in node.iterancestors()}
        if tags & _NOT_BODY_TAGS or _in_site_header(tags):
            continue
        text = clean_text(node.text_content())
        if is_body_like(text):
            found.append(text)
    return found


def coverage(text: str, paragraphs: list[str]) -> tuple[float, int]:
    """Share of the paragraphs' characters found in `text`, and the characters missed."""
    total = sum(len(p) for p in paragraphs)
    if not total:
        return 1.0, 0
    text = _squash(text)
    found = sum(len(p) for p in paragraphs if _squash(p) in text)
    return found / total, total - found


def _first_kept(text: str, paragraphs: list[str]) -> int | None:
    """Index of the first body-like paragraph the extraction kept (None: none)."""
    squashed = _squash(text)
    return next((i for i, p in enumerate(paragraphs) if _squash(p) in squashed), None)


def misses_lead(text: str, paragraphs: list[str]) -> bool:
    """True when a body-like paragraph precedes the first one the extraction kept."""
    return bool(_first_kept(text, paragraphs))


def lead_in_header(tree: HtmlElement, text: str, paragraphs: list[str]) -> bool:
    """True when a body-like paragraph missed before the first kept one is in a <header>
    (so it also misses the lead)."""
    first = _first_kept(text, paragraphs)
    if not first:
        return False
    missed = set(paragraphs[:first])
    return any(clean_text(node.text_content()) in missed for node in tree.iterfind(".//header//p"))


def readability_paragraphs(html: str) -> list[str]:
    """Block texts of a readability main-content summary ([] if it fails).

    trafilatura's own port of readability-lxml: the package itself requires the `lxml[html-clean]`
    spelling, which pip 23 (a new venv's) cannot resolve beside jusText's `lxml[html_clean]`.
    """
    try:
        summary = fromstring(Document(fromstring(html)).summary())
    except Exception:  # readability raises bare Exceptions on odd pages
        return []
    found = []
    for node in summary.iter(*_READABILITY_BLOCKS):
        if any(a.tag in _READABILITY_BLOCKS for a in node.iterancestors()):
            continue
        if text := clean_text(node.text_content()):
            found.append(text)
    return found


def restore_agreed(
    tree: HtmlElement, url: str, language: str | None, text: str, default: list[str]
) -> str:
    """`text` (from trafilatura's precision pass) with the sentences it lacks that two other
    extractors agree on: trafilatura's default pass (its lines `default`) and jusText both keep
    them. Each is put back after the default pass's line before it.

    Precision mode drops whole paragraphs of some articles (a first paragraph in another
    container, an answer in an interview); a line that two different methods (trafilatura's
    tree rules, jusText's stopword and link density) both take for content is more often
    story text than not, as in extractor ensembles that keep what most extractors keep.
    The default pass runs fast (without its own readability and jusText fallbacks), so the
    two witnesses stay independent. Only sentences come back: a single label or date kept
    by both is as often boilerplate.
    """
    lines = _normalize_lines(text)
    known = _squash(text)
    dropped = [line for line in default if is_sentence(line) and _squash(line) not in known]
    if not dropped:
        return text
    witness = _squash("\n".join(justext_paragraphs(tree, url, language)))
    restore = {line for line in dropped if _squash(line) in witness}
    if not restore:
        return text
    squashed = [_squash(line) for line in lines]
    at = 0  # where the next restored line goes: after the last shared line seen
    for line in default:
        if line in restore:
            lines.insert(at, line)
            squashed.insert(at, _squash(line))
            at += 1
            continue
        key = _squash(line)
        shared = next((i for i in range(at, len(lines)) if key in squashed[i]), None)
        if shared is not None:
            at = shared + 1
    return "\n".join(lines)


def prepend_lead(lines: list[str], other: list[str]) -> list[str]:
    """`lines` with the body-like paragraphs `other` has before the first one they share."""
    text = _squash("\n".join(lines))
    lead = []
    for para in other:
        if _squash(para[:_PREFIX_CHARS]) in text:
            break
        if is_body_like(para):
            lead.append(para)
    else:
        return lines  # nothing shared: the two disagree on where the article is
    return lead + lines


def repair_from_default(tree: HtmlElement, url: str, language: str | None, text: str,
                        paragraphs: list[str], header_lead: bool) -> str:
    """An article's body repaired from trafilatura's default pass, run once and fast (without
    its own readability and jusText fallbacks): with `header_lead` (a precision-pass body) the
    lead it keeps in the article's <header> (precision mode drops <header> elements, an
    article's own with its standfirst too), and on any body the sentences it agrees on with
    jusText (`restore_agreed`: on readability's body too, which can lack a lead the two keep)."""
    default = _normalize_lines(_trafilatura(tree, url, precision=False, fast=True))
    if header_lead and lead_in_header(tree, text, paragraphs):
        text = "\n".join(prepend_lead(_normalize_lines(text), default))
    return restore_agreed(tree, url, language, text, default)


def extract_body(
    tree: HtmlElement, url: str, html: str, article: bool = True, language: str | None = None
) -> str:
    """Main text, paragraphs separated by a single newline ("" if none).

    trafilatura (precision-first on pages declaring an article), then, where the result
    looks incomplete against the page's own body-like paragraphs, readability; an article's
    body is then repaired from the default pass (`repair_from_default`).
    """
    text = _trafilatura(tree, url, precision=article)
    precise = article
    if article and len(text) < PRECISION_MIN_CHARS:
        fallback = _trafilatura(tree, url, precision=False)
        if len(fallback) > len(text) and adds_prose(text, fallback):
            text, precise = fallback, False
    lines = _normalize_lines(text)
    if not lines:
        return ""
    paragraphs = body_paragraphs(tree)
    text = "\n".join(lines)
    lead_missing = misses_lead(text, paragraphs)
    share, missed = coverage(text, paragraphs)
    split_article = share < READABILITY_MAX_COVERAGE and missed >= READABILITY_MIN_MISSED
    if lead_missing or split_article:
        other = readability_paragraphs(html)
        if lead_missing:
            text = "\n".join(prepend_lead(lines, other))
            share, missed = coverage(text, paragraphs)
            split_article = share < READABILITY_MAX_COVERAGE and missed >= READABILITY_MIN_MISSED
        if split_article:
            alternative = "\n".join(other)
            if coverage(alternative, paragraphs)[0] > share * READABILITY_MIN_GAIN:
                text, precise = alternative, False
    return repair_from_default(tree, url, language, text, paragraphs, precise) if article else text


def _class_words(node: HtmlElement) -> str:
    return f"{node.get('class') or ''} {node.get('id') or ''}".lower()


def standfirst(tree: HtmlElement, body: str) -> str | None:
    """The page's standfirst that `body` lacks: the first element named as one by its class or
    id (intro, lead, summary, excerpt, deck, subtitle, ...) that reads as a sentence of
    STANDFIRST_MIN_WORDS to STANDFIRST_MAX_WORDS words and ends before the story's first
    sentence (the headline, a kicker or a byline may come first).

    Sites put the standfirst in the article's header, apart from the story's container: the
    precision pass drops it and readability's container leaves it out too. Its name tells it
    from the other paragraphs above a story (captions, links to other stories); the site's
    own header (outside <article>/<main>) holds the site's tagline, not a standfirst.
    """
    lines = body.splitlines()
    page = tree.find(".//body")
    if not lines or page is None:
        return None
    text = _squash(clean_text(page.text_content()))
    first = text.find(_squash(lines[_story_start(lines)])[:_PREFIX_CHARS])
    if first < 0:
        return None
    known = _squash(body)
    for node in page.iter():
        if not isinstance(node.tag, str) or not _STANDFIRST_CLASS_RE.search(_class_words(node)):
            continue
        ancestors = list(node.iterancestors())
        if node.tag in _NOT_STANDFIRST_TAGS or any(
            a.tag in _NOT_STANDFIRST_TAGS or _CAPTION_CLASS_RE.search(_class_words(a))
            for a in ancestors
        ):
            continue
        if _in_site_header({a.tag for a in ancestors}):
            continue  # its tagline ("site-description"), not the article's standfirst
        if next(node.iter("script", "style", "noscript"), None) is not None:
            continue
        candidate = clean_text(node.text_content())
        if not is_sentence(candidate) or not (
            STANDFIRST_MIN_WORDS <= count_words(candidate) <= STANDFIRST_MAX_WORDS
        ):
            continue
        key = _squash(candidate)
        at = text.find(key)
        if key not in known and at >= 0 and at + len(key) <= first:
            return candidate
    return None


def _story_start(lines: list[str]) -> int:
    """Index of the first sentence of `lines` (0 if none): where the story starts."""
    return next((i for i, line in enumerate(lines) if is_sentence(line)), 0)


def prepend_standfirst(tree: HtmlElement, body: str) -> str:
    """`body` with the page's standfirst (see `standfirst`) before the story's first sentence,
    if it lacks one."""
    lead = standfirst(tree, body)
    if not lead:
        return body
    lines = body.splitlines()
    start = _story_start(lines)
    return "\n".join([*lines[:start], lead, *lines[start:]])


def prompt_blocks(tree: HtmlElement, body: str) -> set[str]:
    """Squashed texts of the page's elements named as prompts or asides to the story by their
    class or id (newsletter, subscribe, paywall, disclaimer, credit, comment), each under
    PROMPT_BLOCK_MAX_SHARE of `body`: trafilatura keeps them when they sit in the story's
    container (a newsletter box or a disclaimer between two paragraphs)."""
    limit = PROMPT_BLOCK_MAX_SHARE * len(_squash(body))
    found = set()
    for node in tree.iter():
        if isinstance(node.tag, str) and node.tag not in ("html", "body") and _PROMPT_CLASS_RE.search(
            _class_words(node)
        ):
            text = _squash(clean_text(node.text_content()))
            if text and len(text) < limit:
                found.add(text)
    return found


def is_prompt_line(line: str) -> bool:
    """A call to the reader (subscribe, log in, follow us, download our app), told by its words:
    see PROMPT_LINE_MAX_WORDS."""
    return (
        count_words(line) <= PROMPT_LINE_MAX_WORDS
        and not line.startswith(_QUOTE_MARKS)  # someone quoted in the story
        and _PROMPT_WORD_RE.search(line) is not None
        and _READER_WORD_RE.search(line) is not None
    )


def drop_closing_prompts(body: str) -> str:
    """`body` without the prompts that close it: from the first prompt line of its last run
    of lines that are prompts or not body-like (a paywall's offer list, a comment form's
    labels), as far as CLOSING_PROMPTS_MAX_SHARE of it. Story paragraphs after a prompt keep
    it (a newsletter box inside the story)."""
    lines = body.splitlines()
    kept, tail = body, 0  # tail: characters from line i to the end
    for i in range(len(lines) - 1, -1, -1):
        tail += len(lines[i]) + 1
        if tail > CLOSING_PROMPTS_MAX_SHARE * len(body) or (
            is_body_like(lines[i]) and not is_prompt_line(lines[i])
        ):
            break
        if is_prompt_line(lines[i]):
            kept = "\n".join(lines[:i])
    return kept


def drop_prompt_lines(tree: HtmlElement, body: str) -> str:
    """`body` without the lines that lie inside one of the page's `prompt_blocks`."""
    blocks = prompt_blocks(tree, body)
    if not blocks:
        return body
    kept = []
    for line in body.splitlines():
        key = _squash(line)
        if not any(key in block for block in blocks):
            kept.append(line)
    return "\n".join(kept)


def justext_paragraphs(tree: HtmlElement, url: str, language: str | None) -> list[str]:
    """Paragraphs jusText keeps as content, called as trafilatura's own rescue calls it (after
    its basic cleaning: without scripts, styles, footers and asides)."""
    body = try_justext(basic_cleaning(deepcopy(tree)), url, language)
    return [text for node in body.iter("p") if (text := clean_text("".join(node.itertext())))]


def rescue_candidates(tree: HtmlElement, url: str, html: str,
                      language: str | None) -> Iterator[list[str]]:
    """Other extractors' bodies, most trusted first, for a page whose extraction came out
    too short: trafilatura's recall mode, readability, jusText, the page's own body-like <p>."""
    yield _normalize_lines(_trafilatura(tree, url, precision=False, recall=True))
    yield readability_paragraphs(html)
    yield justext_paragraphs(tree, url, language)
    yield body_paragraphs(tree)


def rescue_body(tree: HtmlElement, url: str, html: str, link_texts: set[str], title: str | None,
                language: str | None) -> str:
    """The first fallback body of MIN_WORDS words, else the longest; only bodies with prose
    (a body-like line) count, so galleries and login walls stay short ("" if none)."""
    best, best_words = "", 0
    for lines in rescue_candidates(tree, url, html, language):
        if not any(is_body_like(line) for line in lines):
            continue
        body = drop_title_line(drop_cross_references("\n".join(lines), link_texts), title)
        words = count_words(body)
        if words >= MIN_WORDS:
            return body
        if words > best_words:
            best, best_words = body, words
    return best


def is_cross_reference(line: str, link_texts: set[str]) -> bool:
    """A "Read more: <headline>" line: a short label, a colon or », then a link's text.

    Such in-body pointers to other articles ("Lea también:", "Czytaj też:", "À lire
    aussi »") are navigation, not story text. The label has no digits (a date or a
    count before a colon starts a list entry) and the link text is headline-like.
    """
    match = _CROSS_REFERENCE_RE.match(line)
    if match is None:
        return False
    label, target = match.group(1), match.group(2).rstrip(" »")
    return (
        len(label.split()) <= CROSS_REFERENCE_MAX_LABEL_WORDS
        and not any(ch.isdigit() for ch in label)
        and len(target.split()) >= CROSS_REFERENCE_MIN_WORDS
        and target in link_texts
    )


def drop_cross_references(body: str, link_texts: set[str]) -> str:
    """`body` without its "Read more: <linked headline>" lines."""
    return "\n".join(line for line in body.splitlines() if not is_cross_reference(line, link_texts))


def figure_captions(tree: HtmlElement) -> set[str]:
    """Texts of the page's <figcaption> elements."""
    return {text for node in tree.iter("figcaption") if (text := clean_text(node.text_content()))}


def boilerplate_blocks(tree: HtmlElement) -> set[str]:
    """Texts of the page's blocks (jusText's paragraphs: block elements, or runs split at
    <br><br>) that are link blocks, their labels, or copyright notices: a block mostly of link
    text that is not a sentence (a teaser of another story, a list of sites), a short label
    right before one ("More on this topic", "Most read"), or a block with a © (photo credits,
    rights lines). trafilatura keeps such blocks when they sit inside the article's container.
    """
    page = deepcopy(tree)  # without scripts and styles, jusText's walk takes half the time
    strip_elements(page, "script", "style", "template", with_tail=False)
    found, label = set(), ""
    for block in ParagraphMaker.make_paragraphs(page):
        text = block.text  # a property that joins and normalizes: read once
        linked = block.chars_count_in_links > MAX_BLOCK_LINK_SHARE * len(text)
        if "\xa9" in text or (linked and not is_sentence(text)):
            found.add(clean_text(text))
            found.add(label)
        short = len(text.split()) <= LINK_LABEL_MAX_WORDS and not is_sentence(text)
        label = clean_text(text) if short else ""
    found.discard("")
    return found


def is_picture_credit(line: str) -> bool:
    """A short "Foto: …" / "Bild: …" / "Crédits photos : …" line: it credits an image."""
    return _PICTURE_CREDIT_RE.match(line) is not None and count_words(line) <= PICTURE_CREDIT_MAX_WORDS


def drop_picture_credits(body: str) -> str:
    """`body` without its picture credit lines (images are not extracted)."""
    return "\n".join(line for line in body.splitlines() if not is_picture_credit(line))


def drop_lines(body: str, texts: set[str]) -> str:
    """`body` without the lines that are one of `texts` whole (a line only quoting one stays).

    Used for image captions (images are not extracted, and a caption describes the picture,
    not the story) and for the page's link blocks and copyright notices."""
    if not texts:
        return body
    return "\n".join(line for line in body.splitlines() if line not in texts)


def _link_texts(tree: HtmlElement) -> set[str]:
    texts = set()
    for node in tree.iterfind(".//a"):
        text = clean_text(node.text_content())
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


def page_metadata(
    tree: HtmlElement, url: str, meta: PageMeta | None = None
) -> dict[str, str | None]:
    """Title, author, date, site and links: structured markup first, then page heuristics.

    Calls trafilatura's individual metadata functions rather than extract_metadata, whose
    author search (deep copy plus regex XPaths) is only needed when no author is stated.
    """
    meta = meta or read_metadata(tree, url)
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


def _table_cells(table: HtmlElement) -> list[list[HtmlElement]]:
    """The rows of `table` (not of tables inside it), each as its list of cells."""
    rows = []
    for child in table.iterchildren("tr", "tbody", "thead", "tfoot"):
        for row in [child] if child.tag == "tr" else child.iterchildren("tr"):
            rows.append(list(row.iterchildren("td", "th")))
    return rows


def is_layout_table(table: HtmlElement) -> bool:
    """A table used to lay out the page, not to hold data: a cell holds another table or reads
    as article prose (body-like), or the table is a single row or column (a banner, a
    navigation bar, a column of the page). Infoboxes and price lists keep their table."""
    rows = _table_cells(table)
    if len(rows) < 2 or max((len(row) for row in rows), default=0) < 2:
        return True
    for row in rows:
        for cell in row:
            if is_body_like(clean_text(cell.text_content())) or next(cell.iter("table"), None) is not None:
                return True
    return False


def _inline_only(cell: HtmlElement) -> bool:
    return all(el.tag in _INLINE_TAGS for el in cell.iterdescendants() if isinstance(el.tag, str))


def is_story_column(rows: list[list[HtmlElement]]) -> bool:
    """A table that lays out a story one paragraph per row: every row a single cell, and one of
    them a sentence in inline markup only."""
    return all(len(row) == 1 for row in rows) and any(
        is_sentence(clean_text(row[0].text_content())) and _inline_only(row[0]) for row in rows
    )


def unwrap_layout_tables(tree: HtmlElement) -> int:
    """Turn layout tables (2008-era pages: navigation, article and promos side by side in
    cells) into <div>s, so trafilatura separates the article from the rest instead of
    keeping the whole table as one; data tables stay. Returns how many were turned.

    In a story column each cell of inline markup becomes a <p>: trafilatura reads bare-text
    <div>s only when the page has little <p> text, so such a story lost to the template's own
    <p> side text (and the coverage check, which counts <p>, missed it); with only its sentence
    cells as <p> its short lines (bullets, a credit line) were lost instead. Other cells stay
    <div>s: in a catalogue-like table of prose cells a <p> kept the prose, not the rest of the row."""
    turned = 0
    for table in reversed(list(tree.iter("table"))):  # inner tables first
        if not is_layout_table(table):
            continue
        turned += 1
        column = is_story_column(_table_cells(table))
        for child in list(table.iterchildren("tr", "tbody", "thead", "tfoot")):
            for row in [child] if child.tag == "tr" else list(child.iterchildren("tr")):
                for cell in row.iterchildren("td", "th"):
                    cell.tag = "p" if column and _inline_only(cell) else "div"
                row.tag = "div"
            child.tag = "div"
        table.tag = "div"
    return turned


def extract_article(html: str, url: str) -> Extracted:
    """Extract an article from decoded, repaired HTML; raise NotAnArticle if there is none."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise NotAnArticle("empty", "unparseable HTML")
    unwrap_layout_tables(tree)
    link_texts = _link_texts(tree)
    meta = read_metadata(tree, url)
    merged = page_metadata(tree, url, meta)
    body = extract_body(tree, url, html, article=meta.declares_article, language=merged["language"])
    body = drop_closing_prompts(drop_prompt_lines(tree, prepend_standfirst(tree, body)))
    body = drop_picture_credits(drop_lines(body, figure_captions(tree)))
    body = drop_title_line(drop_cross_references(body, link_texts), merged["title"])
    # a listing is told by what the page shows as its body, link blocks included
    shown = body
    if any("\xa9" in line or not is_sentence(line) for line in body.splitlines()):
        body = drop_lines(body, boilerplate_blocks(tree))
    words = count_words(body)
    if words < MIN_WORDS:
        rescued = rescue_body(tree, url, html, link_texts, merged["title"], merged["language"])
        if count_words(rescued) > words:
            shown = body = rescued
            words = count_words(body)
    if count_words(shown) >= MIN_WORDS and link_text_share(shown, link_texts) > MAX_LINK_TEXT_SHARE:
        raise NotAnArticle("listing")
    if not body:
        raise NotAnArticle("no_text")
    if words < MIN_WORDS:
        raise NotAnArticle("too_short", f"{words} words")
    return Extracted(text=body, **merged)
