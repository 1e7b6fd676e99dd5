"""The department portal: a handler's inbox of dispatched orders, and what they do with them.

Mobile-first (handlers work from the field). Tabs 待签收 / 办理中 / 已退回 / 已反馈 hold the
orders whose lead is the user's unit or one below it; each shows a live countdown to the
sign deadline, then to the handling deadline. Sign, return (reason required), extension
request, result with attachments and unmask (reason, audited) are JSON endpoints under
/api/v1/portal that check the input first and then go through the one lifecycle.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from agent_console.mailbox_pages import TooLarge, _read
from agent_console.pages import _ctx as page_context
from agent_console.web import (
    ApiError,
    ConsoleServices,
    field_error,
    json_body,
    locale_of,
    services,
    signed_in,
)
from tickets.accounts import Session
from tickets.attachments import MIB, AttachmentRules, FileStore
from tickets.catalog import CATALOG, t
from tickets.lifecycle import Action
from tickets.model import Role
from tickets.privacy import Viewer

routes = web.RouteTableDef()

# Which orders each tab holds (by state; the lead must be the user's unit or below it).
TABS: dict[str, tuple[str, ...]] = {
    "sign": ("dispatched",),
    "handling": ("handling",),
    "returned": ("returned",),
    "done": ("result_submitted", "follow_up", "closed"),
}
TAB_LIMIT = 100  # orders shown per tab (newest first); the counts are exact up to SCAN
SCAN = 500

# A result carries photos of the site and signed PDFs, nothing else.
RESULT_RULES = AttachmentRules(
    max_bytes=10 * MIB,
    max_total_bytes=20 * MIB,
    max_count=6,
    allowed=frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".pdf"}),
)
RESULT_BODY_LIMIT = RESULT_RULES.max_total_bytes + MIB  # the text and the form's framing
RESULT_TEXT_MAX = 4000
# The first bytes each allowed type starts with: a renamed executable is not a photo.
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".webp": (b"RIFF",),
    ".pdf": (b"%PDF-",),
}
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _department(viewer: Viewer, locale: str) -> None:
    if viewer.role is not Role.DEPARTMENT:
        raise ApiError(403, "forbidden", locale)


def _ours(item: dict[str, Any], viewer: Viewer) -> bool:
    return bool(item["lead_department"]) and item["lead_department"] in viewer.scope


async def inbox(
    svc: ConsoleServices, viewer: Viewer, locale: str
) -> dict[str, list[dict[str, Any]]]:
    """The orders of each tab whose lead is the viewer's unit (or one below it)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for tab, states in TABS.items():
        items, _ = await svc.tickets.list(viewer, states=states, limit=SCAN, locale=locale)
        out[tab] = [i for i in items if _ours(i, viewer)]
    return out


@routes.get("/portal")
async def portal(request: web.Request) -> web.Response:
    """The department's inbox."""
    session, viewer = await signed_in(request)
    locale = locale_of(request)
    if viewer.role is not Role.DEPARTMENT:
        raise web.HTTPForbidden()
    svc = services(request)
    tab = request.query.get("tab", "sign")
    if tab not in TABS:
        tab = "sign"
    tabs = await inbox(svc, viewer, locale)
    shown = tabs[tab] if tab == "done" else sorted(tabs[tab], key=_pressing)
    orders = [await svc.tickets.view(i["number"], viewer, locale=locale) for i in shown[:TAB_LIMIT]]
    return aiohttp_jinja2.render_template(
        "portal.html",
        request,
        _page(
            request,
            session,
            tab=tab,
            counts={k: len(v) for k, v in tabs.items()},
            orders=orders,
            now=svc.tickets.clock().isoformat(),
            return_reasons=svc.tickets.rules.return_reasons,
            accept=",".join(sorted(RESULT_RULES.allowed)),
            max_mb=RESULT_RULES.max_bytes // MIB,
            max_count=RESULT_RULES.max_count,
            texts={k: t(k, locale) for k in CATALOG if k.startswith(("portal.", "live."))},
            sub_units=lambda code: _sub_units(svc, code, locale),
        ),
    )


