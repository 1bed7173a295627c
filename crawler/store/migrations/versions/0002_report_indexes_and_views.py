"""Indexes for the report queries (site+date, fetched URL, story dates) and the SQL views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-10

The views are ``crawler.store.views.VIEWS_0002`` (a frozen set: change views in a new revision).
"""

from __future__ import annotations

from alembic import op

from crawler.store.views import VIEWS_0002, create_views, drop_views

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_articles_site_published", "articles", ["site", "published"])
    op.create_index("ix_articles_fetched_url", "articles", ["fetched_url"])
    op.create_index("ix_stories_first_published", "stories", ["first_published"])
    op.create_index("ix_stories_last_published", "stories", ["last_published"])
    create_views(op, op.get_bind().dialect.name, VIEWS_0002)


def downgrade() -> None:
    drop_views(op, VIEWS_0002)
    op.drop_index("ix_stories_last_published", table_name="stories")
    op.drop_index("ix_stories_first_published", table_name="stories")
    op.drop_index("ix_articles_fetched_url", table_name="articles")
    op.drop_index("ix_articles_site_published", table_name="articles")
