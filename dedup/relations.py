"""Copy or passage: the decision rule applied to the alignments of all candidate pairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from functools import lru_cache

from dedup.align import Alignment, Passage
from dedup.config import DedupConfig
from dedup.model import PassageLink
from dedup.text import normalize_line


@dataclass(frozen=True, slots=True)
class CopyVerdict:
    """Why ``inner`` is or is not a copy contained in ``outer``."""

    inner: int
    outer: int
    is_copy: bool
    reason: str


class AlignmentGraph:
    """All verified alignments, looked up per document, with what the rules ask of them again
    and again (each side's shared text as merged blocks, each page's teasers and its other
    pages by share) kept once."""

    def __init__(self, alignments: Iterable[Alignment]) -> None:
        self.pairs: dict[tuple[int, int], Alignment] = {}
        self.of: dict[int, list[Alignment]] = defaultdict(list)
        for al in alignments:
            self.pairs[(al.a, al.b)] = al
            self.of[al.a].append(al)
            self.of[al.b].append(al)
        self._blocks: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
        self._teasers: dict[tuple[int, float], list[tuple[int, int]]] = {}
        self._thirds: dict[int, list[tuple[float, int]]] = {}

    def get(self, x: int, y: int) -> Alignment | None:
        return self.pairs.get((x, y) if x < y else (y, x))

    def blocks(self, al: Alignment, doc: int) -> list[tuple[int, int]]:
        """``doc``'s shingle ranges inside passages shared in ``al``, merged (``_blocks``)."""
        key = (al.a, al.b, doc)
        got = self._blocks.get(key)
        if got is None:
            got = self._blocks[key] = _blocks(al.ranges(doc))
        return got

    def thirds(self, doc: int) -> list[tuple[float, int]]:
        """(share of ``doc`` shared, other page) of every page sharing text with ``doc``,
        largest share first (ties: larger id first)."""
        got = self._thirds.get(doc)
        if got is None:
            got = self._thirds[doc] = sorted(
                ((other.side(doc)[0], other.b if other.a == doc else other.a)
                 for other in self.of[doc]), reverse=True)
        return got

    def teasers(self, doc: int, lead_share: float) -> list[tuple[int, int]]:
        """``doc``'s text shared with a page from that page's opening (the text it shares
        starts within its first ``lead_share``), merged."""
        key = (doc, lead_share)
        got = self._teasers.get(key)
        if got is None:
            got = self._teasers[key] = _blocks(
                [r for other in self.of[doc]
                 if other.side(other.b if other.a == doc else other.a)[1] <= lead_share
                 for r in other.ranges(doc)])
        return got


def _range(p: Passage, al: Alignment, doc: int) -> tuple[int, int]:
    return (p.a_first, p.a_last) if doc == al.a else (p.b_first, p.b_last)


def _overlaps(r: tuple[int, int], ranges: list[tuple[int, int]]) -> bool:
    return any(r[0] <= last and first <= r[1] for first, last in ranges)


def foreign_opening(graph: AlignmentGraph, inner: int, outer: int,
                    lead_share: float) -> int | None:
    """A third page whose passage opens ``inner`` before any text shared with ``outer``.

    A copy begins with its source's text (at most after a new lede of its own); a follow-up or
    round-up that opens with another story's passage is not a copy of the story it quotes later.
    A passage from a third page's opening (text shared with it starts within its first
    ``lead_share``) is a teaser, whoever else quotes it: republishers box other wire stories'
    ledes above a copy; a follow-up's own text around the quoted story is no page's opening.
    """
    al = graph.get(inner, outer)
    if al is None:
        return None
    shared = graph.blocks(al, inner)
    start = shared[0][0]
    teasers = graph.teasers(inner, lead_share)
    found = None
    for other in graph.of[inner]:
        third = other.b if other.a == inner else other.a
        if third == outer or (found is not None and (other.a, other.b) > found[0]):
            continue
        for r in other.ranges(inner):
            if r[0] < start and not _overlaps(r, shared) and not _carries(teasers, *r):
                found = ((other.a, other.b), third)  # the first such page in pair order
                break
    return None if found is None else found[1]


