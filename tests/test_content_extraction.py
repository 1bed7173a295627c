"""Rules of the extraction step on small hand-made HTML: metadata choice and body fallbacks."""

from __future__ import annotations

import lxml.html
import pytest
import trafilatura

from crawler.content import NotAnArticle, extraction
from crawler.content.extraction import (
    _published,
    body_paragraphs,
    boilerplate_blocks,
    clean_text,
    coverage,
    drop_cross_references,
    drop_lines,
    extract_article,
    extract_body,
    figure_captions,
    is_body_like,
    is_cross_reference,
    lead_in_header,
    misses_lead,
    page_metadata,
    prepend_lead,
    readability_paragraphs,
)
from crawler.content.metadata import (
    PageMeta,
    byline_author,
    choose_title,
    drop_site_authors,
    read_metadata,
    strip_site_suffix,
)

URL = "https://www.example-news.test/2026/03/04/story.html"
PROSE = (
    "The council approved the budget on Tuesday after a long debate about road repairs, "
    "schools and the new library, which will open next spring."
)


def _tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


@pytest.mark.parametrize(
    ("h1", "stated", "guessed", "title_el", "sitename", "expected"),
    [
        # the single visible h1 beats an SEO/decorated stated title
        ("Budget approved", "Budget approved | Example News", None, None, None, "Budget approved"),
        ("Budget approved", "Council passes budget", None, None, None, "Budget approved"),
        # the h1 carries a kicker: the stated title is the headline
        ("Analysis Budget approved", "Budget approved", None, None, None, "Budget approved"),
        # no h1: the stated title, without the site name it is decorated with
        (None, "Budget approved - Example News", None, None, "Example News", "Budget approved"),
        (None, "Budget - the vote", None, None, "Example News", "Budget - the vote"),
        # heuristics must not return the site's logo as the headline
        (None, None, "Example News", "Budget approved | Example News", "Example News",
         "Budget approved"),
        (None, None, None, None, None, None),
    ],
)
def test_choose_title(
    h1: str | None,
    stated: str | None,
    guessed: str | None,
    title_el: str | None,
    sitename: str | None,
    expected: str | None,
) -> None:
    assert choose_title(h1, stated, guessed, title_el, sitename) == expected


def test_strip_site_suffix() -> None:
    assert strip_site_suffix("A long headline here › Blog") == "A long headline here"
    assert strip_site_suffix("Headline", "Site") == "Headline"
    assert strip_site_suffix("Site | Headline", "Site") == "Headline"
    assert strip_site_suffix("Budget: what it means", "Site") == "Budget: what it means"


@pytest.mark.parametrize(
    ("author", "sitename", "expected"),
    [
        ("Example News", "Example News", None),
        ("example-news.test", None, None),  # the domain
        ("EXAMPLE-NEWS", None, None),  # the domain without its TLD
        ("Example News; Jane Doe", "Example News", "Jane Doe"),
        ("Jane Doe", "Example News", "Jane Doe"),
        (None, "Example News", None),
    ],
)
def test_drop_site_authors(author: str | None, sitename: str | None, expected: str | None) -> None:
    assert drop_site_authors(author, sitename, URL) == expected


def test_byline_author_skips_comments() -> None:
    tree = _tree(
        "<html><body><div class='comments'><span class='author'>Troll Guy</span></div>"
        "<article><p class='byline'>By Jane Doe</p><p>" + PROSE + "</p></article></body></html>"
    )
    assert byline_author(tree) == "Jane Doe"


def test_byline_text_inside_discarded_child_is_ignored() -> None:
    tree = _tree(
        "<html><body><div class='author'>Jane Doe<time>4 March 2026</time></div></body></html>"
    )
    assert byline_author(tree) == "Jane Doe"


def test_stated_author_first_and_site_author_dropped() -> None:
    html = (
        "<html><head><title>Budget approved</title>"
        "<meta property='og:site_name' content='Example News'>"
        "<meta name='author' content='Example News'></head><body>"
        "<h1>Budget approved</h1><span class='author'>Jane Doe</span><p>" + PROSE + "</p>"
        "</body></html>"
    )
    meta = page_metadata(_tree(html), URL)
    assert meta["author"] == "Jane Doe"
    assert meta["title"] == "Budget approved"
    assert meta["sitename"] == "Example News"


