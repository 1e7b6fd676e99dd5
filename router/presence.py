"""Agent presence: ready, paused (with a reason), on a call, after-call work, chatting.

`apply` is the pure state machine; `PresenceBoard` keeps every agent's state from the
telephony events on the bus and the agents' own queue actions, for the wallboard.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from tickets.events import CallAnswered, CallFinished, DomainEvent


class AgentState(StrEnum):
    """What an agent is doing now."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    ON_CALL = "on_call"
    AFTER_CALL = "after_call"
    CHATTING = "chatting"


@dataclass(frozen=True)
class Presence:
    """One agent's state, since when, and why (a pause reason) or how many chats."""

    state: AgentState = AgentState.LOGGED_OUT
    since: datetime | None = None
    reason: str = ""
    chats: int = 0


class PresenceError(Exception):
    """The change is not possible from the agent's state."""


S = AgentState


def apply(
    p: Presence,
    change: str,
    at: datetime,
    *,
    reason: str = "",
    max_chats: int = 3,
) -> Presence:
    """The agent's state after `change` (login, logout, pause, unpause, call_answered,
    call_ended, chat_started, chat_ended); a PresenceError for an impossible one."""
    if change == "login":
        return Presence(S.READY, at)
    if change == "logout":
        if p.state is S.ON_CALL:
            raise PresenceError("finish the call before signing out")
        return Presence(S.LOGGED_OUT, at)
    if change == "pause":
        if p.state not in (S.READY, S.AFTER_CALL, S.PAUSED):
            raise PresenceError(f"cannot pause while {p.state.value}")
        if not reason.strip():
            raise PresenceError("a pause needs a reason")
        return Presence(S.PAUSED, at, reason.strip())
    if change == "unpause":
        if p.state is not S.PAUSED:
            raise PresenceError("not paused")
        return Presence(S.READY, at)
    if change == "call_answered":
        return Presence(S.ON_CALL, at, chats=p.chats)
    if change == "call_ended":
        if p.state is not S.ON_CALL:
            return p
        return Presence(S.AFTER_CALL, at, chats=p.chats)
    if change == "chat_started":
        if p.state not in (S.READY, S.CHATTING):
            raise PresenceError(f"cannot take a chat while {p.state.value}")
        if p.chats >= max_chats:
            raise PresenceError(f"already {p.chats} chats (the most is {max_chats})")
        return Presence(S.CHATTING, p.since if p.state is S.CHATTING else at, chats=p.chats + 1)
    if change == "chat_ended":
        chats = max(0, p.chats - 1)
        if p.state is S.CHATTING:
            return Presence(S.CHATTING, p.since, chats=chats) if chats else Presence(S.READY, at)
        return replace(p, chats=chats)
    raise PresenceError(f"unknown change {change!r}")


def settle(p: Presence, now: datetime, after_call_seconds: float) -> Presence:
    """After-call work ends by itself when its time is up."""
    if (
        p.state is S.AFTER_CALL
        and p.since
        and now - p.since >= timedelta(seconds=after_call_seconds)
    ):
        return Presence(S.READY, p.since + timedelta(seconds=after_call_seconds))
    return p


class PresenceBoard:
    """Every agent's presence, kept in memory by this process (rebuilt as agents act)."""

    def __init__(self, after_call_seconds: float = 30, max_chats: int = 3) -> None:
        self.after_call_seconds = after_call_seconds
        self.max_chats = max_chats
        self.agents: dict[str, Presence] = {}

    def change(self, username: str, change: str, at: datetime, reason: str = "") -> Presence:
        """Apply one change for one agent (raises PresenceError when impossible)."""
        current = settle(self.agents.get(username, Presence()), at, self.after_call_seconds)
        new = apply(current, change, at, reason=reason, max_chats=self.max_chats)
        self.agents[username] = new
        return new

    def now(self, at: datetime) -> dict[str, Presence]:
        """Everyone's state at `at` (after-call work that ran out is over)."""
        return {u: settle(p, at, self.after_call_seconds) for u, p in self.agents.items()}

    def counts(self, at: datetime) -> dict[str, int]:
        """How many agents are in each state."""
        out = {s.value: 0 for s in AgentState}
        for p in self.now(at).values():
            out[p.state.value] += 1
        return out

    async def __call__(self, event: DomainEvent) -> None:
        """Bus subscriber: calls move agents on and off the phone."""
        if isinstance(event, CallAnswered) and event.agent_username:
            self.change(event.agent_username, "call_answered", event.at)
        elif isinstance(event, CallFinished) and event.agent_username and not event.abandoned:
            self.change(event.agent_username, "call_ended", event.at)
