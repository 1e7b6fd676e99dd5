"""knowledge base

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kb_articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], name=op.f('fk_kb_articles_department_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_articles'))
    )
    op.create_index('ix_kb_articles_department', 'kb_articles', ['department', 'status'], unique=False)
    op.create_table('kb_versions',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('title_terms', sa.Text(), nullable=False),
    sa.Column('body_terms', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=64), nullable=True),
    sa.Column('submitted_at', tickets.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=64), nullable=True),
    sa.Column('reviewed_at', tickets.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_versions_article_id_kb_articles')),
    sa.ForeignKeyConstraint(['category'], ['categories.code'], name=op.f('fk_kb_versions_category_categories')),
    sa.PrimaryKeyConstraint('article_id', 'version', name=op.f('pk_kb_versions'))
    )


def downgrade() -> None:
    op.drop_table('kb_versions')
    op.drop_index('ix_kb_articles_department', table_name='kb_articles')
    op.drop_table('kb_articles')
