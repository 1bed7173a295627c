"""Report queries: stories with their members and the passages quoted from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
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


@dataclass
class PassageView:
    article_id: int
    article_url: str
    article_site: str
    source_url: str
    passage: str
    similarity: float


@dataclass
class StoryView:
    id: int
    size: int
    canonical_url: str
    canonical_title: str | None
    reason: str
    first_published: datetime | None
    members: list[MemberView] = field(default_factory=list)
    passages: list[PassageView] = field(default_factory=list)


@dataclass
class ReportTotals:
    articles: int
    stories: int
    multi_stories: int
    duplicates: int
    passage_links: int


def totals(session: Session) -> ReportTotals:
    """Counts for the report header."""
    articles = session.scalar(select(func.count()).select_from(Article)) or 0
    stories = session.scalar(select(func.count()).select_from(Story)) or 0
    multi = session.scalar(select(func.count()).select_from(Story).where(Story.size > 1)) or 0
    dups = session.scalar(select(func.coalesce(func.sum(Story.size - 1), 0)).where(Story.size > 1))
    links = session.scalar(select(func.count()).select_from(PassageLink)) or 0
    return ReportTotals(articles, stories, multi, int(dups or 0), links)


def load_stories(session: Session, min_size: int = 2, limit: int | None = None) -> list[StoryView]:
    """Stories with at least ``min_size`` members or a quoted passage, largest and newest first."""
    quoted = select(PassageLink.story_id).where(PassageLink.story_id.is_not(None))
    canonical = aliased(Article)
    stmt = (
        select(Story, canonical)
        .join(canonical, Story.canonical_article_id == canonical.id)
        .where(or_(Story.size >= min_size, Story.id.in_(quoted)))
        .order_by(Story.size.desc(), Story.first_published.desc(), Story.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    views: dict[int, StoryView] = {}
    for story, art in session.execute(stmt):
        views[story.id] = StoryView(story.id, story.size, art.url, art.title,
                                    story.canonical_reason, story.first_published)
    if not views:
        return []
    members = session.execute(
        select(StoryMember, Article)
        .join(Article, StoryMember.article_id == Article.id)
        .where(StoryMember.story_id.in_(views))
        .order_by(StoryMember.is_canonical.desc(), Article.published, Article.id)
    )
    for member, art in members:
        views[member.story_id].members.append(
            MemberView(art.id, art.url, art.site, art.title, art.published, member.similarity,
                       member.is_canonical)
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
            PassageView(q.id, q.url, q.site, s.url, link.passage, link.similarity)
        )
    return list(views.values())