def test_published_stated_unless_another_day() -> None:
    stated = PageMeta(published="2026-03-04T09:15:00+01:00", published_weak="2026-03-01T00:00:00")
    assert _published(stated, "2026-03-04") == "2026-03-04T09:15:00+01:00"
    assert _published(stated, None) == "2026-03-04T09:15:00+01:00"
    assert _published(stated, "2026-03-05") == "2026-03-05"
    assert _published(PageMeta(published_weak="2026-03-01T08:00:00"), "2026-03-02") == (
        "2026-03-01T08:00:00"
    )
    assert _published(PageMeta(), "2026-03-02") == "2026-03-02"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("<meta property='og:type' content='article'>", True),
        ("<meta property='article:published_time' content='2026-03-04T09:15:00Z'>", True),
        ('<script type="application/ld+json">{"@type": "NewsArticle"}</script>', True),
        ('<script type="application/ld+json">{"@type": "WebPage"}</script>', False),
        ("<meta property='og:type' content='website'>", False),
    ],
)
def test_declares_article(head: str, expected: bool) -> None:
    tree = _tree(f"<html><head>{head}</head><body><p>x</p></body></html>")
    assert read_metadata(tree, URL).declares_article is expected


def test_is_body_like() -> None:
    assert is_body_like(PROSE)
    assert not is_body_like("Short sentence.")
    assert not is_body_like(PROSE.rstrip(".") + " and more words without an end")


def test_body_paragraphs_outside_navigation_and_site_header() -> None:
    html = (
        "<html><body><header><p>Site header " + PROSE + "</p></header>"
        "<nav><p>Nav " + PROSE + "</p></nav><article><header><p>Lead " + PROSE + "</p></header>"
        "<p>Body " + PROSE + "</p><p>Too short.</p></article>"
        "<aside><p>Aside " + PROSE + "</p></aside><footer><p>Footer " + PROSE + "</p></footer>"
        "</body></html>"
    )
    assert body_paragraphs(_tree(html)) == ["Lead " + PROSE, "Body " + PROSE]


def test_coverage_and_missed_lead() -> None:
    paragraphs = ["Lead " + PROSE, "One " + PROSE, "Two " + PROSE]
    text = "One " + PROSE + "\nTwo " + PROSE
    share, missed = coverage(text, paragraphs)
    assert missed == len(paragraphs[0])
    assert share == pytest.approx(1 - missed / sum(map(len, paragraphs)))
    assert misses_lead(text, paragraphs)
    assert not misses_lead("Lead " + PROSE + "\n" + text, paragraphs)
    assert not misses_lead("", paragraphs)
    assert coverage("anything", []) == (1.0, 0)


def test_prepend_lead() -> None:
    lines = ["One " + PROSE, "Two " + PROSE]
    other = ["Kicker", "Lead " + PROSE, "One " + PROSE, "Two " + PROSE]
    assert prepend_lead(lines, other) == ["Lead " + PROSE, *lines]
    # readability found another article entirely: keep ours
    assert prepend_lead(lines, ["Other " + PROSE]) == lines


def test_readability_paragraphs() -> None:
    html = (
        "<html><body><nav><a href='/'>Home</a></nav><div class='article'>"
        + "".join(f"<p>{i} {PROSE}</p>" for i in range(5))
        + "</div></body></html>"
    )
    found = readability_paragraphs(html)
    assert found == [f"{i} {PROSE}" for i in range(5)]
    assert readability_paragraphs("") == []


def test_paragraphs_compare_as_trafilatura_outputs_them() -> None:
    # soft hyphens and zero-width spaces are dropped, as trafilatura does
    hyphenated = PROSE.replace("council", "coun\xadcil").replace("budget", "bud\u200bget")
    html = f"<html><body><article><p>{hyphenated}</p></article></body></html>"
    assert body_paragraphs(_tree(html)) == [PROSE]
    assert clean_text(" a\xadb \n c ") == "ab c"
    # a <p> split into lines at <br> by the extractor is still covered
    split = PROSE.replace("repairs, ", "repairs,\n")
    assert coverage(split, [PROSE]) == (1.0, 0)
    assert not misses_lead("One " + PROSE + "\n" + split, [PROSE, "One " + PROSE])
    # an interview <p>: the question in a child block runs into the answer in the markup's
    # text ("...vote?The council..."), the extraction puts them on two lines
    html = f"<p><strong>What did the council decide on the vote?</strong>{PROSE}</p>"
    [para] = body_paragraphs(_tree(html))
    assert "vote?The council" in para
    assert coverage(f"What did the council decide on the vote?\n{PROSE}", [para]) == (1.0, 0)