def other_story(graph: AlignmentGraph, inner: int, outer: int, share: float) -> int | None:
    """The page (of the largest share) of other stories that together cover at least ``share``
    of ``inner``: pages sharing nothing with ``outer``, one per story (pages sharing text with
    each other count once, by their largest share). ``inner`` then carries a good part of
    other stories besides ``outer``'s text: a digest, a page quoting several."""
    thirds = graph.thirds(inner)
    counted: list[int] = []
    total = 0.0
    for cover, third in thirds:
        if third != outer and graph.get(third, outer) is None and \
                all(graph.get(third, c) is None for c in counted):
            counted.append(third)
            total += cover
    return counted[0] if counted and total >= share else None


def title_overlap(a: str | None, b: str | None) -> float | None:
    """Share of the shorter headline's words found in the other; None if one is unknown."""
    wa, wb = _title_words(a or ""), _title_words(b or "")
    if not wa or not wb:
        return None
    return len(wa & wb) / min(len(wa), len(wb))


@lru_cache(maxsize=1 << 16)
def _title_words(title: str) -> frozenset[str]:
    """Normalised words of a headline (copies share headlines: cached by text)."""
    return frozenset(normalize_line(title).split())


def copy_verdict(graph: AlignmentGraph, inner: int, outer: int, config: DedupConfig,
                 titles: Mapping[int, str | None] | None = None) -> CopyVerdict:
    """Is ``inner`` a copy of (majority-contained in, lead-anchored in) ``outer``?

    The text decides; a headline only supports. Containment is measured after a new lede of
    the page's own (a republisher's lede over a copy cut to two short paragraphs) and without
    teasers of other stories boxed above the copy (``_boxed_teasers``). A page
    opening with another story's passage before the shared text (``foreign_opening``) is a
    follow-up or round-up. A shared text starting past the lead (of ``outer``; of ``inner``
    after more than a new lede of its own), or a good part of other stories on either page
    (``other_story``), says "quote" unless the headlines agree (a page wrapping the copy below
    other wire stories or teasers, a copy whose top the extraction lost); a rewritten headline
    never vetoes.
    """
    al = graph.get(inner, outer)
    if al is None:
        return CopyVerdict(inner, outer, False, "no shared passage")
    cover, lead_inner = al.side(inner)
    _, lead_outer = al.side(outer)
    start = graph.blocks(al, inner)[0][0]
    boxed = _boxed_teasers(graph, al, inner, outer, start, config)
    new_lede = _lede_size(al, inner) - boxed <= config.new_lede_shingles
    boxed_share = _share(al, inner, boxed)
    if new_lede and _lede_size(al, inner) >= config.min_passage_shingles:
        cover = cover / (1.0 - lead_inner)  # a republisher's new lede is not the copy's text
    elif boxed:
        cover = cover / (1.0 - boxed_share)
    lead_inner = max(0.0, lead_inner - boxed_share)
    if cover < config.copy_containment:
        return CopyVerdict(inner, outer, False,
                           f"only {cover:.0%} of it is contained (copy needs "
                           f"{config.copy_containment:.0%})")
    overlap = title_overlap(titles.get(inner), titles.get(outer)) if titles else None
    same_headline = overlap is not None and overlap >= config.min_title_overlap
    third = foreign_opening(graph, inner, outer, config.lead_share)
    if third is not None:
        return CopyVerdict(inner, outer, False,
                           f"it opens with a passage shared with doc {third} before the shared "
                           "text: a follow-up or round-up, not a copy")
    if not same_headline:
        if lead_outer > config.lead_share or (lead_inner > config.lead_share and not new_lede):
            where = "the other page" if lead_outer >= lead_inner else "it"
            return CopyVerdict(inner, outer, False,
                               f"the shared text starts {max(lead_outer, lead_inner):.0%} into "
                               f"{where}, past the lead ({config.lead_share:.0%}), under another "
                               "headline: re-used background, not a copy")
        third = other_story(graph, inner, outer, config.other_story_share)
        if third is None:  # the other page quotes several stories: a digest quoting this one
            third = other_story(graph, outer, inner, config.other_story_share)
        if third is not None:
            return CopyVerdict(inner, outer, False,
                               f"{config.other_story_share:.0%} or more of one page is other "
                               f"stories' text (doc {third}...), under another headline: a page "
                               "quoting several stories")
    return CopyVerdict(inner, outer, True,
                       f"{cover:.0%} of it is contained, from the other page's lead "
                       f"(starts {lead_outer:.0%} in)" + (", same headline" if same_headline
                                                           else ""))


