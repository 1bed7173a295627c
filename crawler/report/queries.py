"""Report queries: stories with their members and the passages quoted from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from crawler.store.models import Article, PassageLink, Story, StoryMember


@dataclass
class MemberView:
    article_id: int
    url: str
    site: str
    title: str | None
    published: datetime | None
    similarity: float
    is_canonical: bool
    lag_seconds: int | None = None  # published after the canonical article (negative: before)


@dataclass
class PassageView:
    article_id: int
    article_url: str
    article_site: str
    source_url: str
    passage: str
    similarity: float
    source_article_id: int = 0
    source_site: str = ""
    article_title: str | None = None
    article_start: int = 0
    article_end: int = 0
    source_start: int = 0
    source_end: int = 0
    copies: int = 1  # copies of the quoted story carrying the quote (one is shown: ``one_copy_each``)


class StoryOutlets:
    """The outlets of a story view (the story report's and the event report's)."""

    members: list[MemberView]

    @property
    def sites(self) -> list[str]:
        """Distinct outlets in member order (canonical first)."""
        return list(dict.fromkeys(m.site for m in self.members))


@dataclass
class StoryView(StoryOutlets):
    id: int
    size: int
    canonical_url: str
    canonical_title: str | None
    reason: str
    first_published: datetime | None
    members: list[MemberView] = field(default_factory=list)
    passages: list[PassageView] = field(default_factory=list)
    canonical_article_id: int = 0
    canonical_site: str = ""
    last_published: datetime | None = None


@dataclass
class ReportTotals:
    articles: int
    stories: int
    multi_stories: int
    duplicates: int
    passage_links: int  # pages quoting a story: (quoting page, quoted story) pairs, not per copy


def totals(session: Session) -> ReportTotals:
    """Counts for the report header."""
    articles = session.scalar(select(func.count()).select_from(Article)) or 0
    stories = session.scalar(select(func.count()).select_from(Story)) or 0
    multi = session.scalar(select(func.count()).select_from(Story).where(Story.size > 1)) or 0
    dups = session.scalar(select(func.coalesce(func.sum(Story.size - 1), 0)).where(Story.size > 1))
    pairs = select(PassageLink.article_id, PassageLink.story_id).distinct().subquery()
    links = session.scalar(select(func.count()).select_from(pairs)) or 0
    return ReportTotals(articles, stories, multi, int(dups or 0), links)


@dataclass(frozen=True)
class ReportFilter:
    """What the report shows. Every value reaches the database as a bound parameter."""

    since: datetime | None = None  # stories with an article published at or after
    until: datetime | None = None  # stories with an article published at or before
    site: str | None = None  # stories with a member from this site (host) or source name
    min_size: int = 2  # at least this many articles (or a quoted passage); ignored with story_id
    story_id: int | None = None
    search: str | None = None  # case-insensitive text in a member's title or body
    limit: int | None = None

    def describe(self) -> list[str]:
        """The active filters, for people."""
        parts = []
        if self.story_id is not None:
            parts.append(f"story {self.story_id}")
        else:
            parts.append(f"at least {self.min_size} articles or a quoted passage")
        if self.since:
            parts.append(f"since {self.since:%Y-%m-%d %H:%M} UTC")
        if self.until:
            parts.append(f"until {self.until:%Y-%m-%d %H:%M} UTC")
        if self.site:
            parts.append(f"site {self.site}")
        if self.search:
            parts.append(f"text contains “{self.search}”")
        if self.limit:
            parts.append(f"at most {self.limit} stories")
        return parts


def parse_when(value: str, end_of_day: bool = False) -> datetime:
    """ISO 8601 date or date-time; naive means UTC. A bare date as an upper bound means its last instant."""
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1, microseconds=-1) if end_of_day else moment
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date or date-time: {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _member_matches(condition: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """Some member article of the story satisfies ``condition`` (given the member's alias)."""
    member = aliased(Article)
    return exists(
        select(StoryMember.article_id)
        .join(member, member.id == StoryMember.article_id)
        .where(StoryMember.story_id == Story.id, condition(member))
    )


def select_stories(flt: ReportFilter) -> Select[tuple[Story, Article]]:
    """The story query for ``flt``: stories with their canonical article, largest and newest first."""
    canonical = aliased(Article)
    stmt = select(Story, canonical).join(canonical, Story.canonical_article_id == canonical.id)
    if flt.story_id is not None:
        stmt = stmt.where(Story.id == flt.story_id)
    else:
        quoted = select(PassageLink.story_id).where(PassageLink.story_id.is_not(None))
        stmt = stmt.where(or_(Story.size >= flt.min_size, Story.id.in_(quoted)))
    if flt.since is not None:
        stmt = stmt.where(Story.last_published >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Story.first_published <= flt.until)
    if flt.site:
        site, source = flt.site.strip().lower(), flt.site.strip()
        stmt = stmt.where(_member_matches(lambda a: or_(a.site == site, a.source == source)))
    if flt.search:
        needle = flt.search
        stmt = stmt.where(_member_matches(lambda a: or_(
            a.title.icontains(needle, autoescape=True), a.text.icontains(needle, autoescape=True))))
    stmt = stmt.order_by(Story.size.desc(), Story.first_published.desc(), Story.id)
    if flt.limit:
        stmt = stmt.limit(flt.limit)
    return stmt


def _lag(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else round((end - start).total_seconds())


def load_story_views(session: Session, flt: ReportFilter) -> list[StoryView]:
    """Stories matching ``flt`` with their members (canonical first, then by time) and quoted passages."""
    views: dict[int, StoryView] = {}
    for story, art in session.execute(select_stories(flt)):
        views[story.id] = StoryView(
            story.id, story.size, art.url, art.title, story.canonical_reason, story.first_published,
            canonical_article_id=art.id, canonical_site=art.site, last_published=story.last_published,
        )
    if not views:
        return []
    members = session.execute(
        select(StoryMember, Article)
        .join(Article, StoryMember.article_id == Article.id)
        .where(StoryMember.story_id.in_(views))
        .order_by(StoryMember.is_canonical.desc(), Article.published, Article.id)
    )
    canonical_time: dict[int, datetime | None] = {}
    for member, art in members:
        if member.is_canonical:
            canonical_time[member.story_id] = art.published
        lag = None if member.is_canonical else _lag(canonical_time.get(member.story_id), art.published)
        views[member.story_id].members.append(
            MemberView(art.id, art.url, art.site, art.title, art.published, member.similarity,
                       member.is_canonical, lag)
        )
    quoting, source = aliased(Article), aliased(Article)
    links = session.execute(
        select(PassageLink, quoting, source)
        .join(quoting, PassageLink.article_id == quoting.id)
        .join(source, PassageLink.source_article_id == source.id)
        .where(PassageLink.story_id.in_(views))
        .order_by(PassageLink.story_id, quoting.id, PassageLink.article_start)
    )
    for link, q, s in links:
        views[link.story_id].passages.append(
            PassageView(q.id, q.url, q.site, s.url, link.passage, link.similarity,
                        source_article_id=s.id, source_site=s.site, article_title=q.title,
                        article_start=link.article_start, article_end=link.article_end,
                        source_start=link.source_start, source_end=link.source_end)
        )
    for view in views.values():
        view.passages = one_copy_each(view.passages, view.canonical_article_id)
    return list(views.values())


def one_copy_each(links: list[PassageView], canonical_id: int) -> list[PassageView]:
    """The passages a page quotes from a story, from one copy only: the store links the quote to
    every copy carrying it, which would show one quotation once per copy. The copy chosen carries
    the most of the quote (the canonical article on a tie); ``copies`` says how many do."""
    by_quoter: dict[int, dict[int, list[PassageView]]] = {}
    for link in links:
        by_quoter.setdefault(link.article_id, {}).setdefault(link.source_article_id, []).append(link)
    out: list[PassageView] = []
    for sources in by_quoter.values():
        def weight(item: tuple[int, list[PassageView]]) -> tuple[int, bool, float, int]:
            source_id, found = item
            return (sum(p.article_end - p.article_start for p in found), source_id == canonical_id,
                    max(p.similarity for p in found), -source_id)

        _, best = max(sources.items(), key=weight)
        for link in best:
            link.copies = len(sources)
        out.extend(best)
    return out


def load_texts(session: Session, article_ids: set[int]) -> dict[int, str]:
    """Article bodies by id (for the side-by-side passages of the HTML report)."""
    if not article_ids:
        return {}
    rows = session.execute(select(Article.id, Article.text).where(Article.id.in_(article_ids)))
    return {row.id: row.text for row in rows}


@dataclass
class Report:
    """Everything a renderer needs."""

    totals: ReportTotals
    stories: list[StoryView]
    filters: ReportFilter
    generated_at: datetime
    texts: dict[int, str] = field(default_factory=dict)  # filled only when asked (HTML)


def load_report(session: Session, flt: ReportFilter, with_texts: bool = False) -> Report:
    """Totals, the matching stories and, with ``with_texts``, the bodies of their articles."""
    stories = load_story_views(session, flt)
    texts: dict[int, str] = {}
    if with_texts:
        ids = {m.article_id for s in stories for m in s.members}
        ids |= {p.article_id for s in stories for p in s.passages}
        ids |= {p.source_article_id for s in stories for p in s.passages}
        texts = load_texts(session, ids)
    return Report(totals(session), stories, flt, datetime.now(UTC), texts)
