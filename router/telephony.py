"""The telephony desk: call signals become screen pops, contacts, timing logs and figures;
agents' call-control requests go to the telephony port and come back as clear outcomes.

The screen pop is published from memory the moment an agent's phone rings (the caller's
history was looked up when the call arrived); database writes happen behind it, in order
per call, so a slow disk never delays a pop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from connectors.base import CallControlError, CallSignal, Telephony
from router.call_timing import TimingMark, call_figures
from router.presence import PresenceBoard, PresenceError
from tickets.admin_service import TransferLine
from tickets.bus import EventBus
from tickets.calls import CallLog
from tickets.events import (
    CallAnswered,
    CallerHistory,
    CallFinished,
    CallOffered,
    TransferOutcome,
)
from tickets.lifecycle import Action, LifecycleError
from tickets.model import Channel, CitizenIdentity, InboundContact, RatingLevel
from tickets.privacy import Viewer
from tickets.service import TicketService
from tickets.sla import hours_deadline

log = logging.getLogger(__name__)


class TelephonyOff(Exception):
    """No Asterisk is configured, so there is nothing to control."""


class NoLiveCall(Exception):
    """The agent is not on a call (or has no phone extension)."""


class CallFailed(Exception):
    """Asterisk refused or could not do it; `message` is Asterisk's own words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def _asked(work: Awaitable[str]) -> str:
    try:
        return await work
    except CallControlError as e:
        raise CallFailed(e.code, e.message) from e


@dataclass
class LiveCall:
    """What the desk holds about a call in progress."""

    call_id: str
    caller: str | None
    dialed: str | None
    started_at: datetime
    queue: str | None = None
    agent: str | None = None
    agent_username: str | None = None
    ticket_number: str | None = None
    ticket_id: int | None = None
    opened_ticket: str | None = None  # the ticket this call opened (not the caller's history)
    answered_at: datetime | None = None
    survey: str | None = None
    reconstructed: bool = False
    transfer_line: str | None = None
    marks: list[TimingMark] = field(default_factory=list)
    history: asyncio.Task[tuple[dict[str, Any], ...]] | None = None
    tail: asyncio.Task[None] | None = None  # the last write queued for this call


