"""administration

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limit_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('limit_hours', sa.Float(), nullable=True))
    op.create_table('transfer_lines',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), server_default='', nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), server_default='blind', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('sort', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_by', sa.String(length=64), server_default='', nullable=False),
    sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_transfer_lines'))
    )
    op.create_table('admin_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), server_default='', nullable=False),
    sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_admin_settings'))
    )


def downgrade() -> None:
    op.drop_table('admin_settings')
    op.drop_table('transfer_lines')
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('limit_hours')
        batch_op.drop_column('limit_days')
