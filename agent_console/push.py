"""The websocket hub at /ws: committed events pushed to the browsers allowed to see them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import WSCloseCode, WSMsgType, web

from agent_console.web import SERVICES, SESSION_COOKIE, ConsoleServices, locale_of
from router.online_desk import DeskNews
from tickets.accounts import AuthError
from tickets.events import (
    CallAnswered,
    CallerHistory,
    CallFinished,
    CallOffered,
    DeadlineWarning,
    DomainEvent,
    TicketChanged,
    TransferOutcome,
)
from tickets.model import Role, State
from tickets.privacy import Viewer

log = logging.getLogger(__name__)

# Payload keys of a TicketChanged that any role in its audience may read; the rest (the
# dispatch sheet's anti-forgery code, call ids, free text) stays behind the ticket API.
PUBLIC_PAYLOAD = frozenset({"department", "co_departments", "hop", "rating", "days"})
CALL_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
CLOSE_SESSION_ENDED = 4401  # application close code: sign in again


@dataclass(eq=False)
class Client:
    """One open socket: who is behind it and the bounded queue its sender drains."""

    ws: web.WebSocketResponse
    username: str
    role: Role
    scope: frozenset[str]
    token: str
    queue: asyncio.Queue[str]
    dropped: int = 0
    sender: asyncio.Task[None] | None = None

    def offer(self, message: str) -> None:
        """Enqueue without waiting; a full queue is emptied and replaced by a resync."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # The browser fell behind: old news is worthless, it reloads its state instead.
            self.dropped += self.queue.qsize()
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_dump({"type": "resync", "dropped": self.dropped}))


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Hub:
    """Routes bus events to sockets by role, name and department scope; never waits."""

    queue_size: int = 200
    wallboard_seconds: float = 2.0
    session_check_seconds: float = 30.0
    clients: set[Client] = field(default_factory=set)
    by_user: dict[str, set[Client]] = field(default_factory=dict)
    by_role: dict[Role, set[Client]] = field(default_factory=dict)
    services: ConsoleServices | None = None
    _board: asyncio.Task[None] | None = None
    _board_soon: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False

    # -- routing (inline on the bus: only enqueues) --------------------------------------

    def on_event(self, event: DomainEvent) -> None:
        """The bus's inline subscriber: serialize once, hand to each allowed socket."""
        route = _ROUTES.get(type(event))
        if route is None or not self.clients:
            return
        targets, message = route(self, event)
        text = _dump(message)
        for client in targets:
            client.offer(text)
        if self._board is not None:
            self._board_soon.set()

    def _role(self, *roles: Role) -> Iterable[Client]:
        for role in roles:
            yield from self.by_role.get(role, ())

    def _agent_and_supervisors(self, username: str | None) -> list[Client]:
        own = [
            c for c in self.by_user.get(username or "", ()) if c.role is Role.AGENT
        ]  # a supervisor taking calls is in both sets
        return own + list(self._role(Role.SUPERVISOR))

    def _call_offered(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, CallOffered)
        return self._agent_and_supervisors(e.agent_username), {
            "type": "call_offered",
            "call_id": e.call_id,
            "caller": e.caller,
            "dialed": e.dialed,
            "queue": e.queue,
            "agent": e.agent_username,
            "at": e.at.isoformat(),
            "history": None if e.history is None else list(e.history),
        }

    def _caller_history(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, CallerHistory)
        return self._agent_and_supervisors(e.agent_username), {
            "type": "caller_history",
            "call_id": e.call_id,
            "agent": e.agent_username,
            "history": list(e.history),
        }

    def _call_answered(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, CallAnswered)
        return self._agent_and_supervisors(e.agent_username), {
            "type": "call_answered",
            "call_id": e.call_id,
            "agent": e.agent_username,
            "ticket_number": e.ticket_number,
            "at": e.at.isoformat(),
        }

    def _transfer_outcome(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, TransferOutcome)
        return self._agent_and_supervisors(e.agent_username), {
            "type": "transfer_outcome",
            "call_id": e.call_id,
            "agent": e.agent_username,
            "line": e.line,
            "ok": e.ok,
            "reason": e.reason,
            "ticket_number": e.ticket_number,
            "at": e.at.isoformat(),
        }

    def _call_finished(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, CallFinished)
        f = e.figures
        return self._agent_and_supervisors(e.agent_username), {
            "type": "call_finished",
            "call_id": e.call_id,
            "agent": e.agent_username,
            "ticket_number": e.ticket_number,
            "abandoned": e.abandoned,
            "wait_seconds": f.get("wait_seconds"),
            "talk_seconds": f.get("talk_seconds"),
            "within_service_level": f.get("within_service_level"),
            "at": e.at.isoformat(),
        }

    def _ticket_changed(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, TicketChanged)
        departments = set(e.departments)
        # Police hear of every order coming to them and every one leaving them (hand back).
        with_police = State.WITH_POLICE.value
        to_police = e.action == "transfer_110" or with_police in (e.to_state, e.from_state)
        targets = list(self._role(Role.SUPERVISOR))
        for c in self._role(Role.DEPARTMENT):
            if c.scope & departments:
                targets.append(c)
        for c in self._role(Role.POLICE):
            if to_police or c.scope & departments:
                targets.append(c)
        return targets, {
            "type": "ticket_changed",
            "number": e.ticket_number,
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "actor": e.actor,
            "role": e.role,
            "departments": list(e.departments),
            "payload": {k: v for k, v in e.payload.items() if k in PUBLIC_PAYLOAD},
            "at": e.at.isoformat(),
        }

    def _desk_news(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        assert isinstance(e, DeskNews)
        if e.to is None:  # the queue: every workspace and the supervisors
            return list(self._role(*CALL_ROLES)), e.message
        return [c for c in self.by_user.get(e.to, ()) if c.role in CALL_ROLES], e.message

    def _deadline_warning(self, e: DomainEvent) -> tuple[Iterable[Client], dict[str, Any]]:
        # An unsigned order past its sign deadline is escalated: every supervisor hears of
        # it at once; the units in its chain see their own warnings.
        assert isinstance(e, DeadlineWarning)
        departments = set(e.departments)
        targets = list(self._role(Role.SUPERVISOR))
        targets += [c for c in self._role(Role.DEPARTMENT) if c.scope & departments]
        return targets, {
            "type": "deadline_warning",
            "number": e.ticket_number,
            "kind": e.kind,
            "due_at": e.due_at,
            "departments": list(e.departments),
            "at": e.at.isoformat(),
        }

    # -- sockets -----------------------------------------------------------------------

    def _add(self, client: Client) -> None:
        self.clients.add(client)
        self.by_user.setdefault(client.username, set()).add(client)
        self.by_role.setdefault(client.role, set()).add(client)
        if client.role is Role.SUPERVISOR and self._board is None and not self._closing:
            self._board = asyncio.create_task(self._wallboard_loop(), name="wallboard")

    def _remove(self, client: Client) -> None:
        self.clients.discard(client)
        self.by_user.get(client.username, set()).discard(client)
        self.by_role.get(client.role, set()).discard(client)

    def agents_online(self) -> list[str]:
        """Agents with a workspace socket open."""
        return sorted({c.username for c in self.by_role.get(Role.AGENT, ())})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws: sign-in by the session cookie, then a one-way stream of JSON messages."""
        svc = request.app[SERVICES]
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            # Cross-site socket hijacking: a page elsewhere may not read our stream.
            return web.json_response({"error": {"code": "forbidden"}}, status=403)
        token = request.cookies.get(SESSION_COOKIE, "")
        try:
            if not token:
                raise AuthError("not signed in")
            session = await svc.accounts.session(token)
        except AuthError:
            return web.json_response(
                {"error": {"code": "unauthorized", "locale": locale_of(request)}}, status=401
            )
        viewer = svc.accounts.viewer(session.user)
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=4096)
        await ws.prepare(request)
        client = Client(
            ws,
            viewer.username,
            viewer.role,
            viewer.scope,
            token,
            asyncio.Queue(self.queue_size),
        )
        hello = {"type": "hello", "username": viewer.username, "role": viewer.role.value}
        client.offer(_dump(hello))
        self._add(client)
        client.sender = asyncio.create_task(self._send(client, svc))
        if client.role is Role.SUPERVISOR:
            self._board_soon.set()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and msg.data == "ping":
                    client.offer(_dump({"type": "pong"}))
                # Anything else from a browser is ignored: actions go through the HTTP API.
        finally:
            self._remove(client)
            client.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.sender
            await ws.close()
        return ws

    async def _send(self, client: Client, svc: ConsoleServices) -> None:
        try:
            while not client.ws.closed:
                try:
                    async with asyncio.timeout(self.session_check_seconds):
                        text = await client.queue.get()
                except TimeoutError:
                    # Quiet for a while: is the session still valid (sign-out, expiry)?
                    try:
                        await svc.accounts.session(client.token)
                    except AuthError:
                        await client.ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
                        return
                    continue
                await client.ws.send_str(text)
        except (ConnectionResetError, RuntimeError):
            pass  # the socket went away under us; the reader's finally cleans up

    # -- wallboard ---------------------------------------------------------------------

    async def _wallboard_loop(self) -> None:
        while self.by_role.get(Role.SUPERVISOR) and not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wallboard_seconds):
                    await self._board_soon.wait()
            self._board_soon.clear()
            await asyncio.sleep(0.05)  # a burst of events makes one snapshot
            self._board_soon.clear()
            if self.services is None or not self.by_role.get(Role.SUPERVISOR):
                continue
            try:
                text = _dump({"type": "wallboard", **await wallboard(self.services, self)})
            except Exception:
                log.exception("wallboard snapshot failed")
                continue
            for client in list(self._role(Role.SUPERVISOR)):
                client.offer(text)
        self._board = None

    async def close(self) -> None:
        """Close every socket (app shutdown): browsers reconnect to the next process."""
        self._closing = True
        board, self._board = self._board, None
        if board is not None:
            board.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await board
        for client in list(self.clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


Route = Callable[[Hub, DomainEvent], tuple[Iterable[Client], dict[str, Any]]]

# Which event goes to whom: one visible table.
_ROUTES: dict[type[DomainEvent], Route] = {
    CallOffered: Hub._call_offered,
    CallerHistory: Hub._caller_history,
    CallAnswered: Hub._call_answered,
    TransferOutcome: Hub._transfer_outcome,
    CallFinished: Hub._call_finished,
    TicketChanged: Hub._ticket_changed,
    DeadlineWarning: Hub._deadline_warning,
    DeskNews: Hub._desk_news,
}


async def wallboard(svc: ConsoleServices, hub: Hub | None = None) -> dict[str, Any]:
    """The whole center at a glance: queue, live calls, today's call figures, ticket backlog."""
    now = svc.tickets.clock()
    live = list(svc.desk.live.values()) if svc.desk else []
    waiting = [c for c in live if c.agent is None]
    talking = [c for c in live if c.agent is not None]
    tz = ZoneInfo(svc.tickets.timezone)
    midnight = datetime.combine(now.astimezone(tz).date(), time(), tz)
    rows = await svc.calls.between(midnight, midnight + timedelta(days=1)) if svc.calls else []
    missed = await svc.calls.missed() if svc.calls else []
    answered = [r for r in rows if r["answered_at"] is not None and not r["abandoned"]]
    abandoned = [r for r in rows if r["abandoned"]]
    figures = [(r.get("record") or {}).get("figures") or {} for r in rows]
    within = sum(1 for f in figures if f.get("within_service_level"))
    # The tracker names the target as dialed: "110" or "110@transfer-110" (exten@context).
    transfers = [
        t
        for f in figures
        for t in f.get("transfers", [])
        if str(t.get("line", "")).split("@")[0] == "110"
    ]
    finished = len(answered) + len(abandoned)
    center = Viewer("wallboard", Role.SUPERVISOR)
    counts: dict[str, int] = {}
    for key, states, overdue in (
        ("pending_review", ["pending_review"], False),
        ("returned", ["returned"], False),
        ("supervised", ["supervised"], False),
        ("with_police", ["with_police"], False),
        ("overdue", [], True),
    ):
        _, counts[key] = await svc.tickets.list(center, states=states, overdue=overdue, limit=1)
    return {
        "at": now.isoformat(),
        "waiting": len(waiting),
        "longest_wait_seconds": max(
            (max(0.0, (now - c.started_at).total_seconds()) for c in waiting), default=0.0
        ),
        "on_calls": len({c.agent_username or c.agent for c in talking}),
        "agents_online": len(hub.agents_online()) if hub else 0,
        "agents_by_state": svc.presence.counts(now) if svc.presence else {},
        "online": svc.online.figures(now) if svc.online else {},
        "live_calls": [
            {
                "call_id": c.call_id,
                "caller": c.caller,
                "dialed": c.dialed,
                "agent": c.agent_username or c.agent,
                "state": "talking" if c.agent else "waiting",
                "ticket_number": c.ticket_number,
                "since": c.started_at.isoformat(),
            }
            for c in sorted(live, key=lambda c: c.started_at)
        ],
        "today": {
            "offered": len(rows),
            "answered": len(answered),
            "abandoned": len(abandoned),
            "service_level": round(100 * within / finished, 1) if finished else None,
            "transfers_110": len(transfers),
            "transfers_110_failed": sum(1 for t in transfers if not t.get("ok")),
            "missed_to_call_back": len(missed),
        },
        "tickets": counts,
    }


HUB = web.AppKey("push_hub", Hub)


def install(app: web.Application, svc: ConsoleServices) -> Hub:
    """Add /ws to `app`; sockets close when the app shuts down."""
    hub = Hub(services=svc)
    app[HUB] = hub
    app.router.add_get("/ws", hub.handle)

    async def on_shutdown(_: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(on_shutdown)
    return hub


def hub_of(app: web.Application) -> Hub:
    """The app's hub (the composition root subscribes it inline on the bus)."""
    return app[HUB]