def _boxed_teasers(graph: AlignmentGraph, al: Alignment, inner: int, outer: int, start: int,
                   config: DedupConfig) -> int:
    """Shingles of ``inner`` before its text shared with ``outer`` (from ``start``) that are
    teasers boxed above a copy: other pages' openings (shared text starting within their first
    ``lead_share``), each sharing less of ``inner`` than ``outer`` does (a page sharing more of
    it is its own story, not a box beside it), together less than ``other_story_share`` of
    ``inner`` (more is a digest of ledes). Republishers box other wire stories' ledes above a
    copy; they are the page's wrapping, not text of its own before the copy (0: none)."""
    shared = graph.blocks(al, inner)  # merged once per graph: overlaps as the ranges do
    teasers = []
    for other in graph.of[inner]:
        third = other.b if other.a == inner else other.a
        if third == outer or other.side(third)[1] > config.lead_share or \
                other.side(inner)[0] >= al.side(inner)[0]:
            continue
        teasers += [(first, min(last, start - 1)) for first, last in other.ranges(inner)
                    if first < start and not _overlaps((first, last), shared)]
    size = _covered(teasers)
    return size if _share(al, inner, size) < config.other_story_share else 0


def _content(al: Alignment, doc: int) -> float:
    """About how many content shingles ``doc`` has: estimated from the size of its side of
    the passages (merged: a phrase its source repeats matches it several times) and its cover
    (0 if it shares none)."""
    cover, _ = al.side(doc)
    return _covered(al.ranges(doc)) / cover if cover else 0.0


def _share(al: Alignment, doc: int, shingles: int) -> float:
    """About what share of ``doc``'s content ``shingles`` shingles are."""
    content = _content(al, doc)
    return min(1.0, shingles / content) if content else 0.0


def _lede_size(al: Alignment, doc: int) -> float:
    """About how many content shingles of ``doc`` precede its shared text."""
    return al.side(doc)[1] * _content(al, doc)


def copy_edges(graph: AlignmentGraph, config: DedupConfig,
               titles: Mapping[int, str | None] | None = None) -> list[tuple[int, int, float]]:
    """(inner, outer, containment) for every pair where one page is a copy of the other."""
    edges = []
    for (a, b), al in sorted(graph.pairs.items()):
        for inner, outer in ((a, b), (b, a)):
            if copy_verdict(graph, inner, outer, config, titles).is_copy:
                edges.append((inner, outer, al.side(inner)[0]))
                break
    return edges


def story_support(graph: AlignmentGraph, al: Alignment, doc: int, story: Iterable[int],
                  passage: Passage, canonical: int | None = None) -> int:
    """How many other members of ``doc``'s story carry ``passage`` of the other page.

    A passage belongs to the story whose copies carry it too; a page quoting it carries it alone.
    Only that passage's text counts (one pair may share a quote going one way and a stock
    sentence both took from a third source). When the story's ``canonical`` page (another
    member) lacks the passage, it is not the story's text but what copies added around it (two
    republishers boxing the same teaser of another story beside their copies): no support.
    Whether it does is read off its alignment with ``doc`` (always there: ``doc`` is a copy
    of it; the canonical and the other page may share text no candidate window caught).
    """
    other = al.b if doc == al.a else al.a
    first, last = _range(passage, al, other)
    if canonical is not None and canonical != doc:
        own = graph.get(canonical, doc)
        if own is None or not _carries(graph.blocks(own, doc), *_range(passage, al, doc)):
            return 0
    count = 0
    near = graph.of[other]
    if len(near) < len(story):  # the members sharing text with ``other``, fewer to look at
        members = story if isinstance(story, Set) else set(story)
        for peer in near:
            member = peer.b if peer.a == other else peer.a
            if member != doc and member in members and \
                    _carries(graph.blocks(peer, other), first, last):
                count += 1
        return count
    for member in story:
        if member in (doc, other):
            continue
        peer = graph.get(member, other)
        if peer is not None and _carries(graph.blocks(peer, other), first, last):
            count += 1
    return count


def _cut_before(graph: AlignmentGraph, al: Alignment, doc: int, story: Iterable[int],
                passage: Passage, canonical: int | None) -> bool:
    """Whether the other members of ``doc``'s story are copies of ``doc`` cut before
    ``passage``: each shares only text before it, and, unless ``doc`` is the story's
    ``canonical`` page (the others are its copies, whatever they added: a new lede, a quote),
    more of itself than of ``doc``."""
    end = _range(passage, al, doc)[0]
    for member in story:
        peer = graph.get(member, doc) if member != doc else None
        if peer is None:
            continue
        if graph.blocks(peer, doc)[-1][1] >= end or \
                (doc != canonical and peer.side(member)[0] < peer.side(doc)[0]):
            return False
    return True


