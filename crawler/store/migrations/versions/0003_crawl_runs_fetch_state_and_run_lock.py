"""Crawl runs (per source), fetch state of feeds/sitemaps (revalidation, intervals), the run lock.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:15:09.808830
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table('crawl_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('command', sa.String(length=40), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('finish_reason', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('stats', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_runs_started_at'), ['started_at'], unique=False)

    op.create_table('fetch_state',
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent', sa.String(length=2048), nullable=True),
    sa.Column('etag', sa.String(length=400), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('last_fetched', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_changed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('interval_seconds', sa.Float(), nullable=False),
    sa.Column('next_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('url')
    )
    with op.batch_alter_table('fetch_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fetch_state_next_due'), ['next_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_fetch_state_source'), ['source'], unique=False)

    op.create_table('run_locks',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('crawl_run_sources',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('fetched', sa.Integer(), nullable=False),
    sa.Column('new', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('dropped', sa.Integer(), nullable=False),
    sa.Column('dropped_reasons', sa.Text(), nullable=False),
    sa.Column('not_modified', sa.Integer(), nullable=False),
    sa.Column('not_due', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=True),
    sa.Column('errors', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'source')
    )
    with op.batch_alter_table('crawl_run_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_run_sources_source'), ['source'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('crawl_run_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_run_sources_source'))

    op.drop_table('crawl_run_sources')
    op.drop_table('run_locks')
    with op.batch_alter_table('fetch_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_state_source'))
        batch_op.drop_index(batch_op.f('ix_fetch_state_next_due'))

    op.drop_table('fetch_state')
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_runs_started_at'))

    op.drop_table('crawl_runs')
