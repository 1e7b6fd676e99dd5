"""The Connector port: what every channel offers the rest of the center."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tickets.model import AcceptResult, CitizenIdentity, InboundContact

# Where a connector hands a normalized contact; it returns once the contact is durable.
ContactSink = Callable[[InboundContact], Awaitable[AcceptResult]]


@dataclass(frozen=True)
class ChannelAction:
    """Something a person did in a chat that the center must act on (a button, a code).

    `kind` is one of: sign, return, rate, bind. `actor_id` is the platform's id of the
    person (Telegram user id, WeChat OpenID); the center checks it against its own records.
    """

    channel: str
    kind: str
    actor_id: str
    chat_id: str
    ticket_number: str = ""
    reason_code: str = ""
    reason: str = ""
    rating: int | None = None
    code: str = ""


@dataclass(frozen=True)
class ActionOutcome:
    """What the center made of a ChannelAction: done or refused, with text for the chat."""

    ok: bool
    message: str
    ticket_number: str = ""
    department: str = ""


@dataclass(frozen=True)
class ProgressLine:
    """One of a citizen's tickets as the citizen may see it (no one else's data)."""

    number: str
    state: str  # a lifecycle state, rendered by the channel from the catalog
    subject: str
    due_at: datetime | None = None


# The citizen's own recent tickets, for a "查询进度" request in a chat.
ProgressLookup = Callable[[CitizenIdentity], Awaitable[list[ProgressLine]]]


# Where a connector hands a ChannelAction; it returns once the outcome is committed.
ActionSink = Callable[[ChannelAction], Awaitable[ActionOutcome]]


@dataclass(frozen=True)
class ConnectorHealth:
    """What the console shows about a channel: on or off, connected, last problem."""

    name: str
    enabled: bool
    connected: bool
    detail: str = ""
    since: datetime | None = None


class Connector(Protocol):
    """A channel to the outside world (telephony, WeChat, Telegram, mailbox)."""

    name: str

    async def start(self) -> None:
        """Connect and begin delivering contacts; must return promptly (work runs in tasks)."""

    async def stop(self) -> None:
        """Stop taking new work and close every connection."""

    def health(self) -> ConnectorHealth:
        """The channel's state right now."""


# -- telephony ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSignal:
    """Something that happened on a call, in the center's words (no AMI in it).

    kind: arrived, queued, ringing, ring_no_answer, answered, abandoned,
    transfer_requested, transfer_answered, transfer_failed, conference_join,
    conference_leave, survey, hangup, ended, originated, originate_failed.
    """

    kind: str
    call_id: str
    at: datetime
    caller: str | None = None
    dialed: str | None = None
    queue: str | None = None
    agent: str | None = None  # the agent's interface, e.g. PJSIP/8001
    detail: str = ""
    record: dict[str, Any] | None = None  # on "ended": the whole call record
    reconstructed: bool = False


CallSignalSink = Callable[[CallSignal], Awaitable[None]]


class CallControlError(Exception):
    """Asterisk refused or could not do a call-control action; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Telephony(Protocol):
    """Call control as the router uses it; every method raises CallControlError."""

    def lines(self) -> Mapping[str, str]:
        """Transfer lines by short name (110, 119, 120, 12369, …)."""

    def set_lines(self, lines: Mapping[str, str]) -> None:
        """Replace the transfer-line table (the admins' stored one)."""

    def live_call_of_agent(self, agent: str) -> str | None:
        """The call an agent's interface is talking on now, if any."""

    async def transfer(self, call_id: str, line: str, ticket: str | None = None) -> str:
        """Blind transfer of the caller to a line; returns Asterisk's message."""

    async def three_way(self, call_id: str, line: str) -> str:
        """Caller, agent and the line in one conference room."""

    async def hangup(self, call_id: str) -> str:
        """End the call."""

    async def callback(self, agent: str, number: str, ticket: str | None = None) -> str:
        """Ring the agent's phone, then dial the citizen."""

    async def queue_login(self, agent: str, name: str) -> str:
        """Add the agent's interface to the queue."""

    async def queue_logout(self, agent: str) -> str:
        """Remove the agent's interface from the queue."""

    async def queue_pause(self, agent: str, reason: str) -> str:
        """No calls offered to the agent until unpaused."""

    async def queue_unpause(self, agent: str) -> str:
        """Calls offered again."""