LINKS = {"Council votes on the new library plan", "Budget approved"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Read more: Council votes on the new library plan", True),
        ("Lea también: Council votes on the new library plan", True),
        ("À lire aussi » Council votes on the new library plan", True),
        ("- See also: Council votes on the new library plan", True),
        # not a pointer to a linked headline
        ("Read more: the council has not voted on the plan yet", False),
        ("Council votes on the new library plan", False),  # a bare link line is kept
        ("Related: Budget approved", False),  # too short to be a headline
        # a long label is a sentence; a date before the colon starts a list entry
        ("The mayor said this about the vote: Council votes on the new library plan", False),
        ("- 6 June 2026: Council votes on the new library plan", False),
    ],
)
def test_is_cross_reference(line: str, expected: bool) -> None:
    assert is_cross_reference(line, LINKS) is expected


def test_extract_article_drops_cross_references() -> None:
    html = (
        "<html><head><title>Budget approved</title></head><body><article><h1>Budget approved</h1>"
        f"<p>One {PROSE}</p><p>Read more: <a href='/library'>Council votes on the new library plan"
        f"</a></p><p>Two {PROSE}</p><p>Three {PROSE}</p></article>"
        "<aside><a href='/library'>Council votes on the new library plan</a></aside></body></html>"
    )
    body = extract_article(html, URL).text
    assert body.splitlines() == [f"One {PROSE}", f"Two {PROSE}", f"Three {PROSE}"]
    assert drop_cross_references(
        "Intro line\nRead more: Council votes on the new library plan\nEnd", LINKS
    ) == "Intro line\nEnd"


def test_lead_cut_by_precision_comes_from_the_default_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead = "Lead " + PROSE
    body = [f"{n} {PROSE}" for n in ("One", "Two", "Three", "Four")]
    html = (
        f"<html><body><article><header><h1>Budget</h1><p>{lead}</p></header>"
        + "".join(f"<p>{p}</p>" for p in body)
        + "</article></body></html>"
    )
    passes = []

    def fake_trafilatura(tree: object, url: str, precision: bool, fast: bool = False) -> str:
        passes.append((precision, fast))
        return "\n".join(body if precision else [lead, *body])

    monkeypatch.setattr(extraction, "_trafilatura", fake_trafilatura)
    monkeypatch.setattr(extraction, "readability_paragraphs", lambda html: body)
    tree = _tree(html)
    full = "\n".join([lead, *body])
    assert extract_body(tree, URL, html, article=True) == full
    assert passes == [(True, False), (False, True)]
    # readability found the lead: the default pass still runs once (restore_agreed's witness)
    passes.clear()
    monkeypatch.setattr(extraction, "readability_paragraphs", lambda html: [lead, *body])
    assert extract_body(tree, URL, html, article=True) == full
    assert passes == [(True, False), (False, True)]
    # pages not declaring an article were extracted with default settings already
    passes.clear()
    assert extract_body(tree, URL, html, article=False) == full
    assert passes == [(False, False)]
    # a lead outside any <header>: precision mode had no reason to drop it, so it does not come
    # from the default pass (which runs once, for restore_agreed)
    passes.clear()
    monkeypatch.setattr(extraction, "readability_paragraphs", lambda html: body)
    html = html.replace("<header>", "<div>").replace("</header>", "</div>")
    assert extract_body(_tree(html), URL, html, article=True) == "\n".join(body)
    assert passes == [(True, False), (False, True)]


def test_lead_in_header() -> None:
    lead, one = "Lead " + PROSE, "One " + PROSE
    tree = _tree(f"<article><header><p>{lead}</p></header><p>{one}</p></article>")
    assert lead_in_header(tree, one, [lead, one])
    assert not lead_in_header(tree, f"{lead}\n{one}", [lead, one])  # not missed
    assert not lead_in_header(tree, "unrelated", [lead, one])  # nothing kept
    tree = _tree(f"<article><div><p>{lead}</p></div><p>{one}</p></article>")
    assert not lead_in_header(tree, one, [lead, one])


def test_too_short_a_result_is_retried_with_recall_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    html = "<html><body><div>A page whose text trafilatura's main settings miss.</div></body></html>"
    recalled = ["One " + PROSE, "Two " + PROSE]

    def fake_trafilatura(
        tree: object, url: str, precision: bool, fast: bool = False, recall: bool = False
    ) -> str:
        return "\n".join(recalled) if recall else "Too short."

    monkeypatch.setattr(extraction, "_trafilatura", fake_trafilatura)
    assert extract_article(html, URL).text == "\n".join(recalled)
    # recall found no prose either (a gallery, a login wall): still too short
    recalled = ["Share", "Gallery: 12 photos", "Log in"]
    with pytest.raises(NotAnArticle) as err:
        extract_article(html, URL)
    assert err.value.reason == "too_short"


