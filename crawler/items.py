"""Item contracts between the spider and the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class RawPage:
    """A fetched page as the spider yields it: bytes and where they came from, nothing parsed."""

    url: str  #: canonicalised URL that was requested
    final_url: str  #: URL after redirects
    source: str  #: name of the source (sources file entry) that led here
    status: int
    body: bytes
    content_type: str | None
    fetched_at: datetime
    hint_title: str | None = None  #: title given by the feed or news sitemap
    hint_published: str | None = None  #: date given by the feed or news sitemap


@dataclass
class Article:
    """An extracted article, ready to store."""

    url: str  #: storage key: same-site rel=canonical, else the canonicalised final URL
    fetched_url: str
    source: str
    site: str  #: host of ``url``
    status: int
    fetched_at: datetime
    text: str
    title: str | None
    author: str | None
    published: datetime | None
    sitename: str | None
    language: str | None
    declared_canonical: str | None  #: the page's own rel=canonical, possibly on another site
    encoding: str
    repairs: tuple[str, ...]
    raw_html: bytes = field(repr=False)
    requested_url: str = ""  #: URL the spider asked for, remembered as seen
