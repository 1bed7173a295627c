"""``newsdedup import-warc``: article records of a WARC through extraction and the store."""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.exceptions import ArchiveLoadFailed

from crawler.content.page import NotAnArticle, process_page
from crawler.items import RawPage
from crawler.store.models import Article
from crawler.store.repo import record_seen, storable, store_article, url_key
from crawler.urls import canonical_url, host_of
from crawler.warc import WarcPage, read_pages
from pipelines.extract import to_article

logger = logging.getLogger(__name__)


def to_raw_page(page: WarcPage, source: str | None = None) -> RawPage:
    """The RawPage the spider would have yielded for this response."""
    return RawPage(
        url=canonical_url(page.url), final_url=page.url,
        source=page.source or source or host_of(page.url), status=page.status, body=page.body,
        content_type=page.content_type, fetched_at=page.date or datetime.now(UTC),
    )


def skip_reason(page: WarcPage) -> str | None:
    """Why a capture is not an article page to extract (None: it is one): a revisit (its payload
    is an earlier capture's), a feed/sitemap/start page/robots.txt of our own WARCs, a redirect,
    another non-2xx status (``http_404``), or a status line that cannot be read."""
    if page.record == "revisit":
        return "revisit"
    if page.kind not in (None, "article"):
        return page.kind
    if 200 <= page.status < 300:
        return None
    if 300 <= page.status < 400:
        return "redirect"
    return f"http_{page.status}" if page.status else "bad_status"


#: Pages stored between commits: an import stopped half-way keeps what it stored.
COMMIT_EVERY = 100


def import_warc(session: Session, path: Path, source: str | None = None) -> Counter[str]:
    """Extract and store every 2xx article capture of ``path`` (not one older than the stored
    capture of its URL: "skipped:older_capture"); every capture is counted once:
    stored/changed/unchanged (articles stored beside another page that claimed the same key are
    also counted "collided"), dropped ("dropped:<reason>", also recorded as seen), skipped
    ("skipped:<reason>", see ``skip_reason``) or failed (an error extraction did not expect,
    "failed:<error>"; logged, not remembered, so the next import tries it again)."""
    counts: Counter[str] = Counter()
    try:
        _import_pages(session, read_pages(path), source, counts)
    except UNREADABLE as exc:
        session.commit()  # the pages read before the damage stay stored
        detail = str(exc).encode("ascii", "backslashreplace").decode()  # warcio quotes raw bytes
        raise UnreadableWarc(detail if len(detail) <= 160 else detail[:157] + "...", counts) from exc
    session.commit()
    return counts


#: What a damaged or truncated WARC raises while it is read.
UNREADABLE = (ArchiveLoadFailed, OSError, EOFError, zlib.error)


class UnreadableWarc(Exception):
    """The WARC could not be read to its end; ``counts`` are those of the pages read before."""

    def __init__(self, message: str, counts: Counter[str]) -> None:
        super().__init__(message)
        self.counts = counts


def _import_pages(session: Session, pages: Iterator[WarcPage], source: str | None,
                  counts: Counter[str]) -> None:
    for n, page in enumerate(pages, 1):
        reason = skip_reason(page)
        if reason:
            counts.update(("skipped", f"skipped:{reason}"))
            continue
        if _newer_capture_stored(session, page):
            counts.update(("skipped", "skipped:older_capture"))
            continue
        raw = to_raw_page(page, source)
        try:
            if page.problem:
                raise NotAnArticle(page.problem)
            result = process_page(raw.body, raw.final_url, raw.content_type)
        except NotAnArticle as exc:  # a capture cut short is dropped for that, whatever it lacks
            reason = "truncated" if page.truncated and exc.reason != "too_large" else exc.reason
            record_seen(session, raw.url, f"dropped:{reason}")
            counts.update(("dropped", f"dropped:{reason}"))
            continue
        except Exception as exc:  # one page's failure costs only that page
            logger.warning("%s: %s: %s", raw.final_url, type(exc).__name__, exc)
            counts.update(("failed", f"failed:{type(exc).__name__}"))
            continue
        outcome = store_article(session, storable(to_article(raw, result)))[0]
        counts.update(("collided", "stored") if outcome == "collided" else (outcome,))
        if n % COMMIT_EVERY == 0:
            session.commit()


def _newer_capture_stored(session: Session, page: WarcPage) -> bool:
    """Whether a later capture of this URL is stored already (WARCs given newest first, or a
    crawl's captures out of order): an older one must not replace it."""
    if page.date is None:
        return False
    stored = session.scalars(select(Article.fetched_at).where(
        Article.fetched_url == url_key(page.url))).first()
    return stored is not None and stored > page.date


def summary_line(counts: Counter[str]) -> str:
    """One line for the user: the outcomes, drops and skips by reason, failures and key collisions."""
    line = ", ".join(f"{counts[k]} {k}" for k in ("stored", "changed", "unchanged", "dropped", "skipped"))
    for kind in ("dropped", "skipped"):
        reasons = [f"{n} {k.removeprefix(kind + ':')}" for k, n in sorted(counts.items())
                   if k.startswith(kind + ":")]
        if reasons:
            line += f" ({kind}: {', '.join(reasons)})"
    if counts["failed"]:
        errors = ", ".join(f"{n} {k.removeprefix('failed:')}" for k, n in sorted(counts.items())
                           if k.startswith("failed:"))
        line += f"; {counts['failed']} failed ({errors})"
    if counts["collided"]:
        line += f"; {counts['collided']} stored beside another page that claimed the same URL"
    return line