def test_image_captions_are_not_story_text() -> None:
    caption = "The mayor at the council meeting on Tuesday (Photo: Jane Doe)"
    tree = _tree(f"<article><figure><img src='a.jpg'><figcaption>{caption}</figcaption></figure></article>")
    assert figure_captions(tree) == {caption}
    body = f"One {PROSE}\n{caption}\nTwo {PROSE}"
    assert drop_lines(body, {caption}) == f"One {PROSE}\nTwo {PROSE}"
    # a story line that merely mentions the caption's words stays
    assert drop_lines(f"{caption} was taken by our photographer.", {caption}).startswith(caption)


def test_adds_prose() -> None:
    body = "Patch notes for 2.26\nNew tasks for the game!"
    nav = "Home\nTech\nBy Maria Santos\n" + body + "\nTags: technology, business"
    assert not extraction.adds_prose(body, nav)
    more = body + "\nThe update also brings a new level editor that players can share online."
    assert extraction.adds_prose(body, more)


def test_short_article_keeps_precision_body_without_site_navigation() -> None:
    # A short article (a list in a <div> with <br>): precision mode finds it; the default pass
    # adds only the navigation, byline, date and tags, so it must not replace it.
    items = ["What's new in 2.26 (September pack)?", "New tasks for the game!",
             "More questions for your opponent", "Challenges coming soon",
             "Better Android support", "Bugs fixed"]
    nav = "".join(f'<li><a href="/{n.lower()}/">{n}</a></li>'
                  for n in ("Home", "Tech", "AI", "Cloud", "Startups", "Gadgets", "Policy"))
    html = (
        '<html><head><title>Dare to Play 3 | The Ledger</title>'
        '<meta property="og:type" content="article"></head><body>'
        f'<header class="site-header"><a class="logo" href="/">The Ledger</a><nav><ul>{nav}'
        '</ul></nav></header><div class="layout"><div id="content"><h2>Dare to Play 3</h2>'
        '<p class="small"><span class="byline">By Maria Santos</span> '
        '<time datetime="2026-03-09">2026-03-09</time></p>'
        f'<div class="text">{"<br><br>".join(items)}</div>'
        '<p class="tags">Tags: technology, business, AI</p></div></div></body></html>'
    )
    tree = lxml.html.fromstring(html)
    body = extraction.extract_body(tree, "http://ledger.test/a.html", html, article=True)
    for item in items:
        assert item in body
    for junk in ("Home", "Startups", "By Maria Santos", "Tags:"):
        assert junk not in body


# Issue 14, class 2: 2008-era table layouts and articles in containers named like boilerplate.
STORY = [
    "The city's football club won the regional title on Saturday after a tense two-one victory "
    "over their closest rivals, in front of a record crowd of more than eleven thousand supporters "
    "who had queued outside the ground since early in the morning.",
    "Goals from the captain, a header from a corner in the fifty-second minute, and a young "
    "substitute who had come on only moments earlier turned the match around after the visitors "
    "had taken an early lead through their experienced striker.",
    '"It is the best day of my career, and the players deserve every bit of it," said the '
    "manager, who took charge of the club only three seasons ago, when it was bottom of the "
    "division, and rebuilt the squad around local players.",
    "The club will now play in the national cup competition next spring, their first appearance "
    "at that level for more than twenty years, and the board said it would invest the prize money "
    "in the youth academy and the stadium roof.",
]
SECTIONS = ["Football", "Cricket", "Rugby Union", "Tennis", "Golf", "Athletics", "Motorsport"]
NAV = "".join(f'<a href="/sport/{s.lower()}/">{s}</a><br>' for s in SECTIONS)


def table_layout(story_cell: str) -> str:
    """A 2008-style page: banner, navigation, story and promo columns, footer, all in tables."""
    return f"""<html><head><title>SPORT | Football | Local team wins title</title></head><body>
<table width="770" border="0"><tr><td><a href="/"><img src="/logo.gif" alt="Sport"></a>
<a href="/news/">News</a> <a href="/weather/">Weather</a></td></tr></table>
<table width="770" cellpadding="0" cellspacing="0" border="0"><tr>
<td class="nav" width="110" valign="top">{NAV}</td><td width="10"><img src="/s.gif"></td>
<td valign="top" width="416">{story_cell}</td>
<td width="226" valign="top"><a href="/live/">Watch the live coverage of every weekend game</a><br>
<a href="/tables/">Full league tables and fixtures</a></td></tr></table>
<table width="770"><tr><td><a href="/help/">Help</a> | <a href="/privacy/">Privacy policy</a></td>
</tr></table></body></html>"""


