"""Initial schema: the tables ``create_all`` made before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-03-10

A database created by that ``create_all`` is adopted (stamped at this revision), never recreated.
Column types are spelled out here (not imported from the models) so this revision stays frozen.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)  # crawler.store.models.UTCDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("fetched_url", sa.String(length=2048), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published", UTC_DATETIME, nullable=True),
        sa.Column("sitename", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=True),
        sa.Column("declared_canonical", sa.String(length=2048), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=40), nullable=True),
        sa.Column("repairs", sa.String(length=400), nullable=False),
        sa.Column("raw_html_gz", sa.LargeBinary(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("fetched_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url"),
    )
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
    op.create_index("ix_articles_published", "articles", ["published"])
    op.create_index("ix_articles_site", "articles", ["site"])
    op.create_index("ix_articles_source", "articles", ["source"])

    op.create_table(
        "dedup_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("stories", sa.Integer(), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "dedup_state",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "seen_urls",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=100), nullable=False),
        sa.Column("first_seen", UTC_DATETIME, nullable=False),
        sa.Column("last_seen", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("url"),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canonical_article_id", sa.Integer(), nullable=False),
        sa.Column("canonical_reason", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_published", UTC_DATETIME, nullable=True),
        sa.Column("last_published", UTC_DATETIME, nullable=True),
        sa.Column("dedup_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["canonical_article_id"], ["articles.id"]),
        sa.ForeignKeyConstraint(["dedup_run_id"], ["dedup_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stories_canonical_article_id", "stories", ["canonical_article_id"])
    op.create_index("ix_stories_size", "stories", ["size"])

    op.create_table(
        "passage_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("source_article_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=True),
        sa.Column("passage", sa.Text(), nullable=False),
        sa.Column("article_start", sa.Integer(), nullable=False),
        sa.Column("article_end", sa.Integer(), nullable=False),
        sa.Column("source_start", sa.Integer(), nullable=False),
        sa.Column("source_end", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.ForeignKeyConstraint(["source_article_id"], ["articles.id"]),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_passage_links_article", "passage_links", ["article_id"])
    op.create_index("ix_passage_links_source_article_id", "passage_links", ["source_article_id"])
    op.create_index("ix_passage_links_story_id", "passage_links", ["story_id"])

    op.create_table(
        "story_members",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("is_canonical", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id"),
    )
    op.create_index("ix_story_members_story_id", "story_members", ["story_id"])


def downgrade() -> None:
    for table in ("story_members", "passage_links", "stories", "seen_urls", "dedup_state",
                  "dedup_runs", "articles"):
        op.drop_table(table)  # dropping a table drops its indexes
