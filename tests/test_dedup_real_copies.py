"""Copies as real sites publish them (issue 14, classes 3 and 4): line breaks, table cells,
quote styles and datelines do not change matching; rewritten headlines and wrapped pages do
not veto a copy; real wire copies of giveme5w1h are found without merging events."""

from __future__ import annotations

import json
import re
from itertools import combinations

import pytest

from dedup import Document, deduplicate
from dedup.config import DedupConfig
from tests.conftest import shared_dataset
from tests.fingerprints import fingerprint
from tests.fixtures.dedup.synth import doc, paragraph, story


def _same_story(result, a: int, b: int) -> bool:
    story = result.story_of()
    return story[a] == story[b]


def _sentences(seed: int, n: int = 12) -> list[str]:
    return [paragraph(seed * 100 + i, 22) for i in range(n)]


def test_one_block_and_twelve_paragraphs_get_the_same_windows_and_match() -> None:
    """A block (a line of > 100 tokens) is windowed by sentences, like one-sentence
    paragraphs; glued sentences and table cells on one line too."""
    sents = _sentences(1)
    paragraphed = "\n".join(sents)
    block = " ".join(sents)
    glued = "".join(sents)  # "...word.Next": sentences glued without a space
    cells = "\t|\t".join(sents)  # one table row, a sentence a cell
    config = DedupConfig()
    want = fingerprint(paragraphed, None, config).windows
    assert len(want) >= 10  # sentence windows, not one window per text
    for text in (block, glued, cells):
        assert fingerprint(text, None, config).windows == want
    docs = [Document(id=i, url=f"https://s{i}.test/a", site=f"s{i}.test", text=t)
            for i, t in enumerate((paragraphed, block, glued, cells))]
    result = deduplicate(docs)
    assert all(_same_story(result, 0, i) for i in (1, 2, 3))


def test_short_copies_in_one_block_match_their_sources_in_paragraphs() -> None:
    """Copies of 100-150 tokens published as one block (three paragraphs and the outlet's own
    line run together) are windowed by sentences, so they meet their sources' two-sentence
    paragraphs (one window of the whole block is a fifth of any of them: as a whole it found
    5 of these 10)."""
    docs = []
    for k in range(10):
        seed = 1000 * k
        paras = [f"{paragraph(seed + 500 + i, 16)} {paragraph(seed + 600 + i, 16)}"
                 for i in range(10)]
        block = " ".join([*paras[:3], paragraph(seed + 700, 28)])
        assert 100 < len(block.split()) <= 150
        docs += [doc(2 * k, "wire.test", paras, hours=k),
                 doc(2 * k + 1, "paper.test", [block], hours=k + 4)]
    result = deduplicate(docs)
    assert all(_same_story(result, 2 * k, 2 * k + 1) for k in range(10))
    assert len(result.stories) == 10


def test_quote_styles_and_dateline_punctuation_do_not_matter() -> None:
    sents = _sentences(2)
    a = "TORONTO (AP) - " + " ".join(sents[:3]) + " ``We will not stop,'' he said.\n" + \
        "\n".join(sents[3:])
    b = "TORONTO (AP) \u2014 " + "\n".join(sents[:3]) + "\n\u201cWe will not stop,\u201d he said. " + \
        " ".join(sents[3:])
    config = DedupConfig()
    assert fingerprint(a, None, config).hashes.tolist() == \
        fingerprint(b, None, config).hashes.tolist()
    result = deduplicate([doc(1, "a.test", [a]), doc(2, "b.test", [b], hours=3)])
    assert _same_story(result, 1, 2)


def test_a_rewritten_headline_does_not_veto_a_copy() -> None:
    body = story(3, paragraphs=8)
    original = doc(1, "wire.test", body,
                   title="For the first time in a decade, former winner Jim McGovern back on tour")
    copy = doc(2, "paper.test", [*body[:6], "(c) 2008 The Associated Press. All rights reserved.",
                                 "Read more at wire.test"],
               hours=5, title="Veteran returns to the fairway")
    result = deduplicate([original, copy])
    assert _same_story(result, 1, 2)
    assert not result.links