@pytest.mark.parametrize(
    "story_cell",
    [
        '<font size="2"><b>Local team wins title</b><br><br>' + "<br><br>".join(STORY) + "</font>",
        "<h1>Local team wins title</h1>" + "".join(f"<p>{p}</p>" for p in STORY),
        '<table><tr><td><h1>Local team wins title</h1></td></tr>'
        + "".join(f'<tr><td class="storybody">{p}</td></tr>' for p in STORY) + "</table>",
    ],
)
def test_table_layout_gives_the_story_without_navigation(story_cell: str) -> None:
    """trafilatura kept a layout table whole (navigation, promos and footer as table cells)."""
    text = extract_article(table_layout(story_cell), URL).text
    for para in STORY:
        assert para in text
    for boilerplate in ("Cricket", "Rugby Union", "Weather", "live coverage", "Privacy policy", "|"):
        assert boilerplate not in text


def test_data_tables_stay_tables() -> None:
    rows = "".join(f"<tr><td>{team}</td><td>{pts}</td></tr>"
                   for team, pts in [("United", 71), ("City", 68), ("Rovers", 64)])
    html = (f"<html><body><article><h1>Table</h1><p>{STORY[0]}</p><table>{rows}</table>"
            f"<p>{STORY[1]}</p></article></body></html>")
    tree = lxml.html.fromstring(html)
    assert extraction.unwrap_layout_tables(tree) == 0
    assert "| United | 71 |" in extract_article(html, URL).text


@pytest.mark.parametrize(
    "container",
    [
        '<div class="comment">{}</div>',  # a CMS naming its story box like a comment
        '<table><tr><td class="comment">{}</td></tr><tr><td>x</td><td>y</td></tr></table>',
        '<table><tr><td class="footer">{}</td></tr><tr><td>x</td><td>y</td></tr></table>',
    ],
)
def test_story_trafilatura_discards_is_rescued_before_a_drop(container: str) -> None:
    """When trafilatura (all its settings) leaves too little, readability, jusText and the page's
    own prose paragraphs are tried before the page is dropped as too_short."""
    joined = "".join(f"<p>{p}</p>" for p in STORY) if "div" in container else "<br><br>".join(STORY)
    html = (f"<html><head><title>Local team wins title</title></head><body><div>{NAV}</div>"
            f"{container.format(joined)}<div class='footer'>Copyright 2008</div></body></html>")
    text = extract_article(html, URL).text
    for para in STORY:
        assert para in text


def _story_with_link_blocks() -> str:
    teaser = "Library opening date moved to the spring"
    return f"""<html><head><title>Budget approved</title></head><body>
<nav><a href="/">Home</a> <a href="/local/">Local</a></nav>
<article><h1>Budget approved</h1>
<p>First {PROSE}</p>
<p>Second {PROSE}</p>
<h3>More from the council</h3>
<p><a href="/2026/03/01/library.html">{teaser}</a></p>
<p>The full text is <a href="/docs/budget-2026.pdf">in the budget document published by the
city council</a>.</p>
<h2>Road repairs come first</h2>
<p>Third {PROSE}</p>
<p>&copy; 2026 Example Agency. All rights reserved.</p>
</article></body></html>"""


def test_link_blocks_and_copyright_lines_are_not_story_text() -> None:
    html = _story_with_link_blocks()
    bare = trafilatura.extract(html, include_comments=False) or ""
    # trafilatura keeps both inside the article's container
    assert "Library opening date moved" in bare and "\xa9 2026 Example Agency" in bare
    assert "More from the council" in bare
    blocks = boilerplate_blocks(_tree(html))
    # the link block and its label
    assert {"Library opening date moved to the spring", "More from the council"} <= blocks
    assert "\xa9 2026 Example Agency. All rights reserved." in blocks
    body = extract_article(html, URL).text
    assert "Library opening date" not in body and "\xa9" not in body
    assert "More from the council" not in body
    assert "\nRoad repairs come first\n" in body  # a subheading before prose stays
    # a sentence of the story stays, however much of it is a link
    assert "The full text is in the budget document published by the city council." in body
    assert body.count(PROSE) == 3


LEAD = (
    "Residents of the old town will see their streets repaired before the summer, the mayor "
    "said on Tuesday evening in a statement to the press, and the work will start in the north "
    "of the town."
)


