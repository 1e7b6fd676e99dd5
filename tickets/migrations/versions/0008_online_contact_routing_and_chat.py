"""online contact routing and chat

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "online_conversations",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("waiting_since", tickets.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_at", tickets.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", tickets.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("offers", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_online_conversations_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_online_conversations")),
    )
    op.create_index(
        "ix_online_conversations_status",
        "online_conversations",
        ["status", "waiting_since"],
        unique=False,
    )
    op.create_index(
        "ix_online_conversations_agent", "online_conversations", ["agent", "status"], unique=False
    )
    op.create_table(
        "agent_skills",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("max_chats", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("updated_at", tickets.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_agent_skills")),
    )


def downgrade() -> None:
    op.drop_table("agent_skills")
    op.drop_index("ix_online_conversations_agent", table_name="online_conversations")
    op.drop_index("ix_online_conversations_status", table_name="online_conversations")
    op.drop_table("online_conversations")
