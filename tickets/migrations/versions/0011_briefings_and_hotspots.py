"""briefings and hotspots

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'briefing_runs',
        sa.Column('period_key', sa.String(length=32), nullable=False),
        sa.Column('generated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('messages', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('period_key', name=op.f('pk_briefing_runs')),
    )
    op.create_table(
        'hotspot_days',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=100), nullable=False),
        sa.Column('district', sa.String(length=64), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'day', 'kind', 'value', 'district', name=op.f('pk_hotspot_days')
        ),
    )


def downgrade() -> None:
    op.drop_table('hotspot_days')
    op.drop_table('briefing_runs')
