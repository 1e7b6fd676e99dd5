"""The telephony connector: AMI session and call control behind the center's ports.

Tracker updates become `CallSignal`s for the router (no AMI type leaves this package),
and the router's call-control requests become AMI actions on the right channels.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.asterisk.control import DEFAULT_LINES, CallControl
from connectors.asterisk.errors import AmiActionFailed, AmiConnectionError, AmiError, AmiTimeout
from connectors.asterisk.session import AmiConfig, AmiSession, CallUpdate
from connectors.asterisk.tracker import CallEnded, Mark, OriginateFailed, call_of_agent, channels_of
from connectors.base import CallControlError, CallSignal, CallSignalSink, ConnectorHealth

log = logging.getLogger(__name__)

# Tracker mark → signal kind (marks not listed keep their own name).
KIND_OF_MARK = {
    "queue_join": "queued",
    "agent_ring": "ringing",
    "agent_no_answer": "ring_no_answer",
    "agent_answered": "answered",
    "queue_abandon": "abandoned",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class AsteriskConnector:
    """Implements `Connector` and `Telephony` over one AMI session."""

    name = "asterisk"

    def __init__(
        self,
        config: AmiConfig,
        sink: CallSignalSink,
        *,
        lines: Mapping[str, str] = DEFAULT_LINES,
        session: AmiSession | None = None,
    ) -> None:
        self.session = session or AmiSession(config)
        self.control = CallControl(self.session, lines=lines)
        self.sink = sink
        self._last_at: dict[str, datetime] = {}
        self.session.subscribe(self._on_update)

    # -- Connector -----------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background (reconnects by itself)."""
        await self.session.start()

    async def stop(self) -> None:
        """Log off and close."""
        await self.session.stop()

    def health(self) -> ConnectorHealth:
        """Connected or not, and the last problem."""
        h = self.session.health()
        return ConnectorHealth(
            name=self.name,
            enabled=True,
            connected=h.connected,
            detail=h.last_error or "",
            since=h.connected_since,
        )

    # -- signals -------------------------------------------------------------------

    def signal_of(self, update: CallUpdate) -> CallSignal | None:
        """The center's view of one tracker update."""
        u = update.update
        live = self.session.state.calls.get(update.call_id)
        rec = live.record if live is not None else None
        if isinstance(u, Mark):
            self._last_at[u.call_id] = u.at
            kind = KIND_OF_MARK.get(u.what, u.what)
            agent = u.detail if kind in ("ringing", "ring_no_answer", "answered") else None
            return CallSignal(
                kind=kind,
                call_id=u.call_id,
                at=u.at,
                caller=rec.caller if rec else None,
                dialed=rec.dialed if rec else None,
                queue=(rec.queue if rec else None) or (u.detail if kind == "queued" else None),
                agent=agent or (rec.agent if rec else None),
                detail=u.detail,
                reconstructed=update.reconstructed,
            )
        if isinstance(u, CallEnded):
            r = u.record
            return CallSignal(
                kind="ended",
                call_id=r.call_id,
                at=self._last_at.pop(r.call_id, datetime.now().astimezone()),
                caller=r.caller,
                dialed=r.dialed,
                queue=r.queue,
                agent=r.agent,
                record=_jsonable(dataclasses.asdict(r)),
                reconstructed=update.reconstructed,
            )
        if isinstance(u, OriginateFailed):
            return CallSignal(
                kind="originate_failed", call_id=update.call_id, at=u.at, detail=str(u.reason)
            )
        return None

    async def _on_update(self, update: CallUpdate) -> None:
        signal = self.signal_of(update)
        if signal is not None:
            await self.sink(signal)

    # -- Telephony -----------------------------------------------------------------

    def lines(self) -> Mapping[str, str]:
        """Transfer lines by short name."""
        return dict(self.control.lines)

    def set_lines(self, lines: Mapping[str, str]) -> None:
        """Replace the transfer-line table; the next transfer dials by the new one."""
        self.control.lines = dict(lines)

    def live_call_of_agent(self, agent: str) -> str | None:
        """The call an agent's interface is on."""
        return call_of_agent(self.session.state, agent)

    def _legs(self, call_id: str) -> tuple[str, str]:
        caller, agent = channels_of(self.session.state, call_id)
        if caller is None or agent is None:
            raise CallControlError("no_such_call", f"call {call_id} is not connected to an agent")
        return caller, agent

    async def transfer(self, call_id: str, line: str, ticket: str | None = None) -> str:
        """Blind transfer of the caller to `line` with the ticket number on the channel."""
        caller, agent = self._legs(call_id)
        action = self.control.transfer_blind(agent, line, caller_channel=caller, ticket=ticket)
        return _text(await _control(action))

    async def three_way(self, call_id: str, line: str) -> str:
        """Caller and agent into a room named after the call, then the line called in."""
        caller, agent = self._legs(call_id)
        room = "".join(ch for ch in call_id if ch.isdigit())[-9:] or "3000"
        result = await _control(self.control.three_way(caller, agent, room, line))
        return str(getattr(result, "room", room))

    async def hangup(self, call_id: str) -> str:
        """End the caller's leg."""
        caller, _ = channels_of(self.session.state, call_id)
        if caller is None:
            raise CallControlError("no_such_call", f"call {call_id} is not live")
        return _text(await _control(self.control.hangup(caller)))

    async def callback(self, agent: str, number: str, ticket: str | None = None) -> str:
        """回访: the agent's phone first, then the citizen."""
        result = await _control(self.control.callback(agent, number, ticket=ticket))
        return str(getattr(result, "action_id", "") or "queued")

    async def queue_login(self, agent: str, name: str) -> str:
        """Agent joins the queue."""
        return _text(await _control(self.control.queue_login(agent, name)))

    async def queue_logout(self, agent: str) -> str:
        """Agent leaves the queue."""
        return _text(await _control(self.control.queue_logout(agent)))

    async def queue_pause(self, agent: str, reason: str) -> str:
        """Agent on a break."""
        return _text(await _control(self.control.queue_pause(agent, reason)))

    async def queue_unpause(self, agent: str) -> str:
        """Agent back."""
        return _text(await _control(self.control.queue_unpause(agent)))


async def _control(action: Any) -> Any:
    """Await a control action; AMI failures become CallControlError with Asterisk's words."""
    try:
        result = await action
    except AmiActionFailed as e:
        raise CallControlError("asterisk_refused", e.message or str(e)) from e
    except AmiTimeout as e:
        raise CallControlError("asterisk_timeout", str(e)) from e
    except AmiConnectionError as e:
        raise CallControlError("asterisk_unavailable", str(e)) from e
    except AmiError as e:
        raise CallControlError("asterisk_error", str(e)) from e
    except ValueError as e:
        raise CallControlError("invalid_request", str(e)) from e
    return result


def _text(result: Any) -> str:
    """What Asterisk said about a successful action."""
    message = getattr(result, "message", None)
    return message if isinstance(message, str) and message else "ok"
