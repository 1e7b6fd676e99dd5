"""Call control for agents over HTTP: transfer, three-way, hang up, callback, queue presence.

Every answer says what Asterisk said; a refusal is `{error: {code, message}}` with
Asterisk's own words, so the agent sees why (busy line, no such channel, …).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_console.web import (
    ApiError,
    field_error,
    json_body,
    locale_of,
    require_role,
    services,
    signed_in,
)
from router.telephony import CallFailed, NoLiveCall, TelephonyDesk, TelephonyOff
from tickets.model import Role

routes = web.RouteTableDef()
CALL_ROLES = (Role.AGENT, Role.SUPERVISOR)


def _desk(request: web.Request) -> TelephonyDesk:
    desk = services(request).desk
    if desk is None:
        raise ApiError(503, "telephony_off", locale_of(request))
    return desk


async def _run(request: web.Request, work: Any) -> web.Response:
    locale = locale_of(request)
    try:
        return web.json_response(await work)
    except TelephonyOff:
        raise ApiError(503, "telephony_off", locale) from None
    except NoLiveCall as e:
        raise ApiError(409, "no_live_call", locale, detail=str(e)) from None
    except CallFailed as e:
        # Asterisk's own words, as the agent must see them.
        raise ApiError(
            502, "call_control_failed", locale, detail=e.message, reason=e.code
        ) from None


@routes.get("/api/v1/telephony")
async def status(request: web.Request) -> web.Response:
    """Is telephony on and connected; the transfer lines; live calls; missed calls to return."""
    _, viewer = await signed_in(request)
    svc = services(request)
    desk = svc.desk
    telephony = desk.telephony if desk else None
    health = getattr(telephony, "health", None)
    h = health() if callable(health) else None
    missed = await svc.calls.missed() if svc.calls else []
    return web.json_response(
        {
            "enabled": telephony is not None,
            "connected": bool(h and h.connected),
            "detail": h.detail if h else "",
            "lines": sorted(desk.lines()) if desk and telephony else [],
            "live_calls": [
                {
                    "call_id": c.call_id,
                    "caller": c.caller,
                    "queue": c.queue,
                    "agent_username": c.agent_username,
                    "ticket_number": c.ticket_number,
                    "started_at": c.started_at.isoformat(),
                }
                for c in (desk.live.values() if desk else [])
            ],
            "missed_calls": [
                {
                    "call_id": m["call_id"],
                    "caller": m["caller"],
                    "started_at": m["started_at"].isoformat(),
                    "callback_due_at": m["callback_due_at"].isoformat(),
                }
                for m in missed
            ],
        }
    )


async def _agent(request: web.Request) -> tuple[Any, dict[str, Any]]:
    session, viewer = await signed_in(request, unsafe=True)
    require_role(viewer, *CALL_ROLES, locale=locale_of(request))
    return session, await json_body(request)


def _line(data: dict[str, Any], desk: TelephonyDesk, locale: str, *, blind: bool = False) -> str:
    line = str(data.get("line") or "110")
    if desk.telephony is not None and line not in desk.lines():
        raise field_error("line", f"one of {', '.join(sorted(desk.lines()))}", locale)
    stored = (desk.transfer_lines or {}).get(line)
    if blind and stored is not None and stored.kind == "three_way":
        # The admins marked it three-way only: the agent stays on (e.g. 120 needs the address).
        raise field_error("line", "a three-way line: the agent stays on the call", locale)
    return line


@routes.post("/api/v1/calls/transfer")
async def transfer(request: web.Request) -> web.Response:
    """One-key transfer of the agent's caller (to 110 by default)."""
    session, data = await _agent(request)
    desk = _desk(request)
    line = _line(data, desk, locale_of(request), blind=True)
    viewer = services(request).accounts.viewer(session.user)
    ticket = data.get("ticket") or None
    work = desk.transfer(viewer, session.user.extension, line, ticket)
    return await _run(request, work)


@routes.post("/api/v1/calls/three_way")
async def three_way(request: web.Request) -> web.Response:
    """Caller, agent and the line (110 by default) in one conference."""
    session, data = await _agent(request)
    desk = _desk(request)
    line = _line(data, desk, locale_of(request))
    viewer = services(request).accounts.viewer(session.user)
    work = desk.three_way(viewer, session.user.extension, line, data.get("ticket") or None)
    return await _run(request, work)


@routes.post("/api/v1/calls/hangup")
async def hangup(request: web.Request) -> web.Response:
    """End the agent's call."""
    session, _ = await _agent(request)
    return await _run(request, _desk(request).hangup(session.user.extension))


@routes.post("/api/v1/calls/callback")
async def callback(request: web.Request) -> web.Response:
    """Call a citizen back (回访 or a missed call): the agent's phone rings first."""
    session, data = await _agent(request)
    locale = locale_of(request)
    number = str(data.get("number") or "").strip()
    if not number.isdigit() or not 3 <= len(number) <= 20:
        raise field_error("number", "the digits to dial", locale)
    desk = _desk(request)
    viewer = services(request).accounts.viewer(session.user)
    response = await _run(
        request, desk.callback(viewer, session.user.extension, number, data.get("ticket") or None)
    )
    missed = data.get("missed_call")
    if missed and services(request).calls is not None:
        await services(request).calls.callback_done(str(missed), session.user.username)  # type: ignore[union-attr]
    return response


@routes.post("/api/v1/agent/queue")
async def queue(request: web.Request) -> web.Response:
    """Queue presence: login, logout, pause (with a reason), unpause."""
    session, data = await _agent(request)
    locale = locale_of(request)
    action = str(data.get("action") or "")
    if action not in ("login", "logout", "pause", "unpause"):
        raise field_error("action", "login, logout, pause or unpause", locale)
    reason = str(data.get("reason") or "")
    if action == "pause" and not reason:
        raise field_error("reason", "say why you pause (lunch, training, …)", locale)
    desk = _desk(request)
    viewer = services(request).accounts.viewer(session.user)

    async def work() -> dict[str, Any]:
        message = await desk.queue(viewer, session.user.extension, action, reason)
        return {"action": action, "message": message}

    return await _run(request, work())


@routes.get("/api/v1/agents")
async def agents(request: web.Request) -> web.Response:
    """Every agent's presence (supervisors): state, since when, pause reason, chats."""
    _, viewer = await signed_in(request)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale_of(request))
    board = services(request).presence
    now = services(request).tickets.clock()
    return web.json_response(
        [
            {
                "username": name,
                "state": p.state.value,
                "since": p.since.isoformat() if p.since else None,
                "reason": p.reason,
                "chats": p.chats,
            }
            for name, p in sorted((board.now(now) if board else {}).items())
        ]
    )
