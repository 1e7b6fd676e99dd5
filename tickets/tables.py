"""The database schema (SQLAlchemy Core); Alembic migrations are generated from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


def _to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is refused (its zone is anybody's guess)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; use aware UTC datetimes")
    return value.astimezone(UTC)


def _from_store(value: datetime) -> datetime:
    """What the database gave back, as an aware UTC datetime (SQLite keeps no offset)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return _from_store(value)

    # On SQLite one step each way, in C: the decorator over SQLAlchemy's own DATETIME
    # costs three Python calls and a string template per value, and a batch of accepted
    # contacts writes ten datetimes a contact. The text is SQLAlchemy's SQLite storage
    # format exactly ("YYYY-MM-DD HH:MM:SS.ffffff"), so old rows and new compare as text.

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # A batch binds the same instant many times over (every row of an accepted batch
        # carries the same `now`): the last one converted is kept, by identity.
        last: tuple[datetime | None, str | None] = (None, None)

        def process(value: datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen, text = last
            if value is seen:
                return text
            text = _to_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
            last = (value, text)
            return text

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            return _from_store(datetime.fromisoformat(value) if isinstance(value, str) else value)

        return process


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

departments = Table(
    "departments",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False, server_default=""),
    Column("parent_code", String(64), ForeignKey("departments.code"), nullable=True),
    Column("kind", String(16), nullable=False),  # city / district / street / police / hotline
    Column("phone", String(32), nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("class_code", String(32), nullable=True),  # department_classes.code (分类评价)
)

categories = Table(
    "categories",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("parent_code", String(64), ForeignKey("categories.code"), nullable=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False, server_default=""),
    Column("complexity", String(16), nullable=False, server_default="simple"),
    Column("urgent", Boolean, nullable=False, server_default="0"),
    Column("review_required", Boolean, nullable=False, server_default="0"),
    Column("sort", Integer, nullable=False, server_default="0"),
    # The category's own handling limit; empty = the center's default for its complexity.
    Column("limit_days", Integer, nullable=True),
    Column("limit_hours", Float, nullable=True),
)

citizens = Table(
    "citizens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=True),
    Column("phone", String(32), nullable=True, unique=True),
    Column("wechat_openid", String(128), nullable=True, unique=True),
    Column("telegram_id", String(64), nullable=True, unique=True),
    Column("email", String(254), nullable=True, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

ticket_numbers = Table(
    "ticket_numbers",
    metadata,
    Column("day", String(8), primary_key=True),
    Column("last", Integer, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("state", String(24), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("citizen_id", Integer, ForeignKey("citizens.id"), nullable=True),
    Column("category", String(64), ForeignKey("categories.code"), nullable=True),
    Column("district", String(64), ForeignKey("departments.code"), nullable=True),
    Column("urgency", String(16), nullable=False, server_default="normal"),
    Column("complexity", String(16), nullable=False, server_default="simple"),
    Column("subject", String(300), nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("lead_department", String(64), ForeignKey("departments.code"), nullable=True),
    Column("consent_publish", Boolean, nullable=False, server_default="0"),
    Column("confidential", Boolean, nullable=False, server_default="0"),
    Column("review_required", Boolean, nullable=False, server_default="0"),
    Column("extension_pending_days", Integer, nullable=True),
    Column("extension_paused_at", UTCDateTime, nullable=True),
    Column("extension_days_granted", Integer, nullable=False, server_default="0"),
    Column("accepted_by", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_contact_at", UTCDateTime, nullable=False),
    Column("dispatched_at", UTCDateTime, nullable=True),
    Column("sign_due_at", UTCDateTime, nullable=True),
    Column("due_at", UTCDateTime, nullable=True),
    Column("warn_at", UTCDateTime, nullable=True),
    Column("deadline_provisional", Boolean, nullable=False, server_default="0"),
    Column("result_text", Text, nullable=True),
    Column("result_at", UTCDateTime, nullable=True),
    Column("informed_at", UTCDateTime, nullable=True),
    Column("rating", String(24), nullable=True),
    Column("rated_at", UTCDateTime, nullable=True),
    # An upheld appeal (申诉 → 复核) takes the rating out of the department's figures.
    Column("rating_excluded", Boolean, nullable=False, server_default="0"),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("merged_into", Integer, ForeignKey("tickets.id"), nullable=True),
    Column("split_from", Integer, ForeignKey("tickets.id"), nullable=True),
    Column("query_code", String(32), nullable=True),  # lets a letter writer follow progress
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_tickets_state_created", "state", "created_at"),
    Index("ix_tickets_citizen_state", "citizen_id", "state"),
    Index("ix_tickets_lead_state", "lead_department", "state"),
    Index("ix_tickets_created", "created_at"),
)

ticket_departments = Table(
    "ticket_departments",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id"), primary_key=True),
    Column("department", String(64), ForeignKey("departments.code"), primary_key=True),
    Column("role", String(8), nullable=False),  # lead / co
    Index("ix_ticket_departments_department", "department"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=True),
    Column("citizen_id", Integer, ForeignKey("citizens.id"), nullable=True),
    Column("text", Text, nullable=False, server_default=""),
    Column("identity", JSON, nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("location", JSON, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("accepted_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_contacts_channel_external_id"),
    Index("ix_contacts_ticket", "ticket_id"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(24), nullable=True),
    Column("to_state", String(24), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("payload", JSON, nullable=False),
    Index("ix_timeline_ticket", "ticket_id", "id"),
    Index("ix_timeline_action_at", "action", "at"),
)

dispatches = Table(
    "dispatches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("hop", Integer, nullable=False),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("from_department", String(64), nullable=True),
    Column("kind", String(8), nullable=False),  # lead / co
    Column("dispatched_at", UTCDateTime, nullable=False),
    Column("dispatched_by", String(64), nullable=False),
    Column("sign_due_at", UTCDateTime, nullable=True),
    Column("signed_at", UTCDateTime, nullable=True),
    Column("returned_at", UTCDateTime, nullable=True),
    Column("return_reason", String(64), nullable=True),
    Column("code", String(32), nullable=False),
    UniqueConstraint("ticket_id", "hop", "department", name="uq_dispatches_hop"),
    Index("ix_dispatches_department", "department", "dispatched_at"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("level", String(24), nullable=False),
    Column("score", Integer, nullable=False),
    Column("department", String(64), nullable=True),
    Column("source", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("rated_at", UTCDateTime, nullable=False),
    Index("ix_ratings_ticket", "ticket_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False, server_default=""),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("department", String(64), ForeignKey("departments.code"), nullable=True),
    Column("locale", String(8), nullable=False, server_default="zh"),
    Column("extension", String(32), nullable=True, unique=True),  # agent's phone endpoint
    Column("telegram_id", String(64), nullable=True, unique=True),  # for group-bot buttons
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
    Column("detail", JSON, nullable=False),
)

calendar_overrides = Table(
    "calendar_overrides",
    metadata,
    Column("day", Date, primary_key=True),
    Column("is_workday", Boolean, nullable=False),
    Column("name", String(100), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

calls = Table(
    "calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False, unique=True),  # Asterisk linkedid
    Column("direction", String(16), nullable=False),
    Column("caller", String(64), nullable=True),
    Column("dialed", String(64), nullable=True),
    Column("queue", String(64), nullable=True),
    Column("agent", String(64), nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("queue_wait", Float, nullable=True),
    Column("ring_time", Float, nullable=True),
    Column("talk_time", Float, nullable=True),
    Column("abandoned", Boolean, nullable=False, server_default="0"),
    Column("hangup_cause", Integer, nullable=True),
    Column("survey", String(8), nullable=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=True),
    Column("agent_username", String(64), nullable=True),
    Column("reconstructed", Boolean, nullable=False, server_default="0"),
    Column("callback_due_at", UTCDateTime, nullable=True),  # missed calls are called back
    Column("callback_done_at", UTCDateTime, nullable=True),
    Column("callback_by", String(64), nullable=True),
    Column("record", JSON, nullable=False),  # the tracker's whole record: transfers, members
    Index("ix_calls_started", "started_at"),
    Index("ix_calls_ticket", "ticket_id"),
)

call_marks = Table(
    "call_marks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("what", String(32), nullable=False),
    Column("detail", String(200), nullable=False, server_default=""),
    Index("ix_call_marks_call", "call_id", "id"),
    Index("ix_call_marks_what_at", "what", "at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),  # wechat / telegram / mail / sms
    Column("kind", String(32), nullable=False),  # text / template / rating_request / ...
    Column("recipient", String(254), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=True),
    Column("status", String(12), nullable=False),  # pending / sent / dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("result", JSON, nullable=True),  # what the remote answered (message id, ...)
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

channel_bindings = Table(
    "channel_bindings",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("chat_id", String(64), primary_key=True),  # e.g. a Telegram group
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("bound_at", UTCDateTime, nullable=False),
    Column("bound_by", String(64), nullable=False),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

channel_cursors = Table(
    "channel_cursors",
    metadata,
    Column("name", String(64), primary_key=True),  # e.g. imap:INBOX
    Column("value", JSON, nullable=False),  # e.g. {"uidvalidity": 1, "last_uid": 42}
    Column("updated_at", UTCDateTime, nullable=False),
)

mail_threads = Table(
    "mail_threads",
    metadata,
    Column("message_id", String(300), primary_key=True),  # RFC 5322 Message-ID, in or out
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("direction", String(8), nullable=False),  # in / out
    Column("at", UTCDateTime, nullable=False),
)

publications = Table(
    "publications",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id"), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("letter", Text, nullable=False),  # personal data removed
    Column("reply", Text, nullable=False),
    Column("category", String(64), nullable=True),
    Column("district", String(64), nullable=True),
    Column("mailbox", String(64), nullable=True),
    Column("published_at", UTCDateTime, nullable=False),
    Index("ix_publications_published", "published_at"),
)

dispatch_rules = Table(
    "dispatch_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("category", String(64), ForeignKey("categories.code"), nullable=True),
    Column("district", String(64), ForeignKey("departments.code"), nullable=True),
    Column("keywords", JSON, nullable=False),  # all must occur in the text; [] = any text
    Column("lead_department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("co_departments", JSON, nullable=False),
    Column("auto_dispatch", Boolean, nullable=False, server_default="0"),  # 急事急办
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("updated_by", String(64), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

transfer_lines = Table(
    "transfer_lines",
    metadata,
    Column("code", String(16), primary_key=True),  # what the agent presses: 110, 119, …
    Column("name_zh", String(100), nullable=False),
    Column("name_en", String(100), nullable=False, server_default=""),
    Column("target", String(200), nullable=False),  # Asterisk dial string, e.g. PJSIP/110@police110
    Column("kind", String(16), nullable=False, server_default="blind"),  # blind / three_way
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("sort", Integer, nullable=False, server_default="0"),
    Column("updated_by", String(64), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

admin_settings = Table(
    "admin_settings",
    metadata,
    Column("key", String(64), primary_key=True),  # e.g. sla.service_level_seconds
    Column("value", JSON, nullable=False),
    Column("updated_by", String(64), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- knowledge base: one row per article, every version kept beside it ---
kb_articles = Table(
    "kb_articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("status", String(16), nullable=False),  # of the newest version: draft, in_review, …
    Column("latest_version", Integer, nullable=False),
    Column("published_version", Integer, nullable=True),  # what agents see; None = nothing
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_kb_articles_department", "department", "status"),
)

kb_versions = Table(
    "kb_versions",
    metadata,
    Column("article_id", Integer, ForeignKey("kb_articles.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("status", String(16), nullable=False),  # draft/in_review/published/superseded/withdrawn
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("category", String(64), ForeignKey("categories.code"), nullable=True),
    Column("keywords", JSON, nullable=False),
    Column("expires_on", Date, nullable=False),
    # Segmented words, space-delimited with a space at both ends: `LIKE '% word %'` finds a
    # whole word the same way on SQLite and PostgreSQL.
    Column("title_terms", Text, nullable=False),
    Column("body_terms", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("submitted_by", String(64), nullable=True),
    Column("submitted_at", UTCDateTime, nullable=True),
    Column("reviewed_by", String(64), nullable=True),
    Column("reviewed_at", UTCDateTime, nullable=True),
    Column("review_note", Text, nullable=False, server_default=""),  # why it was sent back
)

# Departments are scored by class, each with its own weights (Jiangmen: public-facing
# departments mostly by the citizens' direct evaluation).
department_classes = Table(
    "department_classes",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False, server_default=""),
    Column("weights", JSON, nullable=False),  # {"response": 0.05, ..., "satisfaction": 0.8}
    Column("position", Integer, nullable=False, server_default="0"),
    Column("updated_by", String(64), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Deductions, bonus points and veto items a supervisor records against a department.
score_adjustments = Table(
    "score_adjustments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("kind", String(16), nullable=False),  # deduction / bonus / veto
    Column("points", Float, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False),
    Column("day", Date, nullable=False),  # the day the finding belongs to
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_score_adjustments_day", "day", "department"),
)

# --- bad reviews (3-5-15), appeals and the person ledger ---
review_cases = Table(
    "review_cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("department", String(64), ForeignKey("departments.code"), nullable=True),
    Column("level", String(24), nullable=False),
    Column("rated_at", UTCDateTime, nullable=False),
    Column("named", Boolean, nullable=False),  # the citizen gave a name (实名差评)
    Column("status", String(24), nullable=False),
    Column("complex", Boolean, nullable=False, server_default="0"),
    Column("appeal", String(12), nullable=False, server_default="none"),
    Column("contact_due", UTCDateTime, nullable=False),
    Column("rectify_due", UTCDateTime, nullable=False),
    Column("contacted_at", UTCDateTime, nullable=True),
    Column("rectified_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    UniqueConstraint("ticket_id", "rated_at", name="uq_review_cases_rating"),
    Index("ix_review_cases_department_rated", "department", "rated_at"),
    Index("ix_review_cases_rated", "rated_at"),
)

review_steps = Table(
    "review_steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("review_cases.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("detail", JSON, nullable=False),
    Index("ix_review_steps_case", "case_id", "id"),
)

review_appeals = Table(
    "review_appeals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("review_cases.id"), nullable=False),
    Column("department", String(64), ForeignKey("departments.code"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False, server_default=""),
    Column("filed_by", String(64), nullable=False),
    Column("filed_at", UTCDateTime, nullable=False),
    Column("decision", String(12), nullable=False),  # open / upheld / rejected
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("decision_reason", Text, nullable=False, server_default=""),
    Index("ix_review_appeals_case", "case_id", "id"),
)

ledger_complaints = Table(
    "ledger_complaints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", String(64), nullable=False),  # staff number or username
    Column("person_name", String(100), nullable=False),
    Column("department", String(64), ForeignKey("departments.code"), nullable=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("occurred_on", Date, nullable=False),  # local date of the complaint
    Column("verdict", String(12), nullable=False),  # pending / valid / invalid
    Column("note", Text, nullable=False, server_default=""),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_ledger_complaints_person", "person_id", "occurred_on"),
)

# --- online contacts and live chat ---
online_conversations = Table(
    "online_conversations",
    metadata,
    # One conversation per ticket: the citizen's messages are the ticket's contacts.
    Column("ticket_id", Integer, ForeignKey("tickets.id"), primary_key=True),
    Column("channel", String(16), nullable=False),  # wechat / telegram / mailbox / web
    Column("language", String(8), nullable=True),
    Column("status", String(12), nullable=False),  # waiting / taken / ended
    Column("agent", String(64), nullable=True),
    Column("waiting_since", UTCDateTime, nullable=False),
    Column("taken_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("offers", Integer, nullable=False, server_default="0"),  # times offered and let go
    Index("ix_online_conversations_status", "status", "waiting_since"),
    Index("ix_online_conversations_agent", "agent", "status"),
)

agent_skills = Table(
    "agent_skills",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("categories", JSON, nullable=False),  # category codes; a parent covers its children
    Column("languages", JSON, nullable=False),  # zh / en / ...
    Column("max_chats", Integer, nullable=True),  # None: the center's default
    Column("updated_by", String(64), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- briefings and hotspots ---
briefing_runs = Table(
    "briefing_runs",
    metadata,
    # One row per briefing period once its messages are in the outbox (day:2026-11-23, …).
    Column("period_key", String(32), primary_key=True),
    Column("generated_at", UTCDateTime, nullable=False),
    Column("messages", Integer, nullable=False, server_default="0"),
)

hotspot_days = Table(
    "hotspot_days",
    metadata,
    # Hotspot counts of one complete local day (tickets per term / category, city-wide "*"
    # and per district), kept so baselines need no re-segmenting; kind "*" marks the day done.
    Column("day", String(10), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(100), primary_key=True),
    Column("district", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)

# --- figure roll-ups ---
# The figures' numerators and denominators of every ticket, summed per (local day created,
# lead department, district, channel) and kept in step with each ticket change, so a
# quarter's ranking adds up ~90 × departments rows instead of walking its tickets. Keys are
# '' for "none". `returns_made` counts returns made by `department` (of tickets of that day,
# district and channel), `returns` those made on the tickets of the row.
figure_rollups = Table(
    "figure_rollups",
    metadata,
    Column("day", Date, primary_key=True),
    Column("department", String(64), primary_key=True),
    Column("district", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("tickets", Integer, nullable=False, server_default="0"),
    Column("responded", Integer, nullable=False, server_default="0"),
    Column("on_time_n", Integer, nullable=False, server_default="0"),
    # due and with a result; the due ones still without a result are counted at read time
    Column("on_time_d", Integer, nullable=False, server_default="0"),
    Column("feedback_n", Integer, nullable=False, server_default="0"),
    Column("feedback_d", Integer, nullable=False, server_default="0"),
    Column("very_satisfied", Integer, nullable=False, server_default="0"),
    Column("satisfied", Integer, nullable=False, server_default="0"),
    Column("basically_satisfied", Integer, nullable=False, server_default="0"),
    Column("dissatisfied", Integer, nullable=False, server_default="0"),
    Column("very_dissatisfied", Integer, nullable=False, server_default="0"),
    Column("excluded", Integer, nullable=False, server_default="0"),
    Column("cycle_seconds", BigInteger, nullable=False, server_default="0"),
    Column("cycle_n", Integer, nullable=False, server_default="0"),
    Column("extensions", Integer, nullable=False, server_default="0"),
    Column("hops", Integer, nullable=False, server_default="0"),
    Column("returns", Integer, nullable=False, server_default="0"),
    Column("returns_made", Integer, nullable=False, server_default="0"),
)

# The limits the roll-ups were counted under (one row, id 1); no row: not built yet, and
# the figures are summed from the tickets.
figure_rollup_rules = Table(
    "figure_rollup_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("response_seconds", JSON, nullable=False),
    Column("default_response_seconds", Float, nullable=False),
    Column("feedback_seconds", Float, nullable=False),
    Column("built_at", UTCDateTime, nullable=False),
)

# Orders due and still without a result: the one figure that moves with the clock alone.
Index(
    "ix_tickets_unsettled",
    tickets.c.created_at,
    tickets.c.due_at,
    tickets.c.lead_department,
    tickets.c.district,
    sqlite_where=tickets.c.result_at.is_(None) & tickets.c.due_at.is_not(None),
    postgresql_where=tickets.c.result_at.is_(None) & tickets.c.due_at.is_not(None),
)
