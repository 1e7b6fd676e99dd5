"""Agent presence: ready, paused (with a reason), on a call, after-call work, chatting.

`apply` is the pure state machine; `PresenceBoard` keeps every agent's state from the
telephony events on the bus, the agents' own queue actions and their chats, and tells its
listeners of every change (the online desk hands back offers, the queue mirror pauses the
agent's queue membership during after-call work). After-call work is timed: `tick` ends
it when its configured seconds are up, back to ready without anyone pressing a key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from connectors.base import CallControlError, Telephony
from tickets.events import CallAnswered, CallFinished, DomainEvent

log = logging.getLogger(__name__)


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
CHANGES = (
    "login",
    "logout",
    "pause",
    "unpause",
    "call_answered",
    "call_ended",
    "chat_started",
    "chat_ended",
)


def _free(at: datetime, chats: int) -> Presence:
    """Available: ready, or chatting while conversations are open."""
    return Presence(S.CHATTING, at, chats=chats) if chats else Presence(S.READY, at)


def apply(
    p: Presence,
    change: str,
    at: datetime,
    *,
    reason: str = "",
    max_chats: int = 3,
) -> Presence:
    """The agent's state after `change` (one of CHANGES); a PresenceError for an impossible one.

    Open chats are kept through calls, pauses and after-call work: a pause stops new
    offers, it does not end conversations already taken.
    """
    if change == "login":
        if p.state is not S.LOGGED_OUT:
            return p
        return _free(at, p.chats)
    if change == "logout":
        if p.state is S.ON_CALL:
            raise PresenceError("finish the call before signing out")
        if p.chats:
            raise PresenceError(f"end your {p.chats} open chats before signing out")
        return Presence(S.LOGGED_OUT, at)
    if change == "pause":
        if p.state not in (S.READY, S.AFTER_CALL, S.PAUSED, S.CHATTING):
            raise PresenceError(f"cannot pause while {p.state.value}")
        if not reason.strip():
            raise PresenceError("a pause needs a reason")
        return Presence(S.PAUSED, at, reason.strip(), chats=p.chats)
    if change == "unpause":
        # Ready again: after a pause, or before after-call work's time is up.
        if p.state not in (S.PAUSED, S.AFTER_CALL):
            raise PresenceError("not paused")
        return _free(at, p.chats)
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
    """After-call work ends by itself when its time is up (open chats carry on)."""
    if (
        p.state is S.AFTER_CALL
        and p.since
        and now - p.since >= timedelta(seconds=after_call_seconds)
    ):
        return _free(p.since + timedelta(seconds=after_call_seconds), p.chats)
    return p


# (username, change, before, after): told synchronously, after the change is made.
Listener = Callable[[str, str, Presence, Presence], None]


class PresenceBoard:
    """Every agent's presence, kept in memory by this process (rebuilt as agents act)."""

    def __init__(self, after_call_seconds: float = 30, max_chats: int = 3) -> None:
        self.after_call_seconds = after_call_seconds
        self.max_chats = max_chats
        self.agents: dict[str, Presence] = {}
        self.interfaces: dict[str, str] = {}  # username → the phone Asterisk rang (PJSIP/8001)
        self.limits: dict[str, int] = {}  # username → their own most concurrent chats
        self.listeners: list[Listener] = []

    def max_chats_of(self, username: str) -> int:
        """The most chats this agent takes at once."""
        return self.limits.get(username, self.max_chats)

    def check(self, username: str, change: str, at: datetime, reason: str = "") -> Presence:
        """What `change` would make of the agent, without making it (PresenceError if not)."""
        current = settle(self.agents.get(username, Presence()), at, self.after_call_seconds)
        return apply(current, change, at, reason=reason, max_chats=self.max_chats_of(username))

    def change(self, username: str, change: str, at: datetime, reason: str = "") -> Presence:
        """Apply one change for one agent (raises PresenceError when impossible)."""
        self.tick(at)
        before = self.agents.get(username, Presence())
        new = self.check(username, change, at, reason)
        self.agents[username] = new
        self._tell(username, change, before, new)
        return new

    def set_chats(self, username: str, chats: int, at: datetime) -> Presence:
        """The agent's open chats as the store knows them (after a restart, at sign-in)."""
        p = settle(self.agents.get(username, Presence()), at, self.after_call_seconds)
        if p.state in (S.READY, S.CHATTING):
            new = _free(p.since or at, chats) if chats else Presence(S.READY, at)
        else:
            new = replace(p, chats=chats)
        self.agents[username] = new
        return new

    def tick(self, now: datetime) -> list[str]:
        """End after-call work whose time is up; returns who is back (listeners are told)."""
        back: list[str] = []
        for username, p in list(self.agents.items()):
            settled = settle(p, now, self.after_call_seconds)
            if settled is not p:
                self.agents[username] = settled
                self._tell(username, "after_call_done", p, settled)
                back.append(username)
        return back

    def _tell(self, username: str, change: str, before: Presence, after: Presence) -> None:
        for listener in list(self.listeners):
            try:
                listener(username, change, before, after)
            except Exception:
                log.exception("presence listener %r failed on %s", listener, change)

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
            if event.agent:
                self.interfaces[event.agent_username] = event.agent
            self.change(event.agent_username, "call_answered", event.at)
        elif isinstance(event, CallFinished) and event.agent_username and not event.abandoned:
            self.change(event.agent_username, "call_ended", event.at)


class QueueMirror:
    """Keeps the agent's Asterisk queue membership in step with after-call work.

    The queue runs with `wrapuptime = 0`, so Asterisk would ring an agent the moment a call
    ends; the center pauses the member for its after-call work instead and unpauses it when
    the work's time is up (or the agent says ready earlier, through the queue API).
    """

    REASON = "after_call"

    def __init__(self, board: PresenceBoard, telephony: Callable[[], Telephony | None]) -> None:
        self.board = board
        self.telephony = telephony
        self._tasks: set[asyncio.Task[None]] = set()
        self.done: list[tuple[str, str, str]] = []  # (username, action, what Asterisk said)
        board.listeners.append(self.on_change)

    def on_change(self, username: str, change: str, before: Presence, after: Presence) -> None:
        """Presence listener: into after-call work → pause; out of it by time → unpause."""
        interface = self.board.interfaces.get(username)
        if interface is None or self.telephony() is None:
            return
        if after.state is S.AFTER_CALL and before.state is not S.AFTER_CALL:
            self._run(username, "pause", interface)
        elif change == "after_call_done":
            self._run(username, "unpause", interface)

    def _run(self, username: str, action: str, interface: str) -> None:
        task = asyncio.get_running_loop().create_task(self._ask(username, action, interface))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask(self, username: str, action: str, interface: str) -> None:
        telephony = self.telephony()
        if telephony is None:
            return
        try:
            if action == "pause":
                said = await telephony.queue_pause(interface, self.REASON)
            else:
                said = await telephony.queue_unpause(interface)
        except CallControlError as e:
            # The agent's state stands; the wallboard shows it and the next action corrects it.
            log.warning("queue %s of %s (%s) refused: %s", action, username, interface, e.message)
            said = f"failed: {e.message}"
        self.done.append((username, action, said))

    async def drain(self) -> None:
        """Wait for queue actions in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