class TelephonyDesk:
    """Subscriber of the telephony connector and the console's way to control calls."""

    def __init__(
        self,
        tickets: TicketService,
        calls: CallLog,
        bus: EventBus,
        *,
        telephony: Telephony | None = None,
        service_level_seconds: float = 15,
        missed_callback_hours: float = 2,
        presence: PresenceBoard | None = None,
    ) -> None:
        self.tickets = tickets
        self.calls = calls
        self.bus = bus
        self.telephony = telephony
        self.service_level_seconds = service_level_seconds
        self.missed_callback_hours = missed_callback_hours
        self.live: dict[str, LiveCall] = {}
        self.presence = presence
        self.transfer_lines: dict[str, TransferLine] | None = None  # the admins' table, once loaded
        self._writes: set[asyncio.Task[None]] = set()

    # -- signals from the connector ------------------------------------------------

    async def on_signal(self, s: CallSignal) -> None:
        """Take one signal; returns without waiting for the database."""
        call = self.live.get(s.call_id)
        if call is None:
            if s.kind in ("ended", "originate_failed") and s.record is None:
                return
            call = LiveCall(s.call_id, s.caller, s.dialed, s.at, reconstructed=s.reconstructed)
            call.history = asyncio.create_task(self.calls.history(s.caller))
            self.live[s.call_id] = call
        call.reconstructed = call.reconstructed or s.reconstructed
        call.queue = s.queue or call.queue
        if s.kind != "ended":
            call.marks.append(TimingMark(s.kind, s.at, s.detail))
        handler = _HANDLERS.get(s.kind)
        if handler is not None:
            await handler(self, call, s)

    async def _ringing(self, call: LiveCall, s: CallSignal) -> None:
        # The pop goes out at once with the caller's number; if their history is still
        # being read, it follows in its own event and the console fills it in.
        agent = s.agent or ""
        username = await self.calls.agent_username(agent)
        lookup = call.history
        ready = lookup is not None and lookup.done() and not lookup.cancelled()
        history = (
            lookup.result() if ready and lookup is not None and not lookup.exception() else None
        )
        await self.bus.publish(
            CallOffered(
                at=s.at,
                call_id=call.call_id,
                caller=call.caller,
                dialed=call.dialed,
                queue=call.queue,
                agent=agent,
                agent_username=username,
                history=history,
            )
        )
        if history is None and lookup is not None:
            self._later(self._history_follows(call, lookup, agent, username))

    async def _history_follows(
        self,
        call: LiveCall,
        lookup: asyncio.Task[tuple[dict[str, Any], ...]],
        agent: str,
        username: str | None,
    ) -> None:
        history = await lookup
        if call.answered_at is None and call.agent is not None and call.tail is not None:
            # Answered, contact still being committed: wait for it, to know its ticket.
            await asyncio.gather(call.tail, return_exceptions=True)
        if call.opened_ticket is not None:
            # Read after this call opened its own ticket: that one is not history.
            history = tuple(h for h in history if h["number"] != call.opened_ticket)
        await self.bus.publish(
            CallerHistory(
                at=call.started_at,
                call_id=call.call_id,
                agent=agent,
                agent_username=username,
                history=history,
            )
        )

    async def _answered(self, call: LiveCall, s: CallSignal) -> None:
        call.agent = s.agent or call.agent
        call.agent_username = await self.calls.agent_username(call.agent)
        self._after(call, self._open_contact(call, s.at))

    async def _open_contact(self, call: LiveCall, at: datetime) -> None:
        day = self.tickets.calendar.local_date(call.started_at).strftime("%Y%m%d")
        contact = InboundContact(
            channel=Channel.PHONE,
            external_id=f"call:{call.call_id}",
            citizen=CitizenIdentity(phone=call.caller),
            text=f"来电 {call.caller or '未显示号码'} 拨打 {call.dialed or '12345'}",
            received_at=call.started_at,
            extra={
                "agent": call.agent_username,
                "call_id": call.call_id,
                "recording": f"{day}/{call.call_id}.wav",
                "line": call.dialed,
            },
        )
        result = await self.tickets.accept(contact)
        call.ticket_number = result.ticket_number
        call.ticket_id = result.ticket_id
        if result.created_ticket:
            call.opened_ticket = result.ticket_number
        call.answered_at = at  # the call's row is written once, when it ends
        await self.bus.publish(
            CallAnswered(
                at=at,
                call_id=call.call_id,
                agent=call.agent or "",
                agent_username=call.agent_username,
                ticket_number=result.ticket_number,
            )
        )

    async def _abandoned(self, call: LiveCall, s: CallSignal) -> None:
        # Missed calls are called back, with a deadline of their own (working hours).
        due = hours_deadline(
            self.tickets.calendar, s.at, self.missed_callback_hours, working_hours_only=True
        )
        self._after(call, self.calls.save(self._row(call, abandoned=True, callback_due_at=due.due)))

    async def _transfer_outcome(self, call: LiveCall, s: CallSignal) -> None:
        ok = s.kind == "transfer_answered"
        await self.bus.publish(
            TransferOutcome(
                at=s.at,
                call_id=call.call_id,
                line=call.transfer_line or s.detail,
                ok=ok,
                reason="" if ok else (s.detail or "FAILED"),
                ticket_number=call.ticket_number,
                agent_username=call.agent_username,
            )
        )

    async def _survey(self, call: LiveCall, s: CallSignal) -> None:
        call.survey = s.detail if s.detail.isdigit() else "none"

    async def _ended(self, call: LiveCall, s: CallSignal) -> None:
        record = s.record or {}
        call.marks.append(TimingMark("ended", s.at))
        figures = call_figures(call.marks, self.service_level_seconds, record)
        row = self._row(
            call,
            ended_at=s.at,
            queue_wait=figures["wait_seconds"],
            talk_time=figures["talk_seconds"],
            ring_time=record.get("ring_time"),
            abandoned=figures["abandoned"],
            hangup_cause=record.get("hangup_cause"),
            record={**record, "figures": figures},
        )
        if figures["abandoned"] and "callback_due_at" not in row:
            due = hours_deadline(
                self.tickets.calendar, s.at, self.missed_callback_hours, working_hours_only=True
            )
            row["callback_due_at"] = due.due
        marks = [
            {"call_id": call.call_id, "at": m.at, "what": m.kind, "detail": m.detail[:200]}
            for m in call.marks
        ]
        del self.live[call.call_id]
        finished = CallFinished(
            at=s.at,
            call_id=call.call_id,
            ticket_number=call.ticket_number,
            agent_username=call.agent_username,
            abandoned=figures["abandoned"],
            figures=figures,
        )

        async def save_then_tell() -> None:
            await self.calls.save(
                {**row, "ticket_id": call.ticket_id},
                marks,
            )
            # After the contact (queued before us): the finish names the ticket.
            await self.bus.publish(replace(finished, ticket_number=call.ticket_number))

        self._after(call, save_then_tell())

    def _row(self, call: LiveCall, **extra: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "call_id": call.call_id,
            "direction": "inbound",
            "caller": call.caller,
            "dialed": call.dialed,
            "queue": call.queue,
            "agent": call.agent,
            "agent_username": call.agent_username,
            "started_at": call.started_at,
            "survey": call.survey,
            "reconstructed": call.reconstructed,
            "ticket_id": call.ticket_id,
            "answered_at": call.answered_at,
            "record": {},
        }
        row.update(extra)
        return row

    def _after(self, call: LiveCall, work: Awaitable[None]) -> None:
        """Queue a write behind this call's previous one (order kept, signal path free)."""
        previous = call.tail

        async def chained() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await work
            except Exception:
                log.exception("call %s: writing the call log failed", call.call_id)

        call.tail = asyncio.create_task(chained())
        self._writes.add(call.tail)
        call.tail.add_done_callback(self._writes.discard)

    def _later(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        """Wait for queued writes (tests, shutdown)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # -- transfer lines --------------------------------------------------------------

    def use_lines(self, lines: Iterable[TransferLine]) -> None:
        """The admins' stored table becomes the one agents and Asterisk use."""
        self.transfer_lines = {line.code: line for line in lines}
        if self.telephony is not None:
            self.telephony.set_lines(self.lines())

    def lines(self) -> dict[str, str]:
        """Lines agents may transfer to now: code → dial string (enabled stored lines)."""
        if self.transfer_lines is None:
            return dict(self.telephony.lines()) if self.telephony is not None else {}
        return {c: line.target for c, line in self.transfer_lines.items() if line.enabled}

    # -- the console's requests ------------------------------------------------------

    def _control(self) -> Telephony:
        if self.telephony is None:
            raise TelephonyOff("telephony is not configured (asterisk.host)")
        return self.telephony

    def _agent_call(self, extension: str | None) -> tuple[Telephony, str, str]:
        telephony = self._control()
        if not extension:
            raise NoLiveCall("no phone extension is set for this agent")
        interface = f"PJSIP/{extension}"
        call_id = telephony.live_call_of_agent(interface)
        if call_id is None:
            raise NoLiveCall("you are not on a call")
        return telephony, interface, call_id

    async def transfer(
        self, viewer: Viewer, extension: str | None, line: str, ticket: str | None = None
    ) -> dict[str, Any]:
        """One key: the caller goes to `line`; for 110 the ticket goes to the police at once."""
        telephony, _, call_id = self._agent_call(extension)
        call = self.live.get(call_id)
        number = ticket or (call.ticket_number if call else None)
        if call is not None:
            call.transfer_line = line
        message = await _asked(telephony.transfer(call_id, line, number))
        if line == "110" and number:
            await self._hand_to_police(viewer, number, call_id)
        return {"call_id": call_id, "line": line, "status": "requested", "message": message}

    async def three_way(
        self, viewer: Viewer, extension: str | None, line: str, ticket: str | None = None
    ) -> dict[str, Any]:
        """Caller, agent and the line together; the agent may leave later."""
        telephony, _, call_id = self._agent_call(extension)
        call = self.live.get(call_id)
        if call is not None:
            call.transfer_line = line
        room = await _asked(telephony.three_way(call_id, line))
        number = ticket or (call.ticket_number if call else None)
        if line == "110" and number:
            await self._hand_to_police(viewer, number, call_id)
        return {"call_id": call_id, "line": line, "status": "conference", "room": room}

    async def _hand_to_police(self, viewer: Viewer, number: str, call_id: str) -> None:
        try:
            await self.tickets.act(
                number, viewer, Action.TRANSFER_110, payload={"call_id": call_id}
            )
        except LifecycleError as e:  # e.g. already dispatched: the call went all the same
            log.info("ticket %s not handed to 110: %s", number, e)

    async def hangup(self, extension: str | None) -> dict[str, Any]:
        """End the agent's call."""
        telephony, _, call_id = self._agent_call(extension)
        return {"call_id": call_id, "message": await _asked(telephony.hangup(call_id))}

    async def callback(
        self, viewer: Viewer, extension: str | None, number: str, ticket: str | None = None
    ) -> dict[str, Any]:
        """回访 or a missed-call callback: the agent's phone rings first, then the citizen."""
        telephony = self._control()
        if not extension:
            raise NoLiveCall("no phone extension is set for this agent")
        message = await _asked(telephony.callback(f"PJSIP/{extension}", number, ticket))
        return {"status": "calling", "message": message}

    async def queue(
        self, viewer: Viewer, extension: str | None, action: str, reason: str = ""
    ) -> str:
        """Agent presence in the queue: login, logout, pause (with reason), unpause.

        Checked against the agent's presence first, so Asterisk is only asked for what the
        state allows; the presence changes once Asterisk agreed. Without telephony (or a
        phone) the agent's presence still changes: they take chats and letters only.
        """
        if action not in ("login", "logout", "pause", "unpause"):
            raise CallFailed("invalid_request", f"unknown queue action {action!r}")
        at = self.tickets.clock()
        if self.presence is not None:
            try:
                self.presence.check(viewer.username, action, at, reason or "break")
            except PresenceError as e:
                raise CallFailed("invalid_request", str(e)) from e
        message = ""  # presence only: the console says "done" in its own words
        if self.telephony is not None and extension:
            interface = f"PJSIP/{extension}"
            if action == "login":
                message = await _asked(self.telephony.queue_login(interface, viewer.username))
            elif action == "logout":
                message = await _asked(self.telephony.queue_logout(interface))
            elif action == "pause":
                message = await _asked(self.telephony.queue_pause(interface, reason or "break"))
            else:
                message = await _asked(self.telephony.queue_unpause(interface))
            if self.presence is not None:
                self.presence.interfaces[viewer.username] = interface
        elif self.presence is None:
            raise TelephonyOff("no telephony and no presence board")
        if self.presence is not None:
            try:
                now = self.tickets.clock()
                self.presence.change(viewer.username, action, now, reason or "break")
            except PresenceError as e:  # a call came in while Asterisk was asked
                raise CallFailed("invalid_request", str(e)) from e
        return message

    def survey_level(self, digit: str | None) -> RatingLevel | None:
        """The rating a caller pressed (1–5), None for no answer."""
        if digit and digit.isdigit() and 1 <= int(digit) <= 5:
            return RatingLevel.from_score(int(digit))
        return None


Handler = Callable[[TelephonyDesk, LiveCall, CallSignal], Awaitable[None]]

# Which signal does what: one visible table.
_HANDLERS: dict[str, Handler] = {
    "ringing": TelephonyDesk._ringing,
    "answered": TelephonyDesk._answered,
    "abandoned": TelephonyDesk._abandoned,
    "transfer_answered": TelephonyDesk._transfer_outcome,
    "transfer_failed": TelephonyDesk._transfer_outcome,
    "survey": TelephonyDesk._survey,
    "ended": TelephonyDesk._ended,
}
