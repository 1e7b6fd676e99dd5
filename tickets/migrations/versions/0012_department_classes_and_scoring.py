"""department classes and scoring adjustments

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'department_classes',
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name_zh', sa.String(length=200), nullable=False),
        sa.Column('name_en', sa.String(length=200), server_default='', nullable=False),
        sa.Column('weights', sa.JSON(), nullable=False),
        sa.Column('position', sa.Integer(), server_default='0', nullable=False),
        sa.Column('updated_by', sa.String(length=64), server_default='', nullable=False),
        sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_table(
        'score_adjustments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('points', sa.Float(), server_default='0', nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['department'], ['departments.code']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_score_adjustments_day', 'score_adjustments', ['day', 'department'], unique=False
    )
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('class_code', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_column('class_code')
    op.drop_index('ix_score_adjustments_day', table_name='score_adjustments')
    op.drop_table('score_adjustments')
    op.drop_table('department_classes')