def _article_with_bare_div(extra: str) -> str:
    """An article whose first paragraph sits in a bare <div> (precision mode drops it)."""
    return f"""<html lang="en"><head><meta property="og:type" content="article">
<title>Budget</title></head><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Budget approved</h1><div>{LEAD}</div>{extra}
<p>First {PROSE}</p><p>Second {PROSE}</p><p>Third {PROSE}</p><p>Fourth {PROSE}</p>
</article><footer><p>Contact us</p></footer></body></html>"""


def test_sentence_default_pass_and_justext_agree_on_is_restored() -> None:
    html = _article_with_bare_div(
        '<div>Sign up to our <a href="/newsletter">newsletter for the latest news</a> today.</div>')
    tree = _tree(html)
    precise = extraction._trafilatura(tree, URL, precision=True)
    default = extraction._trafilatura(tree, URL, precision=False)
    witness = "\n".join(extraction.justext_paragraphs(tree, URL, "en"))
    # precision mode drops the lead and the call to subscribe; the default pass keeps both,
    # jusText only the lead (the other is mostly link text)
    assert LEAD not in precise and LEAD in default and LEAD in witness
    assert "Sign up to our newsletter for the latest news today." in default
    assert "Sign up" not in precise and "Sign up" not in witness
    headline, *rest = precise.splitlines()
    assert headline == "Budget approved"
    # put back where the default pass has it: after the headline, before the first paragraph
    fast = extraction._normalize_lines(extraction._trafilatura(tree, URL, False, fast=True))
    restored = extraction.restore_agreed(tree, URL, "en", precise, fast)
    assert restored.splitlines() == [headline, LEAD, *rest]
    body = extract_article(html, URL).text
    assert body.startswith(LEAD + "\nFirst ") and "Sign up" not in body


def test_nothing_restored_when_precision_kept_every_sentence() -> None:
    html = _article_with_bare_div("").replace(f"<div>{LEAD}</div>", f"<p>{LEAD}</p>")
    tree = _tree(html)
    precise = extraction._trafilatura(tree, URL, precision=True)
    assert LEAD in precise
    fast = extraction._normalize_lines(extraction._trafilatura(tree, URL, False, fast=True))
    assert extraction.restore_agreed(tree, URL, "en", precise, fast) == precise


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Foto: Example Agency", True),
        ("Fot. Jan Kowalski / Example Agency", True),
        ("Fotos: Anna Muster und Max Muster", True),
        ("Crédits photos : Example Agency", True),
        ("Bild: Example Agency", True),
        ("Photo: Example Agency/Jane Doe", True),
        ("Bildung: the council will fund two new schools.", False),  # a label, not a credit
        ("Photography is what the new library will show first.", False),
        # too long for a credit: a caption-like sentence of the story
        ("Photo: the council met on Tuesday to vote on the budget after a long debate.", False),
    ],
)
def test_is_picture_credit(line: str, expected: bool) -> None:
    assert extraction.is_picture_credit(line) is expected


def test_picture_credit_lines_are_not_story_text() -> None:
    html = f"""<html><head><title>Budget</title></head><body><article><h1>Budget approved</h1>
<p>First {PROSE}</p><p>Foto: Example Agency / Jane Doe</p><p>Second {PROSE}</p>
<p>Third {PROSE}</p></article></body></html>"""
    assert "Foto: Example Agency" in (trafilatura.extract(html) or "")
    body = extract_article(html, URL).text
    assert "Foto:" not in body and body.count(PROSE) == 3


# The story as one paragraph per cell of a one-column table, inside a template whose article
# container also holds the site's own <p> blurbs (who writes sponsored content, and so on).
SITE_BLURBS = [
    "Partner content is written by members of our contributor community, who are experts in "
    "their field. Each contribution aims to bring a distinct voice to the topics we cover.",
    "Sponsored content is paid for by an advertiser and written by members of the sponsor "
    "community. The editorial team does not take part in the writing or editing of it.",
    "Reader letters are edited for length and clarity before they are published. We read every "
    "letter we receive, but we cannot answer each one or publish all of them in print.",
    "Corrections are listed on a page of their own, with the date of each change. Write to the "
    "standards editor if you believe that something we have published is wrong.",
    "Newsletter subscribers receive the morning briefing every weekday, with the day's main "
    "stories, a reading list chosen by our editors and the weather for the weekend.",
]


def story_in_table_cells(cells: list[str]) -> str:
    rows = "".join(f"<tr><td>{cell}</td></tr>" for cell in cells)
    blurbs = "".join(f'<p class="blurb">{b}</p>' for b in SITE_BLURBS)
    return f"""<html><head><title>Local team wins title</title>
<meta property="og:type" content="article"></head><body>
<nav><a href="/">Home</a> <a href="/sport/">Sport</a></nav>
<article><h1>Local team wins title</h1><div class="article-body"><table>{rows}</table></div>
<div class="article-extras">{blurbs}</div></article>
<footer><a href="/privacy/">Privacy policy</a></footer></body></html>"""


