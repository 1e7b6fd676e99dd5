"""The JSON HTTP API for the whole lifecycle (documented at /api/openapi.json)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from agent_console.openapi import spec
from agent_console.web import (
    SESSION_COOKIE,
    ApiError,
    field_error,
    json_body,
    locale_of,
    require_role,
    services,
    signed_in,
)
from tickets.accounts import AuthError
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role

routes = web.RouteTableDef()

MAX_TEXT = 20_000


def _str(
    data: dict[str, Any], key: str, locale: str, *, required: bool = False, limit: int = 200
) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise field_error(key, "required", locale)
        return None
    if not isinstance(value, str):
        raise field_error(key, "must be a string", locale)
    if len(value) > limit:
        raise field_error(key, f"longer than {limit} characters", locale)
    return value


def _bool(data: dict[str, Any], key: str, locale: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise field_error(key, "must be true or false", locale)
    return value


def contact_from_json(
    data: dict[str, Any], locale: str, *, default_channel: str | None = None
) -> InboundContact:
    """Validate the generic inbound body into an InboundContact, naming any bad field."""
    channel_raw = _str(data, "channel", locale, required=default_channel is None, limit=16)
    channel_raw = channel_raw or default_channel
    try:
        channel = Channel(str(channel_raw))
    except ValueError:
        raise field_error(
            "channel", f"one of {', '.join(c.value for c in Channel)}", locale
        ) from None
    external_id = _str(data, "external_id", locale, required=default_channel is None)
    citizen = data.get("citizen") or {}
    if not isinstance(citizen, dict):
        raise field_error("citizen", "must be an object", locale)
    allowed = {"name", "phone", "wechat_openid", "telegram_id", "email"}
    for k, v in citizen.items():
        if k not in allowed:
            raise field_error(f"citizen.{k}", "unknown field", locale)
        if v is not None and (not isinstance(v, str) or len(v) > 254):
            raise field_error(f"citizen.{k}", "must be a short string", locale)
    text = _str(data, "text", locale, required=True, limit=MAX_TEXT) or ""
    received_raw = _str(data, "received_at", locale, limit=40)
    received_at = datetime.now(UTC)
    if received_raw:
        try:
            received_at = datetime.fromisoformat(received_raw)
        except ValueError:
            raise field_error("received_at", "ISO 8601 with a time zone", locale) from None
        if received_at.tzinfo is None:
            raise field_error("received_at", "needs a time zone offset", locale)
    return InboundContact(
        channel=channel,
        external_id=external_id or f"console-{uuid.uuid4()}",
        citizen=CitizenIdentity(**{k: v for k, v in citizen.items() if v}),
        text=text,
        received_at=received_at,
        category=_str(data, "category", locale, limit=64),
        district=_str(data, "district", locale, limit=64),
        subject=_str(data, "subject", locale, limit=300),
        consent_publish=_bool(data, "consent_publish", locale),
        confidential=_bool(data, "confidential", locale),
    )


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers."""
    try:
        async with services(request).store.read() as tx:
            await tx.ping()
    except Exception as exc:
        return web.json_response(
            {"status": "unavailable", "detail": type(exc).__name__}, status=503
        )
    return web.json_response({"status": "ready"})


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The API description."""
    return web.json_response(spec())


@routes.post("/api/v1/session")
async def login(request: web.Request) -> web.Response:
    """Sign in; the cookie carries the session, the body the CSRF token."""
    locale = locale_of(request)
    data = await json_body(request)
    username = _str(data, "username", locale, required=True, limit=64) or ""
    password = _str(data, "password", locale, required=True, limit=200) or ""
    try:
        session = await services(request).accounts.login(username, password)
    except AuthError:
        raise ApiError(401, "bad_credentials", locale) from None
    resp = web.json_response(
        {
            "username": session.user.username,
            "role": session.user.role.value,
            "department": session.user.department,
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at.isoformat(),
        }
    )
    resp.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        secure=services(request).secure_cookies,
        path="/",
    )
    return resp


@routes.delete("/api/v1/session")
async def logout(request: web.Request) -> web.Response:
    """Sign out."""
    session, _ = await signed_in(request, unsafe=True)
    await services(request).accounts.logout(session.token)
    resp = web.json_response({"status": "signed_out"})
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    """Who is signed in."""
    session, viewer = await signed_in(request)
    return web.json_response(
        {
            "username": viewer.username,
            "display_name": session.user.display_name,
            "role": viewer.role.value,
            "department": viewer.department,
            "csrf_token": session.csrf_token,
        }
    )


@routes.post("/api/v1/contacts")
async def inbound_contact(request: web.Request) -> web.Response:
    """Generic inbound channel for other systems: 201 new, 200 already accepted."""
    locale = locale_of(request)
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        raise ApiError(401, "unauthorized", locale)
    try:
        client = await services(request).accounts.api_client(auth[7:].strip())
    except AuthError:
        raise ApiError(401, "unauthorized", locale) from None
    contact = contact_from_json(await json_body(request), locale)
    result = await services(request).tickets.accept(contact)
    body = {
        "ticket_number": result.ticket_number,
        "contact_id": result.contact_id,
        "duplicate": result.duplicate,
        "joined_existing": result.joined_existing,
        "client": client,
    }
    return web.json_response(body, status=200 if result.duplicate else 201)


@routes.get("/api/v1/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    """Tickets the caller may see, with filters."""
    _, viewer = await signed_in(request)
    q, locale = request.query, locale_of(request)
    try:
        limit = int(q.get("limit", "50"))
        offset = int(q.get("offset", "0"))
    except ValueError:
        raise field_error("limit", "whole numbers only", locale) from None
    items, total = await services(request).tickets.list(
        viewer,
        states=[s for s in q.getall("state", []) if s],
        channel=q.get("channel") or None,
        category=q.get("category") or None,
        district=q.get("district") or None,
        search=q.get("q") or None,
        overdue=q.get("overdue") in ("1", "true"),
        limit=limit,
        offset=offset,
        locale=locale,
    )
    return web.json_response({"total": total, "items": items})


@routes.post("/api/v1/tickets")
async def create_ticket(request: web.Request) -> web.Response:
    """An agent accepts a request taken on the phone or at the counter."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    require_role(viewer, Role.AGENT, Role.SUPERVISOR, locale=locale)
    contact = contact_from_json(await json_body(request), locale, default_channel="phone")
    contact.extra["agent"] = viewer.username
    result = await services(request).tickets.accept(contact)
    ticket = await services(request).tickets.view(result.ticket_number, viewer, locale=locale)
    return web.json_response(
        {
            "ticket": ticket,
            "duplicate": result.duplicate,
            "joined_existing": result.joined_existing,
        },
        status=200 if result.duplicate else 201,
    )


