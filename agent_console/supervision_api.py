"""Supervision from the wallboard: what awaits a supervisor; 督办, 改派 and extension decisions.

`GET /api/v1/supervision` lists tickets awaiting review or a decision (returns, extension
requests), open orders with a deadline warning (unsigned past the sign deadline, nearly due)
and overdue orders. The wallboard reloads it whenever the socket says a ticket moved or a
deadline passed. Each action goes through the one lifecycle (supervise, redispatch,
approve/deny_extension; an open ticket's agent through the ticket service) and answers with
the ticket as it now is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_console.web import (
    ApiError,
    ConsoleServices,
    field_error,
    json_body,
    locale_of,
    services,
    signed_in,
)
from tickets.catalog import CATALOG, t
from tickets.lifecycle import Action
from tickets.model import Role
from tickets.privacy import Viewer

routes = web.RouteTableDef()
SCAN = 500  # open orders looked at per list (the wallboard shows the most pressing first)
CENTER = Viewer("wallboard", Role.SUPERVISOR)


def _item(i: dict[str, Any], kind: str, deadline: str | None) -> dict[str, Any]:
    return {
        "number": i["number"],
        "state": i["state"],
        "kind": kind,
        "subject": i["subject"],
        "category_name": i["category_name"],
        "urgency": i["urgency"],
        "lead_department": i["lead_department"],
        "lead_department_name": i["lead_department_name"],
        "deadline": deadline,
        "days": i.get("extension_pending_days"),
        "agent": i.get("accepted_by"),
    }


def classify(items: list[dict[str, Any]], now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Open orders (dispatched, handling) → overdue and warning lists; pure."""
    overdue: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for i in items:
        due = datetime.fromisoformat(i["due_at"]) if i.get("due_at") else None
        sign = datetime.fromisoformat(i["sign_due_at"]) if i.get("sign_due_at") else None
        warn = datetime.fromisoformat(i["warn_at"]) if i.get("warn_at") else None
        if due is not None and due <= now:
            overdue.append(_item(i, "overdue", i["due_at"]))
        elif i["state"] == "dispatched" and sign is not None and sign <= now:
            warnings.append(_item(i, "sign_overdue", i["sign_due_at"]))
        elif warn is not None and warn <= now:
            warnings.append(_item(i, "due_warning", i["due_at"]))
    overdue.sort(key=lambda x: x["deadline"])
    warnings.sort(key=lambda x: (x["kind"] != "sign_overdue", x["deadline"]))
    return {"overdue": overdue, "warnings": warnings}


async def supervision(svc: ConsoleServices, locale: str) -> dict[str, Any]:
    """The three lists and the units an order can be reassigned to."""
    now = svc.tickets.clock()
    review, _ = await svc.tickets.list(
        CENTER, states=["pending_review", "returned"], limit=SCAN, locale=locale
    )
    orders, _ = await svc.tickets.list(
        CENTER, states=["dispatched", "handling"], limit=SCAN, locale=locale
    )
    awaiting = [_item(i, i["state"], i["created_at"]) for i in review] + [
        _item(i, "extension", i["due_at"])
        for i in orders
        if i.get("extension_pending_days") is not None
    ]
    tree = svc.tickets.tree
    return {
        "at": now.isoformat(),
        "awaiting": awaiting,
        **classify(orders, now),
        "departments": [
            {"code": d.code, "name": tree.name(d.code, locale)}
            for d in tree.by_code.values()
            if d.kind in ("city", "district")
        ],
        "agents": [
            {"username": u.username, "name": u.display_name or u.username}
            for u in await svc.accounts.users()
            if u.role is Role.AGENT
        ],
    }


async def _supervisor(request: web.Request, *, unsafe: bool = False) -> tuple[Viewer, str]:
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=unsafe)
    if viewer.role is not Role.SUPERVISOR:
        raise ApiError(403, "forbidden", locale)
    return viewer, locale


@routes.get("/api/v1/supervision")
async def supervision_lists(request: web.Request) -> web.Response:
    """What awaits the supervisors now."""
    _, locale = await _supervisor(request)
    return web.json_response(await supervision(services(request), locale))


@routes.post("/api/v1/supervision/{number}/supervise")
async def supervise(request: web.Request) -> web.Response:
    """督办: a note to the handling unit, and optionally a new handling deadline (a date)."""
    viewer, locale = await _supervisor(request, unsafe=True)
    data = await json_body(request)
    note = data.get("note")
    if not isinstance(note, str) or not note.strip():
        raise field_error("note", "required", locale)
    if len(note) > 2000:
        raise field_error("note", "at most 2000 characters", locale)
    payload: dict[str, Any] = {}
    if data.get("due_date"):
        payload["due_date"] = str(data["due_date"])
    ticket = await services(request).tickets.act(
        request.match_info["number"], viewer, Action.SUPERVISE, reason=note, payload=payload
    )
    return web.json_response(ticket)


@routes.post("/api/v1/supervision/{number}/reassign")
async def reassign(request: web.Request) -> web.Response:
    """改派: the order goes to another unit, with a new dispatch sheet and new deadlines."""
    viewer, locale = await _supervisor(request, unsafe=True)
    data = await json_body(request)
    svc = services(request)
    department = data.get("department")
    if not isinstance(department, str) or department not in svc.tickets.tree:
        raise field_error("department", "choose a unit", locale)
    number = request.match_info["number"]
    current = await svc.tickets.view(number, viewer, locale=locale)
    if current["lead_department"] == department:
        raise field_error("department", "the order is already with this unit", locale)
    ticket = await svc.tickets.act(
        number, viewer, Action.REDISPATCH, payload={"department": department}
    )
    return web.json_response(ticket)


@routes.post("/api/v1/supervision/{number}/assign")
async def assign(request: web.Request) -> web.Response:
    """改派坐席: an open ticket goes to another agent, who becomes its handler."""
    viewer, locale = await _supervisor(request, unsafe=True)
    data = await json_body(request)
    agent = data.get("agent")
    if not isinstance(agent, str) or not agent.strip():
        raise field_error("agent", "choose an agent", locale)
    ticket = await services(request).tickets.assign_agent(
        request.match_info["number"], viewer, agent.strip()
    )
    return web.json_response(ticket)


@routes.post("/api/v1/supervision/{number}/extension")
async def decide_extension(request: web.Request) -> web.Response:
    """A unit's extension request: approve (the deadline moves) or refuse with a reason."""
    viewer, locale = await _supervisor(request, unsafe=True)
    data = await json_body(request)
    decision = data.get("decision")
    if decision not in ("approve", "deny"):
        raise field_error("decision", "approve or deny", locale)
    reason = str(data.get("reason") or "").strip()
    if decision == "deny" and not reason:
        raise field_error("reason", "required", locale)
    action = Action.APPROVE_EXTENSION if decision == "approve" else Action.DENY_EXTENSION
    ticket = await services(request).tickets.act(
        request.match_info["number"], viewer, action, reason=reason
    )
    return web.json_response(ticket)


def texts(locale: str) -> dict[str, str]:
    """What supervision.js says, from the one catalog."""
    keys = ("sup.", "state.", "urgency.")
    return {k: t(k, locale) for k in CATALOG if k.startswith(keys)}


def install(app: web.Application) -> None:
    """Routes, and the texts the wallboard template hands to supervision.js."""
    app.add_routes(routes)
    aiohttp_jinja2.get_env(app).globals["sup_texts"] = texts