def _sub_units(svc: ConsoleServices, code: str | None, locale: str) -> list[tuple[str, str]]:
    """The units below `code` an order can be passed on to (转派下级), with their names."""
    tree = svc.tickets.tree
    below = sorted(c for c in tree.descendants(code) if c != code) if code else []
    return [(c, tree.name(c, locale)) for c in below]


def _pressing(item: dict[str, Any]) -> tuple[bool, str]:
    """Most pressing first: the deadline that runs now (sign, then handling), earliest first."""
    deadline = item["sign_due_at"] if item["state"] == "dispatched" else item["due_at"]
    return (deadline is None, deadline or "")


def _page(request: web.Request, session: Session, **extra: Any) -> dict[str, Any]:
    return page_context(request, user=session.user, csrf_token=session.csrf_token, **extra)


# -- actions ----------------------------------------------------------------------------


async def _acting(request: web.Request) -> tuple[Viewer, str, str]:
    """A department user's state-changing request on an order they may see (else 403/404)."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    _department(viewer, locale)
    number = request.match_info["number"]
    await services(request).tickets.view(number, viewer, locale=locale)  # 404 if not theirs
    return viewer, number, locale


def _text(data: dict[str, Any], key: str, locale: str, *, least: int = 1, most: int = 2000) -> str:
    value = data.get(key)
    if not isinstance(value, str) or len(value.strip()) < least:
        raise field_error(key, f"required, at least {least} characters", locale)
    if len(value) > most:
        raise field_error(key, f"at most {most} characters", locale)
    return value.strip()


@routes.post("/api/v1/portal/orders/{number}/sign")
async def sign(request: web.Request) -> web.Response:
    """签收: the unit takes the order on; the handling clock is already running."""
    viewer, number, locale = await _acting(request)
    ticket = await services(request).tickets.act(number, viewer, Action.SIGN)
    return web.json_response(ticket)


@routes.post("/api/v1/portal/orders/{number}/return")
async def return_order(request: web.Request) -> web.Response:
    """退回: not ours to handle; the reason (and its kind) goes to the supervisors."""
    viewer, number, locale = await _acting(request)
    data = await json_body(request)
    reason = _text(data, "reason", locale)
    code = data.get("reason_code") or "other"
    if code not in services(request).tickets.rules.return_reasons:
        raise field_error("reason_code", "unknown return reason", locale)
    ticket = await services(request).tickets.act(
        number, viewer, Action.RETURN, reason=reason, payload={"reason_code": code}
    )
    return web.json_response(ticket)


@routes.post("/api/v1/portal/orders/{number}/extension")
async def extension(request: web.Request) -> web.Response:
    """申请延期: so many more working days, for a reason; a supervisor decides."""
    viewer, number, locale = await _acting(request)
    data = await json_body(request)
    reason = _text(data, "reason", locale)
    days = data.get("days")
    if isinstance(days, str) and days.strip().isdigit():
        days = int(days)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
        raise field_error("days", "a whole number of working days from 1 to 60", locale)
    ticket = await services(request).tickets.act(
        number, viewer, Action.REQUEST_EXTENSION, reason=reason, payload={"days": days}
    )
    return web.json_response(ticket)


@routes.post("/api/v1/portal/orders/{number}/pass_on")
async def pass_on(request: web.Request) -> web.Response:
    """转派下级: a signed order goes on to one of the unit's own sub-units."""
    viewer, number, locale = await _acting(request)
    data = await json_body(request)
    department = data.get("department")
    if not isinstance(department, str) or department not in services(request).tickets.tree:
        raise field_error("department", "choose one of your sub-units", locale)
    ticket = await services(request).tickets.act(
        number, viewer, Action.PASS_ON, payload={"department": department}
    )
    return web.json_response(ticket)


@routes.post("/api/v1/portal/orders/{number}/unmask")
async def unmask(request: web.Request) -> web.Response:
    """The citizen's contact data, for a reason written to the audit log."""
    viewer, number, locale = await _acting(request)
    data = await json_body(request)
    reason = _text(data, "reason", locale, least=4, most=500)
    citizen = await services(request).accounts.unmask(number, viewer, reason)
    return web.json_response({"citizen": citizen})


