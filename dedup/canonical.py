"""Canonical page of a story: one explicit total order, and the reason it decided."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
    host = urlsplit(doc.url).hostname or doc.site
    label = (doc.site or host).split(":")[0].removeprefix("www.")
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


def choose_canonical(members: Sequence[int], docs: Mapping[int, Document],
                     content_size: Mapping[int, int]) -> CanonicalChoice:
    """Pick the original among a story's pages.

    Order: most copies declaring it their rel=canonical (cross-domain), most provenance notes
    naming its site ("originally published by X"), earliest publication (unknown last), not a
    wire-credited republication, fullest text, lowest id.
    """
    if len(members) == 1:
        return CanonicalChoice(members[0], "single page")
    url_of = {m: docs[m].url for m in members}
    canon_votes = dict.fromkeys(members, 0)
    for m in members:
        target = docs[m].canonical_url
        for other in members:
            if other != m and target and target == url_of[other]:
                canon_votes[other] += 1
    by_site: dict[str, list[int]] = {}
    for m in members:
        by_site.setdefault(site_key(docs[m]), []).append(m)
    note_votes = dict.fromkeys(members, 0)
    note_names: dict[int, str] = {}
    for m in members:
        for name in provenance_notes(docs[m].text):
            for other in by_site.get(_key(name), ()):
                if other != m:
                    note_votes[other] += 1
                    note_names[other] = name
    def key(m: int) -> tuple:
        ts = utc_naive(docs[m].published)
        return (-canon_votes[m], -note_votes[m], ts, is_wire_copy(docs[m]),
                -content_size.get(m, 0), m)

    ranked = sorted(members, key=key)
    best, runner = ranked[0], ranked[1]
    kb, kr = key(best), key(runner)
    n = len(members)
    if kb[0] != kr[0]:
        reason = (f"declared canonical (rel=canonical) by {canon_votes[best]} of {n - 1} other "
                  "pages")
    elif kb[1] != kr[1]:
        reason = (f"named as original publisher by {note_votes[best]} page(s) "
                  f"('{note_names[best]}')")
    elif kb[2] != kr[2]:
        pub, nxt = docs[best].published, docs[runner].published
        gap = f", {((kr[2] - kb[2]).total_seconds() / 3600):.1f} h before the next" if nxt else ""
        reason = f"earliest published ({_fmt(pub)}{gap})" if pub else "earliest published"
    elif kb[3] != kr[3]:
        reason = "the other pages credit a wire service; this one does not"
    elif kb[4] != kr[4]:
        reason = f"fullest text ({content_size.get(best, 0)} shingles)"
    else:
        reason = "tie on every criterion: lowest id"
    return CanonicalChoice(best, reason)
