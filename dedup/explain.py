"""explain(a, b): similarity, containment both ways, shared passages and the verdict."""

from __future__ import annotations

from dataclasses import dataclass

from dedup.config import DedupConfig
from dedup.index import DedupIndex
from dedup.model import Document
from dedup.relations import AlignmentGraph, copy_verdict


@dataclass(frozen=True, slots=True)
class SharedPassage:
    text: str  # as it reads in ``a``
    a_start: int
    a_end: int
    b_start: int
    b_end: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why two pages are, or are not, one story."""

    a: int
    b: int
    similarity: float  # exact Jaccard of non-boilerplate shingle sets
    containment_a_in_b: float
    containment_b_in_a: float
    passages: tuple[SharedPassage, ...]
    same_story: bool
    verdict: str  # "copy", "passage" or "unrelated"
    reason: str


def explain(a: Document, b: Document, config: DedupConfig | None = None,
            context: DedupIndex | None = None) -> Explanation:
    """Compare two documents; with ``context`` (an index holding both) use its boilerplate
    model and the other pages it knows, exactly as ``result()`` does."""
    index = context
    if index is None or a.id not in index or b.id not in index:
        index = DedupIndex(config or (context.config if context else None))
        index.add([a, b])
    graph = AlignmentGraph(index.alignments())
    al = graph.get(a.id, b.id)
    result = index.result()
    story = result.story_of()
    same = story[a.id] == story[b.id]
    if al is None:
        return Explanation(a.id, b.id, 0.0, 0.0, 0.0, (), same, "unrelated",
                           "no shared passage outside boilerplate")
    titles = {a.id: a.title, b.id: b.title}
    ab = copy_verdict(graph, a.id, b.id, index.config, titles)
    ba = copy_verdict(graph, b.id, a.id, index.config, titles)
    fa, fb = index.fingerprint_of(a.id), index.fingerprint_of(b.id)
    passages = []
    for p in al.passages:
        (af, al_), (bf, bl) = ((p.a_first, p.a_last), (p.b_first, p.b_last))
        if al.a != a.id:
            (af, al_), (bf, bl) = (bf, bl), (af, al_)
        a0, a1 = fa.char_span(af, al_)
        b0, b1 = fb.char_span(bf, bl)
        passages.append(SharedPassage(a.text[a0:a1], a0, a1, b0, b1))
    if ab.is_copy or ba.is_copy:
        verdict = "copy"
        reason = f"{a.id} in {b.id}: {ab.reason}" if ab.is_copy else f"{b.id} in {a.id}: {ba.reason}"
        if not same:
            reason += "; kept apart: not a copy of the story's canonical page (no chaining)"
    else:
        verdict = "passage"
        reason = f"{a.id} in {b.id}: {ab.reason}; {b.id} in {a.id}: {ba.reason}"
        if same:
            reason += "; joined through other pages of the story"
    return Explanation(a.id, b.id, round(al.jaccard, 4), round(al.side(a.id)[0], 4),
                       round(al.side(b.id)[0], 4), tuple(passages), same, verdict, reason)
