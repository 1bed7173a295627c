"""Revalidation of feeds, sitemaps and start pages, as pure functions.

Each such document keeps its validators (ETag, Last-Modified), when it last changed and an
interval that adapts to how often it changes: halved when it changed, grown by half when it did
not, doubled per consecutive failure; always within [min, max]. A scheduled run fetches only
documents whose ``next_due`` has passed, with ``If-None-Match`` / ``If-Modified-Since``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class IntervalPolicy:
    """Bounds of the adaptive fetch interval, in seconds."""

    min_seconds: float = 600.0
    initial_seconds: float = 1800.0
    max_seconds: float = 86400.0

    def clamp(self, seconds: float) -> float:
        return max(self.min_seconds, min(self.max_seconds, seconds))


@dataclass(frozen=True)
class DocState:
    """What is remembered about one feed, sitemap or start page between runs."""

    url: str
    source: str
    kind: str  #: "feed", "sitemap" or "page"
    parent: str | None = None  #: the index, robots.txt or page it was found in
    etag: str | None = None
    last_modified: str | None = None
    last_fetched: datetime | None = None
    last_changed: datetime | None = None
    content_hash: str | None = None
    interval_seconds: float = 0.0
    next_due: datetime | None = None
    failures: int = 0
    last_status: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class FetchOutcome:
    """One fetch of a document in this run: a status and validators, or an error."""

    url: str
    source: str
    kind: str
    parent: str | None = None
    status: int | None = None  #: None when no response arrived
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    error: str | None = None
    complete: bool = True  #: False: not every URL it listed was fetched; keep no validators


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def conditional_headers(state: DocState | None) -> dict[str, str]:
    """``If-None-Match`` / ``If-Modified-Since`` from the stored validators."""
    if state is None:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def is_due(state: DocState | None, now: datetime) -> bool:
    """A document never fetched, or whose ``next_due`` has passed, is due."""
    return state is None or state.next_due is None or state.next_due <= now


def apply_outcome(state: DocState | None, outcome: FetchOutcome, policy: IntervalPolicy,
                  now: datetime) -> DocState:
    """The state after ``outcome``: validators, change time, adapted interval and next due time."""
    base = state or DocState(url=outcome.url, source=outcome.source, kind=outcome.kind,
                             interval_seconds=policy.initial_seconds)
    base = replace(base, source=outcome.source, kind=outcome.kind,
                   parent=outcome.parent or base.parent, last_status=outcome.status)
    interval = base.interval_seconds or policy.initial_seconds
    if outcome.error is not None or outcome.status is None or outcome.status >= 400:
        failures = base.failures + 1
        wait = policy.clamp(policy.min_seconds * 2 ** (failures - 1))
        return replace(base, failures=failures, last_error=outcome.error or f"HTTP {outcome.status}",
                       next_due=now + timedelta(seconds=wait))
    changed = outcome.status != 304 and (
        state is None or outcome.content_hash is None or outcome.content_hash != state.content_hash
    )
    interval = policy.clamp(interval / 2 if changed else interval * 1.5)
    if outcome.status == 304:
        etag, last_modified, digest = base.etag, base.last_modified, base.content_hash
    elif outcome.complete:
        etag, last_modified, digest = outcome.etag, outcome.last_modified, outcome.content_hash
    else:  # the next run must read it in full again
        etag, last_modified, digest = None, None, None
    return replace(
        base, etag=etag, last_modified=last_modified, content_hash=digest, last_fetched=now,
        last_changed=now if changed else base.last_changed, interval_seconds=interval,
        next_due=now + timedelta(seconds=interval), failures=0, last_error=None,
    )
