"""figure roll-ups

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-23 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None

_COUNTS = (
    'tickets', 'responded', 'on_time_n', 'on_time_d', 'feedback_n', 'feedback_d',
    'very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied',
    'excluded', 'cycle_seconds', 'cycle_n', 'extensions', 'hops', 'returns', 'returns_made',
)


def upgrade() -> None:
    op.create_table(
        'figure_rollups',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('district', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        *(
            sa.Column(
                name,
                sa.BigInteger() if name == 'cycle_seconds' else sa.Integer(),
                server_default='0',
                nullable=False,
            )
            for name in _COUNTS
        ),
        sa.PrimaryKeyConstraint(
            'day', 'department', 'district', 'channel', name=op.f('pk_figure_rollups')
        ),
    )
    op.create_table(
        'figure_rollup_rules',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('response_seconds', sa.JSON(), nullable=False),
        sa.Column('default_response_seconds', sa.Float(), nullable=False),
        sa.Column('feedback_seconds', sa.Float(), nullable=False),
        sa.Column('built_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_figure_rollup_rules')),
    )
    unsettled = sa.text('result_at IS NULL AND due_at IS NOT NULL')
    op.create_index(
        'ix_tickets_unsettled',
        'tickets',
        ['created_at', 'due_at', 'lead_department', 'district'],
        unique=False,
        sqlite_where=unsettled,
        postgresql_where=unsettled,
    )


def downgrade() -> None:
    op.drop_index(
        'ix_tickets_unsettled',
        table_name='tickets',
        sqlite_where=sa.text('result_at IS NULL AND due_at IS NOT NULL'),
        postgresql_where=sa.text('result_at IS NULL AND due_at IS NOT NULL'),
    )
    op.drop_table('figure_rollup_rules')
    op.drop_table('figure_rollups')
