"""Canonical page of a story: one explicit total order, and the reason it decided."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from dedup.model import Document
from dedup.text import SYNDICATION_NOTE, may_hold_note

_WIRE = re.compile(
    r"\b(?:AP|Associated Press|Reuters|AFP|Agence France-Presse|dpa|Xinhua|PA Media|"
    r"wire (?:reports?|services?|copy))\b",
    re.IGNORECASE,
)


def _key(name: str) -> str:
    key = re.sub(r"[^0-9a-z]", "", name.casefold())
    return key.removeprefix("the").removeprefix("www")


def site_key(doc: Document) -> str:
    """'market-circuit.test' / 'https://www.market-circuit.test/x' / 'Market Circuit' -> key."""
    return _site_label_key(doc.site or urlsplit(doc.url).hostname or doc.site)


@lru_cache(maxsize=1 << 14)
def _site_label_key(label: str) -> str:
    label = label.split(":")[0].removeprefix("www.")
    if "." in label:
        label = label.rsplit(".", 1)[0]
    return _key(label)


def provenance_notes(text: str) -> list[str]:
    """Publisher names in 'originally published by X' style notes of ``text``."""
    if not may_hold_note(text):  # exact pre-check: most pages hold no note
        return []
    return [m.group(1).strip() for m in SYNDICATION_NOTE.finditer(text)]


def is_wire_copy(doc: Document) -> bool:
    """Byline or opening credits a wire service: the page republishes agency copy."""
    head = doc.text[:300]
    return bool(_WIRE.search(doc.author or "")) or "wire reports" in head.casefold()


@dataclass(frozen=True, slots=True)
class CanonicalChoice:
    doc: int
    reason: str


_FAR_FUTURE = datetime.max


def utc_naive(ts: datetime | None) -> datetime:
    """Comparable UTC timestamp; unknown dates sort last."""
    if ts is None:
        return _FAR_FUTURE
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def _fmt(ts: datetime) -> str:
    return ts.isoformat(timespec="minutes")


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What ``choose_canonical`` reads of one page, computed once per page."""

    site: str  # site_key
    notes: tuple[tuple[str, str], ...]  # (provenance note name, its site key)
    published: datetime  # utc_naive
    wire: bool  # is_wire_copy


def page_facts(doc: Document) -> PageFacts:
    notes = tuple((name, _key(name)) for name in provenance_notes(doc.text))
    return PageFacts(site_key(doc), notes, utc_naive(doc.published), is_wire_copy(doc))


class FactsCache(dict[int, PageFacts]):
    """Document id -> ``PageFacts``, computed on first use from ``docs`` (documents never
    change under an id)."""

    def __init__(self, docs: Mapping[int, Document]) -> None:
        super().__init__()
        self.docs = docs

    def __missing__(self, doc_id: int) -> PageFacts:
        got = self[doc_id] = page_facts(self.docs[doc_id])
        return got


def choose_canonical(members: Sequence[int], docs: Mapping[int, Document],
                     content_size: Mapping[int, int],
                     facts: Mapping[int, PageFacts] | None = None) -> CanonicalChoice:
    """Pick the original among a story's pages.

    Order: most copies declaring it their rel=canonical (cross-domain), most provenance notes
    naming its site ("originally published by X"), earliest publication (unknown last), not a
    wire-credited republication, fullest text, lowest id. ``facts``: a cache of ``page_facts``.
    """
    if len(members) == 1:
        return CanonicalChoice(members[0], "single page")
    if facts is None:
        facts = FactsCache(docs)
    by_url: dict[str, list[int]] = {}
    for m in members:
        by_url.setdefault(docs[m].url, []).append(m)
    canon_votes = dict.fromkeys(members, 0)
    for m in members:
        target = docs[m].canonical_url
        for other in by_url.get(target, ()) if target else ():
            if other != m:
                canon_votes[other] += 1
    by_site: dict[str, list[int]] = {}
    for m in members:
        by_site.setdefault(facts[m].site, []).append(m)
    note_votes = dict.fromkeys(members, 0)
    note_names: dict[int, str] = {}
    for m in members:
        for name, key in facts[m].notes:
            for other in by_site.get(key, ()):
                if other != m:
                    note_votes[other] += 1
                    note_names[other] = name

    def key(m: int) -> tuple:
        f = facts[m]
        return (-canon_votes[m], -note_votes[m], f.published, f.wire, -content_size.get(m, 0), m)

    ranked = sorted(members, key=key)
    best, runner = ranked[0], ranked[1]
    kb, kr = key(best), key(runner)
    return CanonicalChoice(best, _reason(kb, kr, best, runner, docs, canon_votes, note_votes,
                                         note_names, content_size, len(members)))


def _reason(kb: tuple, kr: tuple, best: int, runner: int, docs: Mapping[int, Document],
            canon_votes: dict[int, int], note_votes: dict[int, int], note_names: dict[int, str],
            content_size: Mapping[int, int], n: int) -> str:
    """Why ``best`` (key ``kb``) ranks before ``runner`` (key ``kr``): the first criterion
    that differs."""
    if kb[0] != kr[0]:
        return (f"declared canonical (rel=canonical) by {canon_votes[best]} of {n - 1} other "
                "pages")
    if kb[1] != kr[1]:
        return (f"named as original publisher by {note_votes[best]} page(s) "
                f"('{note_names[best]}')")
    if kb[2] != kr[2]:
        pub, nxt = docs[best].published, docs[runner].published
        gap = f", {((kr[2] - kb[2]).total_seconds() / 3600):.1f} h before the next" if nxt else ""
        return f"earliest published ({_fmt(pub)}{gap})" if pub else "earliest published"
    if kb[3] != kr[3]:
        return "the other pages credit a wire service; this one does not"
    if kb[4] != kr[4]:
        return f"fullest text ({content_size.get(best, 0)} shingles)"
    return "tie on every criterion: lowest id"