def _carries(blocks: list[tuple[int, int]], first: int, last: int) -> bool:
    """Whether ``blocks`` (merged ranges, ``_blocks``) cover at least half of ``first..last``
    (a stock sentence inside a quoted paragraph does not make a page carry the paragraph)."""
    inside = 0
    for f, lt in blocks:
        if f > last:
            break
        if first <= lt:
            inside += min(lt, last) - max(f, first) + 1
    return 2 * inside >= last - first + 1


def _covered(ranges: list[tuple[int, int]]) -> int:
    return sum(last - first + 1 for first, last in _blocks(ranges))


def compilations(graph: AlignmentGraph, stories: Mapping[int, tuple[int, ...]],
                 content: Mapping[int, int], min_share: float = 0.5) -> set[int]:
    """Pages made mostly of passages of other stories: digests and round-ups.

    A page is a compilation when at least ``min_share`` of its text lies in passages shared
    with pages of other stories, two of which share separate places of it (a one-paragraph
    story quoted whole by two digests is covered by both in one place: it is their source; so
    is a short story whose quoted lede repeats a sentence of its body, however many pages
    quote that lede).
    """
    out = set()
    for doc, als in graph.of.items():
        places: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
        for al in als:
            other = stories[al.b if al.a == doc else al.a]
            if other != stories[doc]:
                places[other].extend(al.ranges(doc))
        blocks = _blocks([r for ranges in places.values() for r in ranges])
        if content.get(doc) and _covered(blocks) >= min_share * content[doc] and \
                _apart(list(places.values())):
            out.add(doc)
    return out


def _apart(places: list[list[tuple[int, int]]]) -> bool:
    """Whether two of ``places`` (each one other story's ranges) share no shingle."""
    return any(not any(_overlaps(r, second) for r in first)
               for i, first in enumerate(places) for second in places[i + 1:])


def _blocks(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ranges merged."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def quoter(al: Alignment, passage: Passage, published_rank: Mapping[int, object],
           graph: AlignmentGraph, stories: Mapping[int, tuple[int, ...]],
           compiled: Set[int], edge: float, lead: float,
           canonical: Mapping[int, int]) -> tuple[int, int]:
    """(quoting doc, source doc) of one passage shared by two pages of different stories.

    First, the passage belongs to the story more of whose other members carry it (a copy-edited
    quote is one page's own addition; the quoted story's copies all have the passage; what the
    story's ``canonical`` page lacks is no member's support). Then a compilation (digest,
    round-up: ``compilations``) quotes the page it shares text with. Failing that, a page whose
    own story's copies all lack the passage quoted it; then, when the pair shares that one
    passage (in one place of either page), a page whose own text lies on both sides of it quoted
    it from a page it opens or ends, and a page it ends quoted it from a page it opens (``_at_edge``: a
    story's lede or closing background is what others quote; a quote is set into the quoting
    page's text or boxed below it; several passages are a follow-up's weave or a common
    source's words), and, lying inside both, a page whose lead (``lead``: its first share) holds
    it is the source of one that has it past its lead (others quote a story's lede and nut
    graf, set into their own body); then the passage weighs more in the quoting page (a digest or follow-up is
    mostly quotes; the source story has its own text around it); ties go to the later-published
    page. ``published_rank``: any sortable key per page in publication order (a rank, or
    (timestamp, id)).
    """
    sa = story_support(graph, al, al.a, stories[al.a], passage, canonical.get(al.a))
    sb = story_support(graph, al, al.b, stories[al.b], passage, canonical.get(al.b))
    if sa != sb:
        return (al.b, al.a) if sa > sb else (al.a, al.b)
    if (al.a in compiled) != (al.b in compiled):
        return (al.a, al.b) if al.a in compiled else (al.b, al.a)
    if sa == 0:
        # Nobody else carries it: a page whose own story's copies all lack it quoted it,
        # unless it is their source and they were cut from the bottom before the passage (a
        # story's last paragraphs, re-used as a follow-up's background).
        la = 0 if _cut_before(graph, al, al.a, stories[al.a], passage, canonical.get(al.a)) \
            else len(stories[al.a]) - 1
        lb = 0 if _cut_before(graph, al, al.b, stories[al.b], passage, canonical.get(al.b)) \
            else len(stories[al.b]) - 1
        if la != lb and min(la, lb) == 0:
            return (al.a, al.b) if la > lb else (al.b, al.a)
    edge_a, edge_b = _at_edge(al, al.a, edge), _at_edge(al, al.b, edge)
    one_place = min(len(graph.blocks(al, al.a)), len(graph.blocks(al, al.b))) == 1
    if edge_a != edge_b and one_place:
        return (al.b, al.a) if edge_a > edge_b else (al.a, al.b)
    in_lead_a, in_lead_b = al.lead_a <= lead, al.lead_b <= lead
    if one_place and edge_a == edge_b == 0 and in_lead_a != in_lead_b:
        return (al.b, al.a) if in_lead_a else (al.a, al.b)
    if al.cover_a != al.cover_b:
        return (al.a, al.b) if al.cover_a > al.cover_b else (al.b, al.a)
    ra, rb = published_rank[al.a], published_rank[al.b]
    return (al.a, al.b) if (ra, al.a) > (rb, al.b) else (al.b, al.a)