def test_story_in_one_column_table_beats_the_templates_own_paragraphs() -> None:
    """Layout cells used to become bare-text <div>s, which trafilatura skips when their container
    has <p> text of its own: the extraction kept the site's blurbs and lost the story."""
    cells = [*STORY[:2], "The club has not yet said when the parade will be held.",
             "* Open-top bus tour of the city", *STORY[2:], "Read more at the club's website"]
    text = extract_article(story_in_table_cells(cells), URL).text
    for para in cells:
        assert para in text


def test_cells_of_a_story_column_become_paragraphs() -> None:
    column = lxml.html.fromstring(
        f"<div><table><tr><td>* Short bullet line</td></tr><tr><td><b>{STORY[0]}</b></td></tr>"
        f"<tr><td><p>{STORY[1]}</p></td></tr></table></div>"
    )
    assert extraction.unwrap_layout_tables(column) == 1
    assert [[cell.tag for cell in row] for row in column[0]] == [["p"], ["p"], ["div"]]
    side_by_side = lxml.html.fromstring(
        f"<div><table><tr><td>Nr. 4</td><td>{STORY[2]}</td></tr>"
        f"<tr><td>Nr. 5</td><td>{STORY[3]}</td></tr></table></div>"
    )
    assert extraction.unwrap_layout_tables(side_by_side) == 1
    assert [[cell.tag for cell in row] for row in side_by_side[0]] == [["div", "div"]] * 2


STANDFIRST = (
    "The city will spend more on roads than on anything else next year, and the opposition "
    "says the schools pay for it."
)


def _article_with_header(standfirst_html: str, body_extra: str = "") -> str:
    """An article whose standfirst sits in the page's header block, apart from the story."""
    return f"""<html lang="en"><head><meta property="og:type" content="article">
<title>Budget</title></head><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<div class="article-header"><h1>Budget approved</h1>{standfirst_html}</div>
<div class="article-body"><p>First {PROSE}</p><p>Second {PROSE}</p>{body_extra}
<p>Third {PROSE}</p><p>Fourth {PROSE}</p></div>
<footer><p>Contact us</p></footer></body></html>"""


@pytest.mark.parametrize("name", ['class="article__intro"', 'class="lead"', 'id="entry-excerpt"',
                                  'class="ts-intro"', 'class="story-deck"'])
def test_standfirst_named_by_its_class_is_put_before_the_story(name: str) -> None:
    # in a bare <div>: no body-like <p> before the story, so readability is not consulted
    html = _article_with_header(f"<div {name}>{STANDFIRST}</div>")
    assert STANDFIRST not in extraction._trafilatura(_tree(html), URL, precision=True)
    body = extract_article(html, URL).text
    assert body.startswith(f"{STANDFIRST}\nFirst {PROSE}")
    assert body.count(STANDFIRST) == 1


@pytest.mark.parametrize(
    "standfirst_html",
    [
        f"<div class='promo'>{STANDFIRST}</div>",  # not named a standfirst
        "<div class='intro'><p>Budget, roads and schools</p></div>",  # a label, not a sentence
        f"<figure><figcaption class='summary'>{STANDFIRST}</figcaption></figure>",  # a caption
        f"<ul><li class='teaser-text'>{STANDFIRST}</li></ul>",  # a teaser list
    ],
)
def test_other_text_above_the_story_is_not_a_standfirst(standfirst_html: str) -> None:
    html = _article_with_header(standfirst_html)
    assert extraction.standfirst(_tree(html), f"First {PROSE}\nSecond {PROSE}") is None
    assert extract_article(html, URL).text.startswith(f"First {PROSE}")


def test_summary_below_the_story_start_is_not_prepended() -> None:
    html = _article_with_header("", f"<div class='summary'><p>{STANDFIRST}</p></div>")
    assert extraction.standfirst(_tree(html), f"First {PROSE}\nSecond {PROSE}") is None


@pytest.mark.parametrize("name", ["signup-box", "aawp-disclaimer", "photo-credit",
                                  "kommentare", "paywall-prompt"])
def test_prompt_blocks_inside_the_story_container_are_dropped(name: str) -> None:
    prompt = "Sign up to get the best stories of the week in your inbox, every Friday."
    html = _article_with_header("", f"<div class='{name}'><p>{prompt}</p></div>")
    assert prompt in (trafilatura.extract(html) or "")
    body = extract_article(html, URL).text
    assert prompt not in body and body.count(PROSE) == 4