def test_a_copy_wrapped_below_other_wire_stories_is_found() -> None:
    """A page boxing teasers of three other wire stories above a whole copy (same headline):
    the copy starts past the lead, yet it is the page's story; the teasers' stories stay
    apart and are linked as passages, not merged."""
    main = story(4, paragraphs=8)
    others = [story(10 + i, paragraphs=8) for i in range(3)]
    pages = [doc(1, "wire.test", main, title="Storm closes the coast road")]
    pages += [doc(2 + i, "wire.test", body, hours=1 + i, title=f"Other story {i}")
              for i, body in enumerate(others)]
    wrapped = [*(body[0] for body in others), *main,
               "(c) 2008 The Associated Press. All rights reserved."]
    pages.append(doc(9, "portal.test", wrapped, hours=6, title="Storm closes the coast road"))
    result = deduplicate(pages)
    assert _same_story(result, 1, 9)
    assert not any(_same_story(result, 9, other) for other in (2, 3, 4))
    assert {link.source_doc for link in result.links if link.doc == 9} == {2, 3, 4}


def test_teasers_of_other_stories_above_a_copy_do_not_make_it_a_follow_up() -> None:
    """Teasers (other wire stories' ledes) boxed above a copy under a rewritten headline: the
    page opens with other pages' openings, yet it is a copy. A page opening with text from the
    inside of another story (its background, its related links) before the quoted story stays a
    follow-up, whatever share of it that story is."""
    main = story(5, paragraphs=12)
    others = [story(20 + i, paragraphs=8, words=20) for i in range(2)]
    pages = [doc(1, "wire.test", main, title="Storm closes the coast road")]
    pages += [doc(2 + i, "wire.test", body, hours=1 + i, title=f"Other story {i}")
              for i, body in enumerate(others)]
    teased = [others[0][0], others[1][0], *main[:5]]  # cut: 5 of its 12 paragraphs
    pages.append(doc(9, "portal.test", teased, hours=6, title="Drivers face long detours"))
    inside = [others[0][5], *main[:3]]  # the middle of story 2, then story 1's top
    pages.append(doc(10, "digest.test", inside, hours=7, title="What comes next for drivers"))
    quoting = story(30, paragraphs=8)  # quotes a teaser's lede in its middle: still a teaser
    pages.append(doc(11, "news.test", [*quoting[:4], others[0][0], *quoting[4:]], hours=3))
    result = deduplicate(pages)
    assert _same_story(result, 1, 9)
    assert not any(_same_story(result, 9, other) for other in (2, 3, 11))
    assert not _same_story(result, 1, 10)
    assert 3 in {link.source_doc for link in result.links if link.doc == 9}


def test_a_credit_line_glued_into_one_block_links_nothing() -> None:
    """Two unrelated wire stories, each extracted as one block ending with the wire's credit
    line (and a copy of one of them in paragraphs with the credit on its own line): the
    credit's sentences are notes, dropped a sentence at a time, so they link nothing and the
    copy still matches its source."""
    credit = ("(c) 2008 The Associated Press. All rights reserved. This material may not be "
              "published, broadcast, rewritten or redistributed.")
    first, second = _sentences(3), _sentences(4)
    pages = [doc(1, "a.test", [" ".join([*first, credit])]),
             doc(2, "b.test", [" ".join([*second, credit])], hours=2),
             doc(3, "c.test", [*first[:8], credit], hours=4)]
    config = DedupConfig()
    kept = fingerprint(pages[0].text, None, config)
    assert len(kept.hashes) == len(fingerprint(" ".join(first), None, config).hashes)
    result = deduplicate(pages)
    assert _same_story(result, 1, 3) and not _same_story(result, 1, 2)
    assert not result.links


