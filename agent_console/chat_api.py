"""Online contacts over HTTP for the workspace: the queue, offers (accept or decline), the
agent's conversations, replies through the outbox, ending a chat; agents' skills.

The live part (offers, citizens' messages, replies' outcomes) arrives over /ws as the
desk's news; these routes are the actions and the state a page loads or reloads.
"""

from __future__ import annotations

import secrets
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
from router.online_desk import OnlineDesk, OnlineError
from tickets.model import Role
from tickets.privacy import Viewer

routes = web.RouteTableDef()
DESK_ROLES = (Role.AGENT, Role.SUPERVISOR)
LANGUAGES = ("zh", "en")


def _desk(request: web.Request) -> OnlineDesk:
    desk = services(request).online
    if desk is None:
        raise ApiError(503, "online_off", locale_of(request))
    return desk


def _ticket_id(request: web.Request) -> int:
    raw = request.match_info["ticket_id"]
    if not raw.isdigit():
        raise field_error("ticket_id", "a conversation id (digits)", locale_of(request))
    return int(raw)


async def _viewer(request: web.Request, *, unsafe: bool = False) -> Viewer:
    _, viewer = await signed_in(request, unsafe=unsafe)
    require_role(viewer, *DESK_ROLES, locale=locale_of(request))
    return viewer


async def _run(request: web.Request, work: Any) -> web.Response:
    try:
        return web.json_response(await work)
    except OnlineError as e:
        raise ApiError(e.status, f"online_{e.code}", locale_of(request), detail=e.detail) from None


@routes.get("/api/v1/online")
async def overview(request: web.Request) -> web.Response:
    """The queue, the agent's own conversations, their presence and the figures."""
    viewer = await _viewer(request)
    desk = _desk(request)

    async def work() -> dict[str, Any]:
        now = desk.clock()
        p = desk.presence.now(now).get(viewer.username)
        return {
            "queue": await desk.waiting(viewer),
            "mine": await desk.mine(viewer),
            "figures": desk.figures(now),
            "offer_seconds": desk.offer_seconds,
            "presence": {
                "state": p.state.value if p else "logged_out",
                "chats": p.chats if p else 0,
                "max_chats": desk.presence.max_chats_of(viewer.username),
            },
        }

    return await _run(request, work())


@routes.get("/api/v1/online/{ticket_id}")
async def conversation(request: web.Request) -> web.Response:
    """One conversation: the citizen's messages and the replies with their status."""
    viewer = await _viewer(request)
    return await _run(request, _desk(request).conversation(viewer, _ticket_id(request)))


@routes.post("/api/v1/online/{ticket_id}/accept")
async def accept(request: web.Request) -> web.Response:
    """Take a conversation offered to me, or open a letter nobody is offered."""
    viewer = await _viewer(request, unsafe=True)
    return await _run(request, _desk(request).accept(viewer, _ticket_id(request)))


@routes.post("/api/v1/online/{ticket_id}/decline")
async def decline(request: web.Request) -> web.Response:
    """Turn an offer down: it goes to the next agent."""
    viewer = await _viewer(request, unsafe=True)
    desk = _desk(request)
    ticket_id = _ticket_id(request)

    async def work() -> dict[str, Any]:
        await desk.decline(viewer, ticket_id)
        return {"ticket_id": ticket_id, "declined": True}

    return await _run(request, work())


@routes.post("/api/v1/online/{ticket_id}/end")
async def end(request: web.Request) -> web.Response:
    """End my conversation."""
    viewer = await _viewer(request, unsafe=True)
    desk = _desk(request)
    ticket_id = _ticket_id(request)

    async def work() -> dict[str, Any]:
        await desk.end(viewer, ticket_id)
        return {"ticket_id": ticket_id, "ended": True}

    return await _run(request, work())


@routes.post("/api/v1/online/{ticket_id}/reply")
async def reply(request: web.Request) -> web.Response:
    """Answer the citizen; stored in the outbox (pending) and sent from there.

    `key` makes a retried request (a double click, a lost answer) store the reply once.
    """
    viewer = await _viewer(request, unsafe=True)
    data = await json_body(request)
    locale = locale_of(request)
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise field_error("text", "the answer to send", locale)
    key = data.get("key") or secrets.token_hex(8)
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        raise field_error("key", "up to 64 characters", locale)
    work = _desk(request).reply(viewer, _ticket_id(request), text, key)
    return await _run(request, work)


@routes.get("/api/v1/agents/skills")
async def skills(request: web.Request) -> web.Response:
    """Every agent's skills and own chat limit (supervisors, admins)."""
    _, viewer = await signed_in(request)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale_of(request))
    desk = _desk(request)
    return web.json_response(
        [
            {**row, "updated_at": row["updated_at"].isoformat()}
            for _, row in sorted((await desk.records.skills()).items())
        ]
    )


@routes.put("/api/v1/agents/{username}/skills")
async def put_skills(request: web.Request) -> web.Response:
    """An agent's skills (categories, languages) and most concurrent chats (supervisors, admins)."""
    _, viewer = await signed_in(request, unsafe=True)
    locale = locale_of(request)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale)
    data = await json_body(request)
    svc = services(request)
    username = request.match_info["username"]
    user = next((u for u in await svc.accounts.users() if u.username == username), None)
    if user is None or user.role not in DESK_ROLES:
        raise field_error("username", "an agent or supervisor", locale)
    categories = data.get("categories", [])
    if not isinstance(categories, list) or any(
        not isinstance(c, str) or c not in svc.tickets.category_rows for c in categories
    ):
        raise field_error("categories", "a list of category codes", locale)
    languages = data.get("languages", [])
    if not isinstance(languages, list) or any(x not in LANGUAGES for x in languages):
        raise field_error("languages", "a list of zh, en", locale)
    max_chats = data.get("max_chats")
    if max_chats is not None and (
        not isinstance(max_chats, int) or isinstance(max_chats, bool) or not 1 <= max_chats <= 20
    ):
        raise field_error("max_chats", "a number from 1 to 20, or null", locale)
    row = await _desk(request).set_skills(
        username, categories, languages, max_chats, viewer.username
    )
    return web.json_response({**row, "updated_at": row["updated_at"].isoformat()})
