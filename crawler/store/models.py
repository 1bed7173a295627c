"""SQLAlchemy 2.0 typed models: the documented schema (see docs/schema.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Article(Base):
    """One stored article, keyed by its canonical URL."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_site_published", "site", "published"),
        Index("ix_articles_fetched_url", "fetched_url"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    fetched_url: Mapped[str] = mapped_column(String(2048))
    source: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str] = mapped_column(String(255), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sitename: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    declared_canonical: Mapped[str | None] = mapped_column(String(2048))
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    word_count: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(40))
    repairs: Mapped[str] = mapped_column(String(400), default="")
    raw_html_gz: Mapped[bytes] = mapped_column(LargeBinary)
    http_status: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    membership: Mapped[StoryMember | None] = relationship(back_populates="article")


class SeenUrl(Base):
    """Every article URL the crawler fetched, with its outcome: the incremental-crawl memory."""

    __tablename__ = "seen_urls"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(100))  # "stored", "unchanged", "dropped:<reason>"
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DedupRun(Base):
    """One run of the dedup stage: parameters, counts and timing."""

    __tablename__ = "dedup_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(String(20))  # "rebuild" or "incremental"
    params: Mapped[str] = mapped_column(Text)  # JSON of the DedupConfig
    articles: Mapped[int] = mapped_column(Integer, default=0)
    stories: Mapped[int] = mapped_column(Integer, default=0)
    links: Mapped[int] = mapped_column(Integer, default=0)


class Story(Base):
    """A canonical story: its members are copies of one original."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    canonical_article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    canonical_reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer, index=True)
    first_published: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_published: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    dedup_run_id: Mapped[int | None] = mapped_column(ForeignKey("dedup_runs.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"),
                                                 index=True)

    members: Mapped[list[StoryMember]] = relationship(
        back_populates="story", cascade="all, delete-orphan"
    )
    canonical: Mapped[Article] = relationship(foreign_keys=[canonical_article_id])


class Event(Base):
    """Stories about one happening in different words (``dedup.events``): one level above copies."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Text)  # the most central story's headline
    central_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"))
    first_published: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_published: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    story_count: Mapped[int] = mapped_column(Integer, default=0)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    site_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoryMember(Base):
    """An article's membership in its story (every article is in exactly one story)."""

    __tablename__ = "story_members"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    similarity: Mapped[float] = mapped_column(Float)  # to the canonical article, 1.0 for it
    is_canonical: Mapped[bool] = mapped_column(Boolean, default=False)

    story: Mapped[Story] = relationship(back_populates="members")
    article: Mapped[Article] = relationship(back_populates="membership")


class PassageLink(Base):
    """A passage an article quotes from another story without being a copy of it."""

    __tablename__ = "passage_links"
    __table_args__ = (Index("ix_passage_links_article", "article_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    source_article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    passage: Mapped[str] = mapped_column(Text)
    article_start: Mapped[int] = mapped_column(Integer)
    article_end: Mapped[int] = mapped_column(Integer)
    source_start: Mapped[int] = mapped_column(Integer)
    source_end: Mapped[int] = mapped_column(Integer)
    similarity: Mapped[float] = mapped_column(Float)


class DedupState(Base):
    """The passage index as versions before the state directory kept it (one blob): refused
    (the algorithm changed since), deleted by the next save."""

    __tablename__ = "dedup_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    params: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FetchState(Base):
    """Revalidation state of a feed, sitemap or start page: validators and an adaptive interval."""

    __tablename__ = "fetch_state"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "feed", "sitemap", "page"
    parent: Mapped[str | None] = mapped_column(String(2048))  # index, robots.txt or page it came from
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))  # the header as sent
    last_fetched: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_changed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    interval_seconds: Mapped[float] = mapped_column(Float)
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class CrawlRun(Base):
    """One crawl (or crawl + dedup) run: when, how it ended, global counters."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    command: Mapped[str] = mapped_column(String(40))  # "crawl", "run", "schedule"
    owner: Mapped[str] = mapped_column(String(200))  # host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # running, ok, partial, failed, interrupted
    finish_reason: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[str | None] = mapped_column(Text)  # JSON of the newsdedup/* counters

    sources: Mapped[list[CrawlRunSource]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="CrawlRunSource.source"
    )


class CrawlRunSource(Base):
    """What one run did for one source."""

    __tablename__ = "crawl_run_sources"

    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    source: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(20))  # "ok" (reached), "failed" (none answered), "idle"
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[int] = mapped_column(Integer, default=0)
    dropped_reasons: Mapped[str] = mapped_column(Text, default="{}")  # JSON {reason: count}
    not_modified: Mapped[int] = mapped_column(Integer, default=0)  # feeds/sitemaps answering 304
    not_due: Mapped[int] = mapped_column(Integer, default=0)  # feeds/sitemaps skipped, not yet due
    duplicates: Mapped[int | None] = mapped_column(Integer)  # after dedup; None when not run
    errors: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, first few failures

    run: Mapped[CrawlRun] = relationship(back_populates="sources")


class RunLock(Base):
    """A named lock held in the database so two crawl runs never overlap (across machines too)."""

    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
