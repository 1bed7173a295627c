"""Value types crossing the dedup boundary: input documents and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Document:
    """One article as dedup sees it. ``text``: paragraphs separated by "\\n"."""

    id: int
    url: str
    site: str
    text: str
    title: str | None = None
    author: str | None = None
    published: datetime | None = None  # tz-aware
    canonical_url: str | None = None  # the page's own rel=canonical (may be cross-domain)


@dataclass(frozen=True, slots=True)
class Story:
    """Pages that are copies of one story; ``similarity``: member -> containment vs canonical."""

    members: tuple[int, ...]
    canonical: int
    reason: str
    similarity: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PassageLink:
    """``doc`` quotes a passage of ``source_doc`` (another story) without being a copy of it.

    Offsets are character offsets into each document's ``text``.
    """

    doc: int
    source_doc: int
    text: str
    doc_start: int
    doc_end: int
    source_start: int
    source_end: int
    similarity: float


@dataclass(frozen=True, slots=True)
class DedupResult:
    """Every document is in exactly one story (singletons included)."""

    stories: list[Story]
    links: list[PassageLink]
    params: dict[str, object] = field(default_factory=dict)

    def story_of(self) -> dict[int, int]:
        """Document id -> index of its story in ``stories``."""
        return {m: i for i, s in enumerate(self.stories) for m in s.members}
