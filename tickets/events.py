"""Domain events: past-tense facts published on the bus only after their commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event; `at` is when the fact happened (UTC)."""

    at: datetime

    @property
    def name(self) -> str:
        """The event's type name, e.g. ``ContactAccepted``."""
        return type(self).__name__


@dataclass(frozen=True)
class ContactAccepted(DomainEvent):
    """A contact was committed, either opening a ticket or joining one."""

    ticket_id: int
    ticket_number: str
    contact_id: int
    channel: str
    created_ticket: bool
    urgent: bool = False  # the ticket it opened is urgent (who dispatches at once looks)
    # Online channels: what accepting did to the ticket's conversation, in the same
    # transaction ("queued": it joined the agents' queue now; "waiting"/"taken": it was
    # there already), and what routing needs to know of it. "" for other channels.
    conversation: str = ""
    category: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class TicketChanged(DomainEvent):
    """A lifecycle transition was committed."""

    ticket_id: int
    ticket_number: str
    action: str
    from_state: str | None
    to_state: str
    actor: str
    role: str
    departments: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadlinesRecomputed(DomainEvent):
    """Provisional deadlines were recomputed after the holiday table changed."""

    ticket_ids: tuple[int, ...]


@dataclass(frozen=True)
class CallOffered(DomainEvent):
    """An agent's phone rings: the screen pop, with what the center knows of the caller."""

    call_id: str
    caller: str | None
    dialed: str | None
    queue: str | None
    agent: str
    agent_username: str | None
    history: tuple[dict[str, Any], ...] | None = ()  # None: still being read, CallerHistory follows


@dataclass(frozen=True)
class CallerHistory(DomainEvent):
    """The caller's previous and open tickets, for a pop that went out before they were read."""

    call_id: str
    agent: str
    agent_username: str | None
    history: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CallAnswered(DomainEvent):
    """An agent answered; the call is a contact on `ticket_number`."""

    call_id: str
    agent: str
    agent_username: str | None
    ticket_number: str | None


@dataclass(frozen=True)
class CallFinished(DomainEvent):
    """The call ended; `figures` are its timings (wait, talk, within service level...)."""

    call_id: str
    ticket_number: str | None
    agent_username: str | None
    abandoned: bool
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferOutcome(DomainEvent):
    """A transfer (or three-way call) reached its line, or failed and why."""

    call_id: str
    line: str
    ok: bool
    reason: str
    ticket_number: str | None
    agent_username: str | None


@dataclass(frozen=True)
class DeadlineWarning(DomainEvent):
    """An order earned a deadline warning: sign_overdue (escalated), due_warning or overdue."""

    ticket_id: int
    ticket_number: str
    kind: str
    due_at: str | None
    departments: tuple[str, ...] = ()
