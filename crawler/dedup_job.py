"""The dedup stage as a job: load stored articles, run ``dedup``, store stories and passage links."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crawler.store.models import Article, DedupRun, PassageLink, Story, StoryMember, utcnow
from dedup import DedupConfig, DedupResult, Document, deduplicate


@dataclass(frozen=True)
class DedupSummary:
    run_id: int
    articles: int
    stories: int
    multi_stories: int
    links: int


def to_document(row: Article) -> Document:
    """The dedup view of a stored article."""
    return Document(
        id=row.id,
        url=row.url,
        site=row.site,
        text=row.text,
        title=row.title,
        author=row.author,
        published=row.published,
        canonical_url=row.declared_canonical,
    )


def load_documents(session: Session) -> list[Document]:
    return [to_document(row) for row in session.scalars(select(Article).order_by(Article.id))]


def save_result(session: Session, result: DedupResult, run: DedupRun,
                published: dict[int, object]) -> dict[int, int]:
    """Replace stories, members and passage links by ``result``. Returns article id -> story id."""
    session.execute(delete(PassageLink))
    session.execute(delete(StoryMember))
    session.execute(delete(Story))
    story_of: dict[int, int] = {}
    for story in result.stories:
        dates = sorted(d for d in (published.get(m) for m in story.members) if d is not None)
        row = Story(
            canonical_article_id=story.canonical,
            canonical_reason=story.reason,
            size=len(story.members),
            first_published=dates[0] if dates else None,
            last_published=dates[-1] if dates else None,
            dedup_run_id=run.id,
        )
        row.members = [
            StoryMember(
                article_id=member,
                similarity=float(story.similarity.get(member, 1.0 if member == story.canonical else 0.0)),
                is_canonical=member == story.canonical,
            )
            for member in story.members
        ]
        session.add(row)
        session.flush()
        for member in story.members:
            story_of[member] = row.id
    for link in result.links:
        session.add(
            PassageLink(
                article_id=link.doc,
                source_article_id=link.source_doc,
                story_id=story_of.get(link.source_doc),
                passage=link.text,
                article_start=link.doc_start,
                article_end=link.doc_end,
                source_start=link.source_start,
                source_end=link.source_end,
                similarity=float(link.similarity),
            )
        )
    return story_of


def run_dedup(session: Session, config: DedupConfig | None = None, rebuild: bool = True) -> DedupSummary:
    """Deduplicate every stored article and store the stories, in one transaction."""
    config = config or DedupConfig()
    run = DedupRun(mode="rebuild" if rebuild else "incremental",
                   params=json.dumps(asdict(config), sort_keys=True, default=str))
    session.add(run)
    session.flush()
    docs = load_documents(session)
    result = deduplicate(docs, config)
    save_result(session, result, run, {d.id: d.published for d in docs})
    run.articles = len(docs)
    run.stories = len(result.stories)
    run.links = len(result.links)
    run.finished_at = utcnow()
    session.commit()
    return DedupSummary(
        run_id=run.id,
        articles=len(docs),
        stories=len(result.stories),
        multi_stories=sum(1 for s in result.stories if len(s.members) > 1),
        links=len(result.links),
    )
