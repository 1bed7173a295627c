"""Articles by update time: the document-level dedup finds changed articles without a table scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:02:17.367227
"""

from __future__ import annotations

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_articles_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_articles_updated_at'))
