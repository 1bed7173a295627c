"""Copies cluster; follow-ups, digests and boilerplate only link (or not at all)."""

from __future__ import annotations

import random

from dedup import DedupConfig, Document, deduplicate
from tests.fingerprints import fingerprint
from tests.fixtures.dedup.synth import cjk_paragraph, doc, paragraph, story


def _story_of(result, doc_id: int) -> tuple[int, ...]:
    return next(s.members for s in result.stories if doc_id in s.members)


def test_abridged_copy_with_new_lede_clusters_with_its_original() -> None:
    original = story(1, paragraphs=12)
    copy = ["UPDATED: " + paragraph(900, 12), *original[:4]]  # new lede, cut to a third
    copy[1] = copy[1].replace(" the ", " now the ", 1)  # light copy-edit
    docs = [doc(1, "wire.test", original), doc(2, "mirror.test", copy, hours=5),
            doc(3, "other.test", story(2))]
    result = deduplicate(docs)
    assert _story_of(result, 1) == (1, 2)
    assert _story_of(result, 3) == (3,)
    assert result.links == []


def test_follow_up_reusing_background_links_without_merging() -> None:
    earlier = story(3, paragraphs=10)
    own = story(4, paragraphs=4)
    background = earlier[-2:]  # two background paragraphs from the end
    follow = [*own[:3], *background, own[3]]
    docs = [doc(10, "a.test", earlier), doc(11, "b.test", follow, hours=48)]
    result = deduplicate(docs)
    assert _story_of(result, 10) == (10,) and _story_of(result, 11) == (11,)
    assert result.links, "the re-used paragraphs are recorded as passage links"
    follow_text, earlier_text = docs[1].text, docs[0].text
    quoted = set()
    for link in result.links:
        assert (link.doc, link.source_doc) == (11, 10)
        assert follow_text[link.doc_start:link.doc_end] == link.text
        assert earlier_text[link.source_start:link.source_end] == link.text
        quoted.add(link.text)
    joined = "\n".join(sorted(quoted))
    for para in background:
        assert para.rstrip(".") in joined  # spans run from first to last word
    assert own[0] not in joined


def test_background_from_a_copied_story_is_quoted_by_the_follow_up() -> None:
    """The story's copies were cut from the bottom, so they lack its last paragraphs: that
    says nothing about who wrote them. A copy that runs past a paragraph another story shares
    and lacks it still shows that paragraph was added by the page carrying it."""
    earlier = story(5, paragraphs=10)
    own = story(6, paragraphs=4)
    follow = [*own[:2], *earlier[-2:], *own[2:]]
    docs = [doc(10, "a.test", earlier), doc(11, "b.test", earlier[:5], hours=2),
            doc(12, "c.test", earlier[:4], hours=3), doc(13, "d.test", follow, hours=48)]
    quoted = story(7, paragraphs=6)  # a copy of story 7 with a paragraph of story 8 inserted
    other = story(8, paragraphs=3)
    docs += [doc(20, "a.test", quoted, hours=1), doc(21, "e.test", other, hours=2),
             doc(22, "b.test", [*quoted[:3], other[1], *quoted[3:]], hours=5)]
    result = deduplicate(docs)
    assert _story_of(result, 10) == (10, 11, 12) and _story_of(result, 13) == (13,)
    assert _story_of(result, 20) == (20, 22)
    pairs = {(link.doc, link.source_doc) for link in result.links}
    assert pairs == {(13, 10), (22, 21)}


def test_digest_quoting_five_stories_merges_none() -> None:
    stories = [story(20 + i, paragraphs=8) for i in range(5)]
    digest = ["Your morning briefing, in five minutes."] + [s[0] for s in stories]
    docs = [doc(100 + i, f"s{i}.test", s) for i, s in enumerate(stories)]
    docs.append(doc(200, "brief.test", digest, hours=30))
    result = deduplicate(docs)
    assert all(len(s.members) == 1 for s in result.stories)
    assert {link.source_doc for link in result.links if link.doc == 200} == {100, 101, 102, 103,
                                                                            104}
    assert all(link.doc == 200 for link in result.links)


def test_site_footer_repeated_on_many_pages_links_nothing() -> None:
    footer = paragraph(777, 35)
    teaser = "Most read: " + paragraph(778, 20)
    docs = [doc(300 + i, "outlet.test", [*story(40 + i, paragraphs=5), teaser, footer])
            for i in range(6)]
    result = deduplicate(docs)
    assert all(len(s.members) == 1 for s in result.stories)
    assert result.links == []