def _file_problem(name: str, data: bytes, count: int, total: int) -> tuple[int, str] | None:
    """(status, why) for a file the result may not carry, None if it may."""
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    why = RESULT_RULES.rejection(name, len(data), count, total)
    if why in ("size", "total"):
        return 413, f"{name}: over {RESULT_RULES.max_bytes // MIB} MB"
    if why == "count":
        return 400, f"at most {RESULT_RULES.max_count} files"
    if why == "type" or not data.startswith(MAGIC.get(ext, (b"\0\0\0\0\0\0",))):
        return 400, f"{name}: only photos (JPG, PNG, WebP, GIF) and PDF"
    if ext == ".webp" and data[8:12] != b"WEBP":
        return 400, f"{name}: not a WebP image"
    return None


@routes.post("/api/v1/portal/orders/{number}/result")
async def submit_result(request: web.Request) -> web.Response:
    """办理结果: the text and its photos/PDFs (multipart); nothing is stored unless all pass."""
    viewer, number, locale = await _acting(request)
    try:
        form = await _read(request, RESULT_BODY_LIMIT)
    except TooLarge:
        raise ApiError(413, "too_large", locale) from None
    result = _text(form.values, "result", locale, most=RESULT_TEXT_MAX)
    count = total = 0
    for name, _, data in form.files:
        problem = _file_problem(name, data, count, total)
        if problem is not None:
            status, why = problem
            if status == 413:
                raise ApiError(413, "too_large", locale)
            raise field_error("files", why, locale)
        count, total = count + 1, total + len(data)
    svc = services(request)
    attachments: list[dict[str, Any]] = []
    if form.files:
        if svc.files is None:
            raise field_error("files", "this center keeps no files", locale)
        store = FileStore(svc.files.root, RESULT_RULES)
        saved = await store.save_all([(n, CONTENT_TYPES[_ext(n)], d) for n, _, d in form.files])
        attachments = [
            {"name": a.name, "content_type": a.content_type, "size": a.size, "ref": a.ref}
            for a in saved
        ]
    ticket = await svc.tickets.act(
        number,
        viewer,
        Action.SUBMIT_RESULT,
        payload={"result": result, "attachments": attachments},
    )
    return web.json_response(ticket)


def _ext(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower()


# -- files of a ticket ------------------------------------------------------------------


def files_of(ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every stored file of a ticket by digest: result attachments and the contacts' files."""
    found: dict[str, dict[str, Any]] = {}
    for e in ticket.get("timeline", ()):
        for a in (e.get("payload") or {}).get("attachments") or ():
            if isinstance(a, dict) and str(a.get("ref", "")).startswith("sha256:"):
                found.setdefault(str(a["ref"])[7:], a)
    for c in ticket.get("contacts", ()):
        for a in c.get("attachments") or ():
            if isinstance(a, dict) and str(a.get("ref", "")).startswith("sha256:"):
                found.setdefault(str(a["ref"])[7:], a)
    return found


@routes.get("/tickets/{number}/files/{digest}")
async def ticket_file(request: web.Request) -> web.StreamResponse:
    """A file of the ticket, to whoever may see the ticket (404 for everyone else)."""
    locale = locale_of(request)
    _, viewer = await signed_in(request)
    svc = services(request)
    digest = request.match_info["digest"]
    ticket = await svc.tickets.view(request.match_info["number"], viewer, locale=locale)
    meta = files_of(ticket).get(digest) if _DIGEST.match(digest) else None
    path = svc.files.path_of("sha256:" + digest) if meta and svc.files else None
    if meta is None or path is None:
        raise ApiError(404, "not_found", locale)
    name = str(meta.get("name") or digest)
    kind = CONTENT_TYPES.get(_ext(name)) if "." in name else None
    disposition = "inline" if kind else "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": kind or "application/octet-stream",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "private, no-store",
        },
    )
