"""Events: stories about one happening in different words (``events``, ``stories.event_id``) and
the ``event_overview`` view (``crawler.store.views.VIEWS_0005``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.store.views import VIEWS_0002, VIEWS_0005, create_views, drop_views

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("central_article_id", sa.Integer(), nullable=True),
        sa.Column("first_published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("story_count", sa.Integer(), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("site_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["central_article_id"], ["articles.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_first_published"), ["first_published"])
        batch_op.create_index(batch_op.f("ix_events_last_published"), ["last_published"])
    # SQLite rebuilds ``stories`` to add a foreign key: the views reading it go and come back.
    drop_views(op, VIEWS_0002)
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_stories_event_id"), ["event_id"])
        batch_op.create_foreign_key("fk_stories_event_id_events", "events", ["event_id"], ["id"],
                                    ondelete="SET NULL")
    create_views(op, op.get_bind().dialect.name, VIEWS_0002 + VIEWS_0005)


def downgrade() -> None:
    drop_views(op, VIEWS_0002 + VIEWS_0005)
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_constraint("fk_stories_event_id_events", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_stories_event_id"))
        batch_op.drop_column("event_id")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_last_published"))
        batch_op.drop_index(batch_op.f("ix_events_first_published"))
    op.drop_table("events")
    create_views(op, op.get_bind().dialect.name, VIEWS_0002)