def test_shared_rights_line_of_an_upstream_source_links_nothing() -> None:
    # Two outlets republishing different pieces of one upstream publisher carry its rights line.
    rights = ("저작권자 ⓒ 엔터미디어(www.entermedia.example), 무단전재 및 재배포 금지 — all rights "
              "reserved to the upstream publisher of this piece")
    docs = [doc(310, "a.test", [*story(80, paragraphs=5), rights]),
            doc(311, "b.test", [*story(81, paragraphs=5), rights], hours=30)]
    result = deduplicate(docs)
    assert all(len(s.members) == 1 for s in result.stories)
    assert result.links == []


def test_cjk_copy_clusters_and_is_shingled_by_characters() -> None:
    original = [cjk_paragraph(500 + i) for i in range(8)]
    copy = ["更新：" + original[0], *original[1:5]]
    docs = [doc(400, "cn.test", original), doc(401, "hk.test", copy, hours=3),
            doc(402, "tw.test", [cjk_paragraph(600 + i) for i in range(8)])]
    config = DedupConfig()
    fp = fingerprint(docs[0].text, None, config)
    chars = len(docs[0].text.replace("\n", "").replace("。", ""))
    assert fp.n == chars - config.shingle_size + 1  # one shingle per character position
    assert int(fp.last_token[0]) == config.cjk_shingle_size - 1  # of cjk_shingle_size characters
    result = deduplicate(docs, config)
    assert _story_of(result, 400) == (400, 401)
    assert _story_of(result, 402) == (402,)


def test_cjk_passage_inside_a_latin_page_matches_its_cjk_source() -> None:
    # Shingles depend on the text, not on the page's majority script: a Korean/Chinese paragraph
    # quoted in an English round-up is found in the CJK story it comes from.
    source = [cjk_paragraph(700 + i) for i in range(6)]
    roundup = [*story(70, 2), source[0], *story(71, 2)]
    docs = [doc(700, "cn.test", source), doc(701, "digest.test", roundup, hours=5)]
    result = deduplicate(docs)
    assert [(link.doc, link.source_doc) for link in result.links] == [(701, 700)]
    assert result.links[0].text.strip().rstrip("。") == source[0].strip().rstrip("。")


def test_result_does_not_depend_on_input_order() -> None:
    base = story(60, paragraphs=10)
    docs = [
        doc(1, "a.test", base),
        doc(2, "b.test", base[:5], hours=2),
        doc(3, "c.test", [*story(61, 3), *base[-2:]], hours=40),
        doc(4, "d.test", ["Briefing.", base[0], story(62)[0], story(63)[0]], hours=9),
        doc(5, "e.test", story(62)),
        doc(6, "f.test", story(63)),
    ]
    first = deduplicate(docs)
    for seed in range(3):
        shuffled: list[Document] = docs[:]
        random.Random(seed).shuffle(shuffled)
        assert deduplicate(shuffled) == first


def test_digest_is_the_quoter_even_when_the_quoted_stories_copies_were_re_leded() -> None:
    # Each story has a copy with a new lede: no copy carries the lede the digest quotes, and the
    # digest is dated before the stories. It is still the quoter: its text is made of passages
    # of several stories (a compilation), theirs is not.
    docs, originals = [], []
    for i in range(3):
        original = story(40 + i, paragraphs=8)
        originals.append(original)
        docs.append(doc(300 + i, f"s{i}.test", original, hours=10))
        docs.append(doc(310 + i, f"m{i}.test", [paragraph(4000 + i), *original[1:]], hours=12))
    digest = ["Good evening, here is the news."] + [o[0] for o in originals]
    docs.append(doc(399, "brief.test", digest, hours=1))
    result = deduplicate(docs)
    for i in range(3):
        assert _story_of(result, 300 + i) == (300 + i, 310 + i)
    assert _story_of(result, 399) == (399,)
    assert {(link.doc, link.source_doc) for link in result.links} == {(399, 300), (399, 301),
                                                                      (399, 302)}


def test_stock_sentence_shared_by_two_stories_does_not_reverse_or_hide_a_quote() -> None:
    # Stories A and B both carry a prosecutor's statement (a stock sentence from a press
    # release); a copy of B also quotes A's whole lede, statement included. The lede goes from
    # A to the copy, whatever the shared statement says about the two stories.
    statement = paragraph(7000, 16)
    a = story(50, paragraphs=8)
    a.insert(1, statement)
    b = story(51, paragraphs=8)
    b.insert(3, statement)
    b_copy = [*b[:6], a[0], a[1]]
    docs = [doc(401, "a.test", a), doc(402, "b.test", b, hours=1),
            doc(403, "c.test", b_copy, hours=2)]
    result = deduplicate(docs)
    assert _story_of(result, 402) == (402, 403)
    lede = [link for link in result.links if link.doc == 403]
    assert {link.source_doc for link in lede} == {401}
    assert any(a[0].split(".")[0] in link.text for link in lede)
    assert not any(link.doc == 401 and a[0].split(".")[0] in link.text for link in result.links)