def test_a_copy_cut_to_two_paragraphs_under_a_new_lede_is_found() -> None:
    """A republisher's new lede (one paragraph) over the source's first two paragraphs, under
    its own headline: the shared text starts a third into the copy, yet it is the source's
    top after no more than a lede. A page with three paragraphs of its own before another
    story's top is a page of its own quoting it."""
    source = story(6, paragraphs=12, words=40)
    copy = [paragraph(6900, 40), *source[:2]]
    other = story(7, paragraphs=10, words=40)
    own = [paragraph(7900 + i, 40) for i in range(3)]
    pages = [doc(1, "wire.test", source, title="Council approves the river plan"),
             doc(2, "paper.test", copy, hours=3, title="Vote ends years of debate"),
             doc(3, "wire.test", other, hours=1, title="Port strike enters its third week"),
             doc(4, "news.test", [*own, *other[:6]], hours=5, title="What the strike costs")]
    result = deduplicate(pages)
    assert _same_story(result, 1, 2)
    assert not _same_story(result, 3, 4)
    assert {(link.doc, link.source_doc) for link in result.links} == {(4, 3)}


def test_read_more_lines_of_two_truncated_copies_on_one_site_link_nothing() -> None:
    """A site's truncated copies of two unrelated stories of one source each end "Read more at
    <source>" between the site's promo and footer: the pointer is a syndication note, so the
    two pages share nothing but the site's template."""
    promo, footer = paragraph(8801, 14), paragraph(8802, 30)
    pages = []
    for k in range(4):  # the site's other pages teach it its promo and footer
        pages.append(doc(10 + k, "portal.test", [*story(40 + k, paragraphs=3), promo, footer],
                         hours=k))
    for k in range(2):
        body = story(50 + k, paragraphs=8)
        pages.append(doc(20 + k, "wire.test", body, hours=k))
        pages.append(doc(30 + k, "portal.test",
                         [*body[:3], promo, "Read more at Wire Daily News", footer], hours=5 + k))
    result = deduplicate(pages)
    assert _same_story(result, 20, 30) and _same_story(result, 21, 31)
    assert not result.links


_WORD = re.compile(r"\w+")


def _grams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + 5]) for i in range(max(1, len(words) - 4))}