def _at_edge(al: Alignment, doc: int, edge: float) -> int:
    """2 if the one passage ``doc`` shares in ``al`` opens it (at most ``edge`` of its content
    before the passage), 1 if it ends it (at most ``edge`` after), 0 if it lies inside."""
    cover, lead = al.side(doc)
    return 2 if lead <= edge else 1 if 1.0 - cover - lead <= edge else 0


def link_directions(al: Alignment, published_rank: Mapping[int, object], graph: AlignmentGraph,
                    stories: Mapping[int, tuple[int, ...]], compiled: Set[int], edge: float,
                    lead: float, canonical: Mapping[int, int]
                    ) -> list[tuple[int, int, tuple[Passage, ...]]]:
    """(quoting doc, source doc, passages) groups of a pair of pages in different stories.

    Each shared passage is directed on its own (``quoter``): a copy may quote one story while
    sharing a stock sentence with it that both took from a press release.
    """
    groups: dict[tuple[int, int], list[Passage]] = {}
    for p in al.passages:
        groups.setdefault(quoter(al, p, published_rank, graph, stories, compiled, edge,
                                        lead, canonical),
                          []).append(p)
    return [(q, s, tuple(ps)) for (q, s), ps in groups.items()]


def drop_templates(links: list[PassageLink], compiled: Set[int],
                   site_of: Mapping[int, str]) -> list[PassageLink]:
    """Drop links between two compilations of one site.

    Digests are made of other stories' passages; what two digests of one outlet share beyond
    those (relayed quotes are dropped by ``drop_relayed``) is the outlet's template: the
    greeting, the sign-off. Boilerplate learning needs four pages; this needs two digests.
    """
    return [link for link in links
            if not (link.doc in compiled and link.source_doc in compiled
                    and site_of[link.doc] == site_of[link.source_doc])]


def drop_mutual(links: list[PassageLink]) -> list[PassageLink]:
    """Settle two pages that each seem to quote the other.

    Quoting goes one way. When one direction carries at least twice the text of the other, it
    is the quote and the other direction is words both took from a common source; otherwise
    both directions are a common source's words (a statement, a press release): no link.
    """
    size: dict[tuple[int, int], int] = defaultdict(int)
    for link in links:
        size[(link.doc, link.source_doc)] += link.doc_end - link.doc_start
    keep = []
    for link in links:
        mine, theirs = size[(link.doc, link.source_doc)], size.get((link.source_doc, link.doc), 0)
        if not theirs or mine >= 2 * theirs:
            keep.append(link)
    return keep


def drop_relayed(links: list[PassageLink]) -> list[PassageLink]:
    """Drop links whose source passage is itself (mostly) quoted by the source page from
    elsewhere.

    When a digest and a copy both quote story S's lede, the digest also shares that text with
    the copy; the passage belongs to S, not to the copy's story.
    """
    quoted: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for link in links:
        quoted[link.doc].append((link.doc_start, link.doc_end - 1))
    merged = {doc: _blocks(ranges) for doc, ranges in quoted.items()}
    return [link for link in links
            if not _carries(merged.get(link.source_doc, []), link.source_start,
                            link.source_end - 1)]
