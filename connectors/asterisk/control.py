"""Call control for the console: transfers, three-way call, callback, queue membership, via AMI.

Each method sends the actions our real-Asterisk recordings show (`real-asterisk-22.10.1__*.sent`)
and returns Asterisk's answer, or raises `AmiActionFailed` with Asterisk's own message (or
`AmiTimeout` / `AmiConnectionError`). What happens to the call afterwards (the 110 leg answering
or failing, the conference filling up) arrives as events and is judged by the tracker: Asterisk
says `Transfer succeeded` even when 110 then turns out to be busy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from connectors.asterisk import dialplan
from connectors.asterisk.errors import AmiActionFailed, AmiTimeout
from connectors.asterisk.frames import Frame
from connectors.asterisk.session import AmiResponse, Headers

__all__ = [
    "DEFAULT_LINES",
    "ORIGINATE_REASONS",
    "ActionResult",
    "AmiActions",
    "CallControl",
    "Originated",
    "ThreeWay",
]

# Transfer lines: number -> how Asterisk dials it (the trunks in asterisk_conf/pjsip.conf).
# Deployments override the table (a city's lines differ); see `CallControl(lines=...)`.
DEFAULT_LINES: Final[Mapping[str, str]] = {
    "110": "PJSIP/110@police110",
    "119": "PJSIP/119@fire119",
    "120": "PJSIP/120@medical120",
    "12369": "PJSIP/12369@env12369",
    "12317": "PJSIP/12317@pov12317",
}

# OriginateResponse `Reason:` (Asterisk's AST_CONTROL_* codes) in words for the agent.
ORIGINATE_REASONS: Final[Mapping[int, str]] = {
    0: "not reachable (no such number or channel unavailable)",
    1: "hung up before answering",
    3: "no answer",
    4: "answered",
    5: "busy",
    8: "congested or not reachable",
}

_DIALABLE = re.compile(r"^\+?[0-9]{2,20}$")
_ROOM = re.compile(r"^[0-9]{1,10}$")
_INTERFACE = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@+-]+$")


class AmiActions(Protocol):
    """What call control needs from a session (`AmiSession` implements it)."""

    def new_action_id(self) -> str:
        """A fresh ActionID."""
        ...

    def expect_event(self, match: Callable[[Frame], bool]) -> asyncio.Future[Frame]:
        """A future for the next matching event."""
        ...

    async def send_action(
        self,
        action: str,
        headers: Headers = (),
        *,
        time_limit: float | None = None,
        action_id: str | None = None,
    ) -> AmiResponse:
        """Send an action, wait for its answer."""
        ...


@dataclass(frozen=True, slots=True)
class ActionResult:
    """Asterisk accepted the action; `message` is its text (`Transfer succeeded`...)."""

    action: str
    action_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Originated:
    """An `Originate Async` was queued; with `wait_answer` also its outcome (Reason 4: answered)."""

    action_id: str
    message: str
    channel: str | None = None
    uniqueid: str | None = None
    reason: int | None = None


@dataclass(frozen=True, slots=True)
class ThreeWay:
    """Caller and agent were moved into `room`, and the line was called into it."""

    room: str
    redirect: ActionResult
    line: Originated


def _result(response: AmiResponse) -> ActionResult:
    return ActionResult(response.action, response.action_id, response.message)


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"not a valid {what}: {value!r}")
    return value


class CallControl:
    """The call-control actions; stateless apart from its session and the line table."""

    def __init__(
        self,
        session: AmiActions,
        *,
        lines: Mapping[str, str] = DEFAULT_LINES,
        queue: str = dialplan.HOTLINE_QUEUE,
        originate_timeout_ms: int = 30_000,
        hotline_caller_id: str = '"12345 Hotline" <12345>',
        callback_caller_id: str = '"12345 Callback" <12345>',
    ) -> None:
        self.session = session
        self.lines = dict(lines)
        self.queue = queue
        self.originate_timeout_ms = originate_timeout_ms
        self.hotline_caller_id = hotline_caller_id
        self.callback_caller_id = callback_caller_id

    def _transfer_target(self, line: str) -> tuple[str, str]:
        if line not in self.lines:
            raise ValueError(f"no transfer line {line!r} configured")
        if line == dialplan.TRANSFER_110_EXTEN:
            return dialplan.TRANSFER_110_CONTEXT, line
        return dialplan.TRANSFER_CONTEXT, line

    async def _send(self, action: str, headers: Headers) -> ActionResult:
        return _result(await self.session.send_action(action, headers))

    # ------------------------------------------------------------------ transfers

    async def set_ticket(self, channel: str, ticket: str) -> ActionResult:
        """Put the ticket number on a channel (inherited by the legs it dials)."""
        return await self._send(
            "Setvar",
            [
                ("Channel", channel),
                ("Variable", f"__{dialplan.TICKET_VARIABLE}"),
                ("Value", ticket),
            ],
        )

    async def transfer_blind(
        self,
        agent_channel: str,
        line: str = dialplan.TRANSFER_110_EXTEN,
        *,
        caller_channel: str | None = None,
        ticket: str | None = None,
    ) -> ActionResult:
        """One-key transfer: the caller (bridged to `agent_channel`) goes to the line, agent drops.

        With `ticket` and `caller_channel` the ticket number is set on the caller first, so the
        transfer context and the 110 leg carry it.
        """
        context, exten = self._transfer_target(line)
        if ticket is not None and caller_channel is not None:
            await self.set_ticket(caller_channel, ticket)
        # Recorded: BlindTransfer Channel=<agent> Exten=110 Context=transfer-110.
        return await self._send(
            "BlindTransfer", [("Channel", agent_channel), ("Exten", exten), ("Context", context)]
        )

    async def transfer_attended(
        self, agent_channel: str, line: str = dialplan.TRANSFER_110_EXTEN
    ) -> ActionResult:
        """Consultation transfer: the caller is held while the agent talks to the line first."""
        context, exten = self._transfer_target(line)
        # Recorded: Atxfer Channel=<agent> Exten=110 Context=transfer-110 (needs atxfer in
        # features.conf); the transfer completes when the agent hangs up.
        return await self._send(
            "Atxfer", [("Channel", agent_channel), ("Exten", exten), ("Context", context)]
        )

    async def three_way(
        self,
        caller_channel: str,
        agent_channel: str,
        room: str,
        line: str = dialplan.TRANSFER_110_EXTEN,
        *,
        wait_answer: bool = False,
    ) -> ThreeWay:
        """Caller and agent into ConfBridge `room`, then the line called into the same room.

        The agent may leave later and the caller stays with the line.
        """
        _check(_ROOM, room, "conference room")
        if line not in self.lines:
            raise ValueError(f"no transfer line {line!r} configured")
        # Recorded: one dual Redirect moves both legs at once ("Dual Redirect successful").
        redirect = await self._send(
            "Redirect",
            [
                ("Channel", caller_channel),
                ("ExtraChannel", agent_channel),
                ("Context", dialplan.CONFERENCE_CONTEXT),
                ("Exten", room),
                ("Priority", "1"),
            ],
        )
        called = await self._originate(
            [
                ("Channel", self.lines[line]),
                ("Context", dialplan.CONFERENCE_CONTEXT),
                ("Exten", room),
                ("Priority", "1"),
                ("Async", "true"),
                ("Timeout", str(self.originate_timeout_ms)),
                ("CallerID", self.hotline_caller_id),
            ],
            wait_answer,
        )
        return ThreeWay(room, redirect, called)

    # ------------------------------------------------------------------ callback

    async def callback(
        self,
        agent_interface: str,
        citizen_number: str,
        *,
        ticket: str | None = None,
        wait_answer: bool = False,
    ) -> Originated:
        """Follow-up call (回访): the agent's phone rings first, then the citizen is dialled."""
        _check(_INTERFACE, agent_interface, "agent interface")
        _check(_DIALABLE, citizen_number, "phone number")
        headers = [
            ("Channel", agent_interface),
            ("Context", dialplan.CALLBACK_CONTEXT),
            ("Exten", citizen_number),
            ("Priority", "1"),
            ("Async", "true"),
            ("Timeout", str(self.originate_timeout_ms)),
            ("CallerID", self.callback_caller_id),
        ]
        if ticket is not None:
            headers.append(("Variable", f"{dialplan.TICKET_VARIABLE}={ticket}"))
        return await self._originate(headers, wait_answer)

    async def _originate(self, headers: Sequence[tuple[str, str]], wait_answer: bool) -> Originated:
        action_id = self.session.new_action_id()
        outcome = self.session.expect_event(
            lambda f: f.name == "OriginateResponse" and f.get("ActionID") == action_id
        )
        try:
            queued = await self.session.send_action("Originate", headers, action_id=action_id)
            if not wait_answer:
                return Originated(action_id, queued.message)
            limit = self.originate_timeout_ms / 1000 + 5
            try:
                async with asyncio.timeout(limit):
                    report = await outcome
            except TimeoutError as exc:
                raise AmiTimeout("Originate", limit) from exc
        finally:
            outcome.cancel()
        reason = int(report.get("Reason", "0") or 0)
        if report.get("Response") != "Success":
            words = ORIGINATE_REASONS.get(reason, f"failed (reason {reason})")
            raise AmiActionFailed("Originate", words, report)
        uniqueid = report.get("Uniqueid")
        return Originated(
            action_id,
            queued.message,
            channel=report.get("Channel"),
            uniqueid=None if uniqueid in (None, "<null>") else uniqueid,
            reason=reason,
        )

    # ------------------------------------------------------------------ queue membership

    async def queue_login(
        self, interface: str, member_name: str, *, paused: bool = False, penalty: int = 0
    ) -> ActionResult:
        """The agent joins the queue (a dynamic member)."""
        _check(_INTERFACE, interface, "agent interface")
        return await self._send(
            "QueueAdd",
            [
                ("Queue", self.queue),
                ("Interface", interface),
                ("MemberName", member_name),
                ("StateInterface", interface),
                ("Penalty", str(penalty)),
                ("Paused", "true" if paused else "false"),
            ],
        )

    async def queue_logout(self, interface: str) -> ActionResult:
        """The agent leaves the queue."""
        return await self._send("QueueRemove", [("Queue", self.queue), ("Interface", interface)])

    async def queue_pause(self, interface: str, reason: str) -> ActionResult:
        """The agent takes a break (lunch, training...); no calls are offered meanwhile."""
        return await self._send(
            "QueuePause",
            [
                ("Queue", self.queue),
                ("Interface", interface),
                ("Paused", "true"),
                ("Reason", reason),
            ],
        )

    async def queue_unpause(self, interface: str) -> ActionResult:
        """The agent is back and takes calls again."""
        return await self._send(
            "QueuePause", [("Queue", self.queue), ("Interface", interface), ("Paused", "false")]
        )

    async def hangup(self, channel: str) -> ActionResult:
        """Hang up one channel."""
        return await self._send("Hangup", [("Channel", channel)])
