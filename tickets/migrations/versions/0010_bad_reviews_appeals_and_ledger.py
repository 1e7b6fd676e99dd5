"""bad reviews appeals and ledger

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-23 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickets.tables

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('rating_excluded', sa.Boolean(), server_default='0', nullable=False)
        )
    op.create_table('review_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=True),
    sa.Column('level', sa.String(length=24), nullable=False),
    sa.Column('rated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('named', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('complex', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('appeal', sa.String(length=12), server_default='none', nullable=False),
    sa.Column('contact_due', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rectify_due', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('contacted_at', tickets.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rectified_at', tickets.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', tickets.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], name=op.f('fk_review_cases_department_departments')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_review_cases_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_cases')),
    sa.UniqueConstraint('ticket_id', 'rated_at', name='uq_review_cases_rating')
    )
    op.create_index('ix_review_cases_department_rated', 'review_cases', ['department', 'rated_at'], unique=False)
    op.create_index('ix_review_cases_rated', 'review_cases', ['rated_at'], unique=False)
    op.create_table('review_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], name=op.f('fk_review_steps_case_id_review_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_steps'))
    )
    op.create_index('ix_review_steps_case', 'review_steps', ['case_id', 'id'], unique=False)
    op.create_table('review_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), server_default='', nullable=False),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('filed_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', tickets.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], name=op.f('fk_review_appeals_case_id_review_cases')),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], name=op.f('fk_review_appeals_department_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_appeals'))
    )
    op.create_index('ix_review_appeals_case', 'review_appeals', ['case_id', 'id'], unique=False)
    op.create_table('ledger_complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('person_name', sa.String(length=100), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('verdict', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tickets.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], name=op.f('fk_ledger_complaints_department_departments')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ledger_complaints_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_complaints'))
    )
    op.create_index('ix_ledger_complaints_person', 'ledger_complaints', ['person_id', 'occurred_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ledger_complaints_person', table_name='ledger_complaints')
    op.drop_table('ledger_complaints')
    op.drop_index('ix_review_appeals_case', table_name='review_appeals')
    op.drop_table('review_appeals')
    op.drop_index('ix_review_steps_case', table_name='review_steps')
    op.drop_table('review_steps')
    op.drop_index('ix_review_cases_rated', table_name='review_cases')
    op.drop_index('ix_review_cases_department_rated', table_name='review_cases')
    op.drop_table('review_cases')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('rating_excluded')