@pytest.mark.parametrize("name", ["giveme5w1h-news-cluster"])
def test_real_wire_copies_are_found_without_merging_events(name: str) -> None:
    """Pairs of one event whose texts (as news-please extracted them) hold >= 50 % of each
    other's word 5-grams are AP/Reuters copies on other sites: each must be one story, and no
    story may span two events."""
    rows = [json.loads(line) for line in
            (shared_dataset(name) / "articles.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if not r.get("cross_cluster_duplicate")]
    docs = [Document(id=i, url=r["url"], site=r["source"], text=r["text"], title=r["title"])
            for i, r in enumerate(rows)]
    grams = [_grams(r["text"]) for r in rows]
    truth = [(a, b) for a, b in combinations(range(len(rows)), 2)
             if rows[a]["cluster"] == rows[b]["cluster"]
             and len(grams[a] & grams[b]) >= 0.5 * min(len(grams[a]), len(grams[b]))]
    assert len(truth) >= 10
    result = deduplicate(docs)
    found = [p for p in truth if _same_story(result, *p)]
    assert len(found) >= 0.95 * len(truth), sorted(set(truth) - set(found))
    for s in result.stories:
        assert len({rows[m]["cluster"] for m in s.members}) == 1, s.members


def test_sentence_stops_ignore_decimals_and_domains_but_not_glued_sentences() -> None:
    from dedup.text import tokenize

    tokens = tokenize("Version 2.26 of example.com shipped.Then U.S. users waited! Done?")
    stopped = [w for w, stop in zip(tokens.words, tokens.stops, strict=True) if stop]
    assert stopped == ["shipped", "u", "s", "waited", "done"]  # not "2" (2.26), not "example"


def test_a_passage_set_inside_one_page_and_opening_or_ending_the_other_was_quoted() -> None:
    """A short story's closing paragraph re-used inside a long follow-up, and another short
    story's lede quoted inside a long report, both quoting pages dated before their sources
    (dates cannot be trusted): the passage weighs more in the short sources, yet it opens or
    ends them and sits inside the quoting pages' own text, so the quoting pages quoted it. A
    lede closing another page (a teaser boxed below it) was quoted by that page too."""
    ending, lede, teased = story(60, paragraphs=4), story(61, paragraphs=4), story(64, 4)
    own, report, long = story(62, paragraphs=8), story(63, paragraphs=8), story(65, 8)
    pages = [doc(1, "wire.test", ending, hours=10, title="Bridge reopens after repairs"),
             doc(2, "news.test", [*own[:4], ending[-1], *own[4:]], hours=2,
                 title="Traffic returns to the old town"),
             doc(3, "wire.test", lede, hours=10, title="Union calls a one-day strike"),
             doc(4, "paper.test", [*report[:3], lede[0], *report[3:]], hours=1,
                 title="Weekly labour report"),
             doc(5, "wire.test", teased, hours=10, title="Museum opens a new wing"),
             doc(6, "portal.test", [*long, teased[0]], hours=1, title="Harbour plan approved")]
    result = deduplicate(pages)
    assert {(link.doc, link.source_doc) for link in result.links} == {(2, 1), (4, 3), (6, 5)}


def test_a_copy_of_two_short_paragraphs_under_a_longer_new_lede_is_found() -> None:
    """A republisher's 35-word lede over the source's two short opening paragraphs (20 and 14
    words): less than half of the page is the source's text, yet all of it after the lede is.
    A page whose own text after the source's top is longer than that top stays a page of its
    own."""
    source = [paragraph(9100, 20), paragraph(9101, 14), *story(91, paragraphs=10)]
    other = [paragraph(9200, 20), paragraph(9201, 14), *story(92, paragraphs=10)]
    pages = [doc(1, "wire.test", source, title="Ferry service resumes on the north route"),
             doc(2, "paper.test", [paragraph(9150, 35), *source[:2]], hours=3,
                 title="Islanders welcome the boats back"),
             doc(3, "wire.test", other, hours=1, title="Library extends its opening hours"),
             doc(4, "news.test", [paragraph(9250, 35), *other[:2], paragraph(9251, 40)],
                 hours=4, title="Readers ask for more")]
    result = deduplicate(pages)
    assert _same_story(result, 1, 2)
    assert not _same_story(result, 3, 4)


def test_a_teaser_two_copies_box_beside_their_story_is_quoted_by_them() -> None:
    """Two republishers box the same wire lede (a teaser of another story) under the first
    paragraph of their copies of one story. Both copies carry it, but the story's own page
    does not: it is not the story's text, and the teased story's page, which it opens, is the
    source (dated after the copies, so dates cannot decide)."""
    teased, own = story(70, paragraphs=4), story(71, paragraphs=8)
    pages = [doc(1, "wire.test", teased, hours=10, title="Harbour cranes go electric"),
             doc(2, "news.test", own, title="Council approves the new tram line"),
             doc(3, "paper.test", [own[0], teased[0], *own[1:6]], hours=1,
                 title="Tram line approved"),
             doc(4, "portal.test", [own[0], teased[0], *own[1:7]], hours=2,
                 title="City says yes to trams")]
    result = deduplicate(pages)
    assert _same_story(result, 2, 3) and _same_story(result, 2, 4)
    assert {(link.doc, link.source_doc) for link in result.links} == {(3, 1), (4, 1)}


def test_a_short_story_repeating_its_own_sentence_is_the_source_of_its_quoted_lede() -> None:
    """A short story whose lede (a photo caption) repeats a sentence of its body, quoted
    inside two long reports dated before it: the repeated sentence is a second passage of each
    pair (one place in the report), and the passages cover most of the short page. It is still
    one story's text in one place, not a digest of several: the page it opens is the source."""
    caption, repeated = paragraph(7200, 25), paragraph(7201, 15)
    short = [f"{caption} {repeated}", paragraph(7202, 20), repeated]
    report, review = story(73, paragraphs=12), story(74, paragraphs=10)
    pages = [doc(1, "wire.test", short, hours=5, title="Singer mourns her cousin"),
             doc(2, "paper.test", [*report[:6], short[0], *report[6:]], hours=1,
                 title="Weekly culture report"),
             doc(3, "news.test", [*review[:4], short[0], *review[4:]], hours=2,
                 title="Music news of the week")]
    result = deduplicate(pages)
    assert {(link.doc, link.source_doc) for link in result.links} == {(2, 1), (3, 1)}


def test_a_paragraph_in_one_page_s_lead_and_deep_in_another_was_quoted_by_the_other() -> None:
    """A story's second paragraph (its nut graf, inside its lead) quoted past the lead of a
    longer story dated before it: the passage weighs more in the short source, and neither
    page opens or ends with it; the page whose lead holds it is the source."""
    source, other = story(75, paragraphs=6), story(76, paragraphs=10)
    pages = [doc(1, "wire.test", source, hours=6, title="Rail strike called off"),
             doc(2, "paper.test", [*other[:6], source[1], *other[6:]], hours=1,
                 title="Commuters count the cost of a bad winter")]
    result = deduplicate(pages)
    assert {(link.doc, link.source_doc) for link in result.links} == {(2, 1)}


def test_teasers_and_a_new_lede_above_a_copy_under_a_rewritten_headline() -> None:
    """A republisher boxes two other wire stories' ledes above a copy and gives it a new lede
    and its own headline: together they put the copy's text 30 % into the page, past the lead,
    but the teasers are the page's wrapping, so what precedes the copy is one lede and the page
    is a copy. A digest (a greeting and three stories' ledes, over a quarter of it, before the
    last story's top) still quotes, it copies nothing."""
    main = story(6, paragraphs=10)
    others = [story(40 + i, paragraphs=8, words=20) for i in range(3)]
    pages = [doc(1, "wire.test", main, title="Storm closes the coast road")]
    pages += [doc(2 + i, "wire.test", body, hours=1 + i, title=f"Other story {i}")
              for i, body in enumerate(others)]
    wrapped = [others[0][0], others[1][0], paragraph(99001, 30), *main[:4]]
    pages.append(doc(9, "portal.test", wrapped, hours=6, title="Drivers face long detours"))
    digest = ["Good morning, here is what you need to know.", *(o[0] for o in others), *main[:2]]
    pages.append(doc(10, "brief.test", digest, hours=7, title="Morning briefing"))
    result = deduplicate(pages)
    assert _same_story(result, 1, 9)
    assert not any(_same_story(result, 9, other) for other in (2, 3))
    assert not any(_same_story(result, 10, other) for other in (1, 2, 3, 4))
    assert {link.source_doc for link in result.links if link.doc == 9} == {2, 3}


def test_one_outlet_carrying_a_story_on_three_pages_keeps_it_story_text() -> None:
    """One outlet publishes three copies of a wire story, and two of its own stories quote
    another story's lede (which it also copied): three pages of the outlet carry that text, yet
    it is no template of the outlet's (its footer, on every page, is). The three copies are
    the story's, the quotes are linked, the footer links nothing."""
    wire, quoted = story(7, paragraphs=8), story(8, paragraphs=8)
    footer = paragraph(7001, 30)
    pages = [doc(1, "wire.test", wire, title="Council approves the new grid plan"),
             doc(2, "agency.test", quoted, hours=1, title="Rocket crew returns safely")]
    pages += [doc(3 + i, "paper.test", [*wire[:6 - i], footer], hours=2 + i,
                  title="Council approves the new grid plan") for i in range(3)]
    pages.append(doc(6, "paper.test", [*quoted[:5], footer], hours=5,
                     title="Rocket crew returns safely"))
    for i in range(2):
        own = story(9 + i, paragraphs=6)
        pages.append(doc(7 + i, "paper.test", [*own[:3], quoted[0], *own[3:], footer],
                         hours=8 + i, title=f"Own story {i}"))
    result = deduplicate(pages)
    assert all(_same_story(result, 1, copy) for copy in (3, 4, 5))
    assert _same_story(result, 2, 6)
    quoting = {link.doc for link in result.links if result.story_of()[link.source_doc] ==
               result.story_of()[2]}
    assert quoting == {7, 8}
    assert not any(footer[:40] in link.text for link in result.links)