def test_greeting_shared_by_two_digests_of_one_outlet_is_template_not_a_quote() -> None:
    greeting = "Good morning. Here is what you need to know in tech today, in four stories."
    stories = [story(60 + i, paragraphs=8) for i in range(4)]
    docs = [doc(500 + i, f"s{i}.test", s) for i, s in enumerate(stories)]
    docs.append(doc(510, "brief.test", [greeting, stories[0][0], stories[1][0]], hours=20))
    docs.append(doc(511, "brief.test", [greeting, stories[2][0], stories[3][0]], hours=44))
    result = deduplicate(docs)
    pairs = {(link.doc, link.source_doc) for link in result.links}
    assert pairs == {(510, 500), (510, 501), (511, 502), (511, 503)}
    # the same two pages on two outlets: the shared paragraph is a quote again
    docs[-1] = doc(511, "other-brief.test", [greeting, stories[2][0], stories[3][0]], hours=44)
    pairs = {(link.doc, link.source_doc) for link in deduplicate(docs).links}
    assert (511, 510) in pairs or (510, 511) in pairs


def test_two_stories_quoting_one_press_release_do_not_quote_each_other() -> None:
    # Stories A and B both carry two sentences of one statement; B's copy keeps only the first.
    # By B's copy, the first sentence is B's (A would quote it); by the copy lacking it, the
    # second is A's (B would quote it). Quoting goes one way: a common source's words, no link
    # between A and B.
    s1, s2 = paragraph(8000, 16), paragraph(8001, 16)
    a = story(70, paragraphs=8)
    a.insert(2, s1)
    a.insert(5, s2)
    b = story(71, paragraphs=8)
    b.insert(3, s1)
    b.insert(6, s2)
    b_copy = [x for x in b if x != s2]
    docs = [doc(601, "a.test", a), doc(603, "b.test", b, hours=2),
            doc(604, "b2.test", b_copy, hours=3)]
    result = deduplicate(docs)
    assert _story_of(result, 601) == (601,) and _story_of(result, 603) == (603, 604)
    pairs = {(link.doc, link.source_doc) for link in result.links}
    assert (601, 603) not in pairs and (603, 601) not in pairs
    # (A still "quotes" the first sentence from B's copy: only the two pages that each seem to
    # quote the other are settled.)


def test_background_of_a_story_whose_copies_added_text_is_quoted_by_the_follow_up() -> None:
    """The story's copies carry a new lede and a paragraph of their own (more of their source
    than of themselves is shared) and were cut before its last paragraph: the source is still
    the story's canonical page, so a follow-up re-using that paragraph quotes it."""
    earlier = story(30, paragraphs=10)
    own = story(31, paragraphs=5)
    copy = [paragraph(32), *earlier[:4], paragraph(33), *earlier[4:9]]
    docs = [doc(10, "a.test", earlier, title="Port strike halts exports"),
            doc(11, "b.test", copy, hours=2, title="Port strike halts exports"),
            doc(12, "c.test", [paragraph(34), *copy[1:]], hours=3,
                title="Exports halted as port strike begins"),
            doc(13, "d.test", [*own[:3], earlier[-1], *own[3:]], hours=48,
                title="What the strike means for farmers")]
    result = deduplicate(docs)
    assert _story_of(result, 10) == (10, 11, 12) and _story_of(result, 13) == (13,)
    assert {(link.doc, link.source_doc) for link in result.links} == {(13, 10)}


def test_template_text_above_a_new_lede_does_not_make_the_copy_own_text() -> None:
    """A republisher's template line (on every page of its site: boilerplate) above its new
    lede is not text of the copy's own: the lede alone is measured against the new-lede size."""
    template = paragraph(40, 20)
    original = story(41, paragraphs=8)
    docs = [doc(1, "wire.test", original, title="Council approves the new transit budget")]
    docs += [doc(2 + i, "mirror.test", [template, *story(42 + i, paragraphs=4)], hours=i,
                 title=f"Other news {i}") for i in range(4)]
    docs.append(doc(9, "mirror.test", [template, paragraph(49, 45), *original[:2]], hours=6,
                    title="Riders will feel it first"))
    result = deduplicate(docs)
    assert _story_of(result, 1) == (1, 9)
    assert result.links == []