def test_a_story_container_named_like_a_prompt_is_kept() -> None:
    # WordPress names containers after comments ("comments-open"): the story stays
    html = _article_with_header("").replace('class="article-body"', 'class="post comments-open"')
    body = extract_article(html, URL).text
    assert body.count(PROSE) == 4


def test_the_site_tagline_in_the_site_header_is_not_a_standfirst() -> None:
    tagline = "News, views and the weather from the old town and the valleys around it, every day."
    html = _article_with_header("").replace(
        "<body>", f"<body><header><p class='site-description'>{tagline}</p></header>")
    assert extraction.standfirst(_tree(html), f"First {PROSE}\nSecond {PROSE}") is None
    # the same words in the article's own header are its standfirst
    html = html.replace("<header>", "<article><header>").replace("</header>", "</header></article>")
    assert extraction.standfirst(_tree(html), f"First {PROSE}\nSecond {PROSE}") == tagline


def test_standfirst_goes_after_the_headline_the_body_starts_with() -> None:
    # the headline is in the body (inside <article>), the standfirst between it and the story
    html = _article_with_header(f"<p class='standfirst'>{STANDFIRST}</p>").replace(
        '<div class="article-header">', '<article><div class="article-header">').replace(
        "<footer>", "</article><footer>")
    tree = _tree(html)
    body = f"Budget approved\nFirst {PROSE}\nSecond {PROSE}"
    assert extraction.standfirst(tree, body) == STANDFIRST
    assert extraction.prepend_standfirst(tree, body).splitlines() == [
        "Budget approved", STANDFIRST, f"First {PROSE}", f"Second {PROSE}"]


# Calls to the reader in plain <p> that close a story: a paywall, a follow-us line, a login form.
_STORY_PARAS = [f"{n} {PROSE}" for n in ("One", "Two", "Three", "Four", "Five")]


def _story_closed_by(*closing: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in [*_STORY_PARAS, *closing])
    return (f'<html lang="en"><head><meta property="og:type" content="article"><title>Budget'
            f'</title></head><body><article><h1>Budget approved</h1>{paras}</article></body></html>')


@pytest.mark.parametrize(
    "closing",
    [
        ("<strong>Follow The Courier on Twitter and Instagram @TheCourier and send us your news "
         "tips on WhatsApp at 555-0100 or by email.</strong>",),
        ("To view the full story, please subscribe to The Courier: you can choose a weekly pass.",
         "Join now to get:",
         "— Unlimited access to local news", "If you are already a subscriber, log in here."),
        ("Sie sind aktuell nicht eingeloggt.",
         "Um einen Kommentar zu hinterlassen, loggen Sie sich bitte ein."),
    ],
)
def test_prompts_closing_a_story_are_dropped(closing: tuple[str, ...]) -> None:
    body = extract_article(_story_closed_by(*closing), URL).text
    assert body.splitlines() == _STORY_PARAS


@pytest.mark.parametrize(
    "closing",
    [
        # a story's own last lines about subscribers, following or logging in, not to the reader
        ("The service said it had lost two million subscribers since the price rise in May.",
         "Police followed the van to the border."),
        # a prompt followed by story text: a newsletter box inside the story
        ("Sign up to our newsletter for the latest news.", "Six " + PROSE),
    ],
)
def test_story_lines_and_inner_prompts_stay(closing: tuple[str, ...]) -> None:
    body = extract_article(_story_closed_by(*closing), URL).text
    assert body.splitlines()[: len(_STORY_PARAS)] == _STORY_PARAS
    assert closing[-1] in body


def test_closing_prompts_cut_at_most_a_quarter_of_the_body() -> None:
    # a how-to whose long tail of short lines follows a line that reads like a prompt
    steps = [f"step({n})" for n in range(40)]
    body = "\n".join([*_STORY_PARAS[:2], "Follow the steps below if you want to try it.", *steps])
    assert extraction.drop_closing_prompts(body) == body
    assert extraction.drop_closing_prompts(body + "\nSubscribe to our newsletter.") == body


def test_quoted_or_follow_on_lines_are_not_prompts() -> None:
    assert extraction.is_prompt_line("Follow us on Twitter and Facebook.")
    assert not extraction.is_prompt_line("“What will be left that our readers would pay a "
                                         "subscription for?” she asked.")
    assert not extraction.is_prompt_line("We will follow up on this grant with a follow-on one.")
