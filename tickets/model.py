"""Plain value types of the unified work order, shared by connectors, store and console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """Where a contact came from."""

    PHONE = "phone"
    WECHAT = "wechat"
    TELEGRAM = "telegram"
    MAILBOX = "mailbox"
    WEB = "web"
    SMS = "sms"
    PROVINCE = "province"
    POLICE = "police"
    OTHER = "other"


class State(StrEnum):
    """Where a ticket stands in the closed loop 受理→审核→交办→签收→办理→反馈→回访→办结."""

    RECEIVED = "received"
    PENDING_REVIEW = "pending_review"
    DISPATCHED = "dispatched"
    RETURNED = "returned"
    HANDLING = "handling"
    RESULT_SUBMITTED = "result_submitted"
    FOLLOW_UP = "follow_up"
    SUPERVISED = "supervised"
    WITH_POLICE = "with_police"
    CLOSED = "closed"
    MERGED = "merged"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({State.CLOSED, State.MERGED, State.CANCELLED})


class Role(StrEnum):
    """Who acts. Call handling (agent) and case handling (department) never mix."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    DEPARTMENT = "department"
    POLICE = "police"
    ADMIN = "admin"
    CITIZEN = "citizen"
    SYSTEM = "system"


class Urgency(StrEnum):
    """特事特办、急事急办: urgent orders get hour deadlines."""

    NORMAL = "normal"
    URGENT = "urgent"


class Complexity(StrEnum):
    """Simple orders get 5 working days, complex ones 15."""

    SIMPLE = "simple"
    COMPLEX = "complex"


class RatingLevel(StrEnum):
    """The five levels of 好差评 (国办发〔2019〕51号)."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def score(self) -> int:
        """5 for very satisfied down to 1 for very dissatisfied (the survey key)."""
        return 5 - list(RatingLevel).index(self)

    @classmethod
    def from_score(cls, score: int) -> RatingLevel:
        """The level a caller chose by pressing 1–5 (5 = very satisfied)."""
        if not 1 <= score <= 5:
            raise ValueError(f"rating score must be 1..5, got {score}")
        return list(cls)[5 - score]

    @property
    def is_bad(self) -> bool:
        """不满意 and 非常不满意 start the 3-5-15 clock."""
        return self in (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)


@dataclass(frozen=True)
class CitizenIdentity:
    """How a citizen is known on one or more channels; any field may be missing."""

    name: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    telegram_id: str | None = None
    email: str | None = None

    def identity_keys(self) -> list[tuple[str, str]]:
        """The (kind, value) pairs that identify this citizen, strongest first."""
        pairs = [
            ("phone", self.phone),
            ("wechat_openid", self.wechat_openid),
            ("telegram_id", self.telegram_id),
            ("email", self.email),
        ]
        return [(k, v) for k, v in pairs if v]


@dataclass(frozen=True)
class Attachment:
    """A file that came with a contact; stored by the connector, referenced here."""

    name: str
    content_type: str
    size: int
    ref: str


@dataclass(frozen=True)
class Location:
    """A place the citizen gave: coordinates and/or an address."""

    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None


@dataclass(frozen=True)
class InboundContact:
    """One normalized contact from any channel: what a connector hands to `tickets`."""

    channel: Channel
    external_id: str
    citizen: CitizenIdentity
    text: str
    received_at: datetime
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    category: str | None = None
    district: str | None = None
    subject: str | None = None
    consent_publish: bool = False
    confidential: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    """One step on a ticket's timeline; every figure is computed from these."""

    at: datetime
    actor: str
    role: Role
    action: str
    from_state: State | None
    to_state: State
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptResult:
    """What accepting a contact did: which ticket, and whether anything new was made."""

    ticket_id: int
    ticket_number: str
    contact_id: int
    created_ticket: bool
    duplicate: bool
    joined_existing: bool = False
    conversation: str = ""  # online contacts: see `ContactAccepted.conversation`
    category: str | None = None  # the ticket's


@dataclass(frozen=True)
class OutboundMessage:
    """One message waiting in the durable outbox for a channel to send it."""

    id: int
    channel: str
    kind: str
    recipient: str
    payload: dict[str, Any]
    dedupe_key: str
    attempts: int
    ticket_id: int | None = None


class SendError(Exception):
    """A channel could not send; `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
