"""Server-rendered console pages: sign-in, ticket list, ticket detail with actions, verify."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from agent_console.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    locale_of,
    services,
    signed_in,
)
from tickets.accounts import AuthError
from tickets.catalog import t
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, RatingLevel, Role, State
from tickets.service import TicketError

routes = web.RouteTableDef()
PAGE_SIZE = 30


def _ctx(request: web.Request, **extra: Any) -> dict[str, Any]:
    locale = locale_of(request)
    svc = services(request)
    tz = ZoneInfo(svc.tickets.timezone)

    def local(value: str | None, fmt: str = "%m-%d %H:%M") -> str:
        if not value:
            return ""
        at = datetime.fromisoformat(value).astimezone(tz)
        if at.hour == at.minute == at.second == 0 and "%H" in fmt:
            # Deadlines end at 24:00 of a working day; say so instead of "00:00 the day after".
            day_before = at - timedelta(days=1)
            return day_before.strftime(fmt.replace("%H:%M", "24:00").replace(":%S", ""))
        return at.strftime(fmt)

    def overdue(value: str | None) -> bool:
        return bool(value) and datetime.fromisoformat(str(value)) < svc.tickets.clock()

    return {
        "locale": locale,
        "_": lambda key, **kw: t(key, locale, **kw),
        "local": local,
        "overdue": overdue,
        "path": request.path,
        "dept_name": svc.tickets.tree.name,
        **extra,
    }


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    """Straight to the work."""
    raise web.HTTPFound("/tickets")


@routes.get("/lang/{locale}")
async def set_lang(request: web.Request) -> web.Response:
    """Switch the console's language."""
    locale = request.match_info["locale"]
    back = request.headers.get("Referer") or "/tickets"
    resp = web.HTTPFound(back if back.startswith(("/", "http")) else "/tickets")
    if locale in ("zh", "en"):
        resp.set_cookie(LANG_COOKIE, locale, path="/", samesite="Lax", max_age=365 * 86400)
    raise resp


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    """The sign-in form (login CSRF by double-submit cookie)."""
    token = secrets.token_urlsafe(16)
    resp = aiohttp_jinja2.render_template(
        "login.html",
        request,
        _ctx(request, csrf_token=token, next=request.query.get("next", "/tickets"), error=None),
    )
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    return resp


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    """Check the form and open a session."""
    form = await request.post()
    sent, expected = str(form.get("csrf_token", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    nxt = str(form.get("next") or "/tickets")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/tickets"
    error = None
    if not expected or not secrets.compare_digest(sent, expected):
        error = "error.csrf"
    else:
        try:
            session = await services(request).accounts.login(
                str(form.get("username", "")), str(form.get("password", ""))
            )
        except AuthError:
            error = "error.bad_credentials"
    if error:
        token = secrets.token_urlsafe(16)
        resp = aiohttp_jinja2.render_template(
            "login.html",
            request,
            _ctx(request, csrf_token=token, next=nxt, error=error),
            status=401,
        )
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login")
        return resp
    redirect = web.HTTPFound(nxt)
    redirect.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        secure=services(request).secure_cookies,
        path="/",
    )
    redirect.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise redirect


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    """End the session."""
    session, _ = await signed_in(request, unsafe=True)
    await services(request).accounts.logout(session.token)
    resp = web.HTTPFound("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


def _filters(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {
        "state": q.get("state", ""),
        "channel": q.get("channel", ""),
        "category": q.get("category", ""),
        "district": q.get("district", ""),
        "q": q.get("q", ""),
        "overdue": q.get("overdue", ""),
    }


@routes.get("/tickets")
async def ticket_list(request: web.Request) -> web.Response:
    """The work list with filters."""
    session, viewer = await signed_in(request)
    locale = locale_of(request)
    svc = services(request)
    f = _filters(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    items, total = await svc.tickets.list(
        viewer,
        states=[f["state"]] if f["state"] in {s.value for s in State} else [],
        channel=f["channel"] or None,
        category=f["category"] or None,
        district=f["district"] or None,
        search=f["q"] or None,
        overdue=f["overdue"] == "1",
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        locale=locale,
    )
    query = {k: v for k, v in f.items() if v}
    notice = (
        await svc.tickets.calendar_notice()
        if viewer.role in (Role.ADMIN, Role.SUPERVISOR)
        else None
    )
    return aiohttp_jinja2.render_template(
        "tickets.html",
        request,
        _ctx(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            flash=request.query.get("flash", "")[:200],
            items=items,
            total=total,
            page=page,
            pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            filters=f,
            page_query=lambda p: "?" + urlencode({**query, "page": p}),
            states=[s.value for s in State],
            channels=[c.value for c in Channel],
            categories=_top_categories(request),
            districts=[d for d in svc.tickets.tree.of_kind("district")],
            can_create=viewer.role in (Role.AGENT, Role.SUPERVISOR),
            notice=notice,
        ),
    )


def _top_categories(request: web.Request) -> list[dict[str, Any]]:
    return [r for r in services(request).tickets.category_rows.values() if r["parent_code"] is None]


def _leaf_categories(request: web.Request) -> list[dict[str, Any]]:
    rows = services(request).tickets.category_rows
    return [r for r in rows.values() if r["parent_code"] is not None]


@routes.get("/tickets/new")
async def new_ticket(request: web.Request) -> web.Response:
    """The intake form an agent fills while on the phone."""
    session, viewer = await signed_in(request)
    if viewer.role not in (Role.AGENT, Role.SUPERVISOR):
        raise web.HTTPForbidden()
    svc = services(request)
    return aiohttp_jinja2.render_template(
        "new.html",
        request,
        _ctx(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            categories=_leaf_categories(request),
            category_name=svc.tickets.category_name,
            districts=svc.tickets.tree.of_kind("district"),
            channels=[
                Channel.PHONE.value,
                Channel.WEB.value,
                Channel.SMS.value,
                Channel.OTHER.value,
            ],
            phone=request.query.get("phone", ""),
        ),
    )


@routes.post("/tickets/new")
async def create_ticket(request: web.Request) -> web.Response:
    """Accept the agent's form as a contact and open (or join) its ticket."""
    session, viewer = await signed_in(request, unsafe=True)
    if viewer.role not in (Role.AGENT, Role.SUPERVISOR):
        raise web.HTTPForbidden()
    form = await request.post()
    locale = locale_of(request)
    text = str(form.get("text", "")).strip()
    if not text:
        raise TicketErrorField("text", "required")
    try:
        channel = Channel(str(form.get("channel") or "phone"))
    except ValueError:
        raise TicketErrorField("channel", "unknown channel") from None
    contact = InboundContact(
        channel=channel,
        external_id=f"console-{uuid.uuid4()}",
        citizen=CitizenIdentity(
            name=str(form.get("name") or "").strip() or None,
            phone=str(form.get("phone") or "").strip() or None,
        ),
        text=text,
        received_at=datetime.now(UTC),
        category=str(form.get("category") or "") or None,
        district=str(form.get("district") or "") or None,
        subject=str(form.get("subject") or "").strip() or None,
        consent_publish=form.get("consent_publish") == "on",
        confidential=form.get("confidential") == "on",
        extra={"agent": viewer.username},
    )
    result = await services(request).tickets.accept(contact)
    if form.get("urgent") == "on" and result.created_ticket:
        await services(request).tickets.update_fields(
            result.ticket_number, viewer, {"urgency": "urgent"}
        )
    key = "flash.joined" if result.joined_existing else "flash.created"
    flash = t(key, locale, number=result.ticket_number)
    raise web.HTTPFound(f"/tickets/{result.ticket_number}?" + urlencode({"flash": flash}))


class TicketErrorField(TicketError):
    """A form field the page cannot use."""

    code = "invalid_field"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field)


@routes.get("/tickets/{number}")
async def ticket_detail(request: web.Request) -> web.Response:
    """One ticket: who, what, where it has been, and what the viewer can do now."""
    session, viewer = await signed_in(request)
    locale = locale_of(request)
    svc = services(request)
    ticket = await svc.tickets.view(request.match_info["number"], viewer, locale=locale)
    tree = svc.tickets.tree
    dispatch_targets = [d for d in tree.by_code.values() if d.kind in ("city", "district")]
    sub_units = (
        [
            tree.by_code[c]
            for c in sorted(tree.descendants(ticket["lead_department"]))
            if c != ticket["lead_department"]
        ]
        if ticket["lead_department"]
        else []
    )
    return aiohttp_jinja2.render_template(
        "ticket.html",
        request,
        _ctx(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            t=ticket,
            flash=request.query.get("flash"),
            dispatch_targets=dispatch_targets,
            sub_units=sub_units,
            ratings=[r.value for r in RatingLevel],
            return_reasons=svc.tickets.rules.return_reasons,
            categories=_leaf_categories(request),
            category_name=svc.tickets.category_name,
            districts=tree.of_kind("district"),
            can_edit=viewer.role in (Role.AGENT, Role.SUPERVISOR)
            and ticket["state"] in ("received", "pending_review", "returned", "with_police"),
            is_department=viewer.role in (Role.DEPARTMENT, Role.POLICE),
        ),
    )


@routes.post("/tickets/{number}/act")
async def ticket_act(request: web.Request) -> web.Response:
    """A form post of one action; errors show in place, success goes back to the ticket."""
    _, viewer = await signed_in(request, unsafe=True)
    locale = locale_of(request)
    number = request.match_info["number"]
    form = await request.post()
    svc = services(request)
    name = str(form.get("action", ""))
    if name == "edit":
        fields: dict[str, Any] = {
            k: str(form.get(k) or "") or None for k in ("category", "district") if k in form
        }
        for k in ("urgency", "subject", "description"):
            if k in form:
                fields[k] = str(form.get(k))
        await svc.tickets.update_fields(number, viewer, fields)
        flash = t("flash.done", locale, action=t("action.edit", locale))
    elif name == "unmask":
        citizen = await svc.accounts.unmask(number, viewer, str(form.get("reason", "")))
        flash = " · ".join(str(v) for v in citizen.values() if v)
    else:
        try:
            action = Action(name)
        except ValueError:
            raise TicketErrorField("action", "unknown action") from None
        payload: dict[str, Any] = {}
        for key in ("department", "result", "rating", "into", "reason_code"):
            if form.get(key):
                payload[key] = str(form.get(key))
        co = [str(v) for v in form.getall("co_departments", []) if v]
        if co:
            payload["co_departments"] = co
        if form.get("days"):
            try:
                payload["days"] = int(str(form.get("days")))
            except ValueError:
                raise TicketErrorField("days", "whole number") from None
        done = await svc.tickets.act(
            number, viewer, action, reason=str(form.get("reason", "")), payload=payload
        )
        flash = t("flash.done", locale, action=t(f"action.{action.value}", locale))
        if done.get("handed_on"):
            raise web.HTTPFound("/tickets?" + urlencode({"flash": flash}))
    raise web.HTTPFound(f"/tickets/{number}?" + urlencode({"flash": flash}))


@routes.get("/verify")
async def verify_page(request: web.Request) -> web.Response:
    """Public: is this printed dispatch sheet genuine?"""
    number, code = request.query.get("number", ""), request.query.get("code", "")
    result = None
    if number and code:
        result = await services(request).tickets.verify_code(number, code, locale_of(request))
    return aiohttp_jinja2.render_template(
        "verify.html",
        request,
        _ctx(request, number=number, code=code, checked=bool(number and code), result=result),
    )