@routes.get("/api/v1/tickets/{number}")
async def show_ticket(request: web.Request) -> web.Response:
    """One ticket with its timeline, as the caller may see it."""
    _, viewer = await signed_in(request)
    number = request.match_info["number"]
    return web.json_response(
        await services(request).tickets.view(number, viewer, locale=locale_of(request))
    )


@routes.patch("/api/v1/tickets/{number}")
async def edit_ticket(request: web.Request) -> web.Response:
    """The ticket form: category, district, urgency, subject, description, flags."""
    _, viewer = await signed_in(request, unsafe=True)
    data = await json_body(request)
    ticket = await services(request).tickets.update_fields(
        request.match_info["number"], viewer, data
    )
    return web.json_response(ticket)


@routes.post("/api/v1/tickets/{number}/actions/{action}")
async def act(request: web.Request) -> web.Response:
    """One lifecycle action; the body carries `reason` and the action's fields."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    try:
        action = Action(request.match_info["action"])
    except ValueError:
        raise field_error("action", "unknown action", locale) from None
    data = await json_body(request)
    reason = data.pop("reason", "") or ""
    if not isinstance(reason, str) or len(reason) > 2000:
        raise field_error("reason", "must be text up to 2000 characters", locale)
    ticket = await services(request).tickets.act(
        request.match_info["number"], viewer, action, reason=reason, payload=data
    )
    return web.json_response(ticket)


@routes.post("/api/v1/tickets/{number}/split")
async def split(request: web.Request) -> web.Response:
    """Move some contacts into a new ticket."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    data = await json_body(request)
    ids = data.get("contact_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise field_error("contact_ids", "a list of contact ids", locale)
    ticket = await services(request).tickets.split(
        request.match_info["number"], viewer, ids, str(data.get("reason") or "")
    )
    return web.json_response(ticket, status=201)


@routes.post("/api/v1/tickets/{number}/link_phone")
async def link_phone(request: web.Request) -> web.Response:
    """An agent links the phone number a WeChat/Telegram citizen gave to their record."""
    _, viewer = await signed_in(request, unsafe=True)
    data = await json_body(request)
    phone = _str(data, "phone", locale_of(request), required=True, limit=32) or ""
    ticket = await services(request).tickets.link_phone(request.match_info["number"], viewer, phone)
    return web.json_response(ticket)


@routes.post("/api/v1/tickets/{number}/unmask")
async def unmask(request: web.Request) -> web.Response:
    """A department sees the citizen's contact data, with a reason that is audited."""
    _, viewer = await signed_in(request, unsafe=True)
    data = await json_body(request)
    citizen = await services(request).accounts.unmask(
        request.match_info["number"], viewer, str(data.get("reason") or "")
    )
    return web.json_response({"citizen": citizen})


@routes.get("/api/v1/departments")
async def departments(request: web.Request) -> web.Response:
    """The department tree."""
    await signed_in(request)
    tree = services(request).tickets.tree
    return web.json_response(
        [
            {
                "code": d.code,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                "parent": d.parent_code,
                "kind": d.kind,
            }
            for d in tree.by_code.values()
        ]
    )


@routes.get("/api/v1/categories")
async def categories(request: web.Request) -> web.Response:
    """The category tree."""
    await signed_in(request)
    rows = services(request).tickets.category_rows.values()
    return web.json_response(
        [
            {
                "code": r["code"],
                "parent": r["parent_code"],
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "urgent": r["urgent"],
                "complexity": r["complexity"],
            }
            for r in rows
        ]
    )


@routes.get("/api/v1/verify")
async def verify(request: web.Request) -> web.Response:
    """Public check of a dispatch sheet's anti-forgery code."""
    number, code = request.query.get("number", ""), request.query.get("code", "")
    found = await services(request).tickets.verify_code(number, code, locale_of(request))
    return web.json_response({"valid": found is not None, "dispatch": found})


@routes.get("/api/v1/calendar")
async def calendar_status(request: web.Request) -> web.Response:
    """Which coming years still lack the official holiday notice."""
    await signed_in(request)
    notice = await services(request).tickets.calendar_notice()
    return web.json_response(notice or {"years": [], "provisional_tickets": 0})


@routes.put("/api/v1/calendar/{day}")
async def calendar_override(request: web.Request) -> web.Response:
    """Enter one day of the official holiday notice (holiday or 调休 working day)."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    require_role(viewer, Role.ADMIN, Role.SUPERVISOR, locale=locale)
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise field_error("day", "YYYY-MM-DD", locale) from None
    data = await json_body(request)
    if not isinstance(data.get("is_workday"), bool):
        raise field_error("is_workday", "must be true or false", locale)
    name = _str(data, "name", locale, limit=100) or ""
    changed = await services(request).tickets.set_calendar_override(
        viewer, day, data["is_workday"], name
    )
    return web.json_response({"day": day.isoformat(), "recomputed": changed})


@routes.get("/api/v1/dispatch_rules")
async def get_dispatch_rules(request: web.Request) -> web.Response:
    """The dispatch rule table (category + district + keywords → departments)."""
    await signed_in(request)
    desk = services(request).dispatching
    rules = await desk.rules(include_inactive=True) if desk else []
    return web.json_response([dataclasses.asdict(r) for r in rules])


@routes.put("/api/v1/dispatch_rules")
async def put_dispatch_rules(request: web.Request) -> web.Response:
    """Replace the rule table (admins and supervisors)."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    require_role(viewer, Role.ADMIN, Role.SUPERVISOR, locale=locale)
    data = await json_body(request)
    rows = data.get("rules")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise field_error("rules", "a list of rules", locale)
    desk = services(request).dispatching
    if desk is None:
        raise ApiError(503, "not_found", locale)
    saved = await desk.save(viewer, rows, services(request).tickets.clock())
    return web.json_response({"saved": saved})


@routes.get("/api/v1/tickets/{number}/suggestion")
async def dispatch_suggestion(request: web.Request) -> web.Response:
    """Where the rules would send this ticket."""
    _, viewer = await signed_in(request)
    desk = services(request).dispatching
    found = await desk.suggestion(request.match_info["number"], viewer) if desk else None
    return web.json_response({"suggestion": dataclasses.asdict(found) if found else None})


@routes.get("/api/v1/audit")
async def audit(request: web.Request) -> web.Response:
    """The audit log of personal-data views (supervisors and admins)."""
    locale = locale_of(request)
    _, viewer = await signed_in(request)
    require_role(viewer, Role.ADMIN, Role.SUPERVISOR, locale=locale)
    async with services(request).store.read() as tx:
        rows = await tx.audit_entries()
    return web.json_response([{**r, "at": r["at"].isoformat()} for r in rows])
