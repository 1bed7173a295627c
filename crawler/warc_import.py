"""``newsdedup import-warc``: article records of a WARC through extraction and the store."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crawler.content.page import NotAnArticle, process_page
from crawler.items import RawPage
from crawler.store.repo import record_seen, store_article
from crawler.urls import canonical_url, host_of
from crawler.warc import WarcPage, read_pages
from pipelines.extract import to_article


def to_raw_page(page: WarcPage, source: str | None = None) -> RawPage:
    """The RawPage the spider would have yielded for this response."""
    return RawPage(
        url=canonical_url(page.url), final_url=page.url,
        source=page.source or source or host_of(page.url), status=page.status, body=page.body,
        content_type=page.content_type, fetched_at=page.date or datetime.now(UTC),
    )


def import_warc(session: Session, path: Path, source: str | None = None) -> Counter[str]:
    """Extract and store every 2xx article response of ``path`` (feeds, sitemaps, start pages and
    robots.txt of our own WARCs are skipped); counts of stored/changed/unchanged/dropped/skipped,
    of drops by reason ("dropped:<reason>") and of articles stored beside another page that
    claimed the same key ("collided", also counted as stored)."""
    counts: Counter[str] = Counter()
    for page in read_pages(path):
        if page.kind not in (None, "article") or not 200 <= page.status < 300:
            counts["skipped"] += 1
            continue
        raw = to_raw_page(page, source)
        try:
            result = process_page(raw.body, raw.final_url, raw.content_type)
        except NotAnArticle as exc:
            record_seen(session, raw.url, f"dropped:{exc.reason}")
            counts["dropped"] += 1
            counts[f"dropped:{exc.reason}"] += 1
            continue
        article = to_article(raw, result)
        outcome = store_article(session, article)[0]
        counts.update(("collided", "stored") if outcome == "collided" else (outcome,))
    session.commit()
    return counts


def summary_line(counts: Counter[str]) -> str:
    """One line for the user: the outcomes, drops by reason, and key collisions if any."""
    line = ", ".join(f"{counts[k]} {k}" for k in ("stored", "changed", "unchanged", "dropped", "skipped"))
    reasons = [f"{n} {k.removeprefix('dropped:')}" for k, n in sorted(counts.items())
               if k.startswith("dropped:")]
    if reasons:
        line += f" (dropped: {', '.join(reasons)})"
    if counts["collided"]:
        line += f"; {counts['collided']} stored beside another page that claimed the same URL"
    return line
