"""The admin console: staff and roles, departments, categories, dispatch rules, transfer
lines, the working calendar and service-level settings (pages and their JSON API).

Admins change everything here; supervisors may read the set-up pages (and edit dispatch
rules, as the rules API already lets them); everyone else gets 403.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_console.pages import _ctx as page_context
from agent_console.push import CLOSE_SESSION_ENDED, hub_of
from agent_console.web import (
    SERVICES,
    ApiError,
    ConsoleServices,
    field_error,
    json_body,
    locale_of,
    require_role,
    services,
    signed_in,
)
from router.dispatch_rules import suggest
from tickets.accounts import STAFF_ROLES, Session
from tickets.admin_service import (
    DEPARTMENT_KINDS,
    LINE_KINDS,
    AdminService,
    SlaSettings,
    TransferLine,
)
from tickets.catalog import CATALOG, t
from tickets.model import Role
from tickets.privacy import Viewer

routes = web.RouteTableDef()

READERS = (Role.ADMIN, Role.SUPERVISOR)
HINT = "admin.hint."
# The admin navigation: (path, catalog key, who may open it).
SECTIONS: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("/admin/users", "admin.nav.users", (Role.ADMIN,)),
    ("/admin/departments", "admin.nav.departments", READERS),
    ("/admin/classes", "admin.nav.classes", READERS),
    ("/admin/categories", "admin.nav.categories", READERS),
    ("/admin/rules", "admin.nav.rules", READERS),
    ("/admin/lines", "admin.nav.lines", READERS),
    ("/admin/calendar", "admin.nav.calendar", READERS),
    ("/admin/sla", "admin.nav.sla", READERS),
)


@dataclass
class AdminRuntime:
    """The admin service and the configuration's values the stored settings start from."""

    service: AdminService
    defaults: SlaSettings


ADMIN = web.AppKey("admin", AdminRuntime)


def install(app: web.Application, svc: ConsoleServices) -> None:
    """Routes and the admin service of one console app."""
    app[ADMIN] = AdminRuntime(
        AdminService(svc.tickets, svc.accounts, svc.tickets.clock), SlaSettings()
    )
    app.add_routes(routes)


def _apply_sla(svc: ConsoleServices, sla: SlaSettings) -> None:
    """The parts that read service-level settings while running take the new values: the
    desk marks each call within the service level or not, and the reports count the same
    threshold (the wallboard's and the month's service level are one figure)."""
    if svc.desk is not None:
        svc.desk.service_level_seconds = sla.service_level_seconds
    if svc.figures is not None:
        svc.figures.service_level_seconds = sla.service_level_seconds
    if svc.presence is not None:
        svc.presence.after_call_seconds = sla.after_call_seconds
        svc.presence.max_chats = sla.max_concurrent_chats


async def start(
    app: web.Application, configured_lines: Mapping[str, str], defaults: SlaSettings
) -> None:
    """At start-up: store the configured transfer lines once, then run on the stored table
    and the stored service-level settings."""
    runtime, svc = app[ADMIN], app[SERVICES]
    runtime.defaults = defaults
    await runtime.service.seed_transfer_lines(configured_lines)
    if svc.desk is not None:
        svc.desk.use_lines(await runtime.service.transfer_lines())
    _apply_sla(svc, await runtime.service.sla(defaults))


def _admin(request: web.Request) -> AdminService:
    return request.app[ADMIN].service


async def _reader(request: web.Request) -> tuple[Session, Viewer]:
    session, viewer = await signed_in(request)
    require_role(viewer, *READERS, locale=locale_of(request))
    return session, viewer


async def _writer(request: web.Request) -> tuple[Viewer, dict[str, Any]]:
    _, viewer = await signed_in(request, unsafe=True)
    require_role(viewer, Role.ADMIN, locale=locale_of(request))
    return viewer, await json_body(request)


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        out[k] = v.isoformat() if isinstance(v, date) else v
    return out


# -- users ------------------------------------------------------------------------------


@routes.get("/api/v1/admin/users")
async def users_api(request: web.Request) -> web.Response:
    """Staff accounts, searchable by name, extension or department."""
    _, viewer = await signed_in(request)
    require_role(viewer, Role.ADMIN, locale=locale_of(request))
    rows = await _admin(request).users(request.query.get("q", ""), request.query.get("role"))
    return web.json_response([_jsonable(r) for r in rows])


@routes.post("/api/v1/admin/users")
async def add_user(request: web.Request) -> web.Response:
    """A new account; its password is in this answer only."""
    viewer, data = await _writer(request)
    user, password = await _admin(request).add_user(viewer, data)
    return web.json_response({"user": _jsonable(user), "password": password}, status=201)


async def _close_sockets(request: web.Request, username: str) -> None:
    """The person's open live pages end too, not only their next request."""
    for client in list(hub_of(request.app).by_user.get(username, ())):
        await client.ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")


@routes.patch("/api/v1/admin/users/{username}")
async def change_user(request: web.Request) -> web.Response:
    """Role, department, display name, extension, Telegram id."""
    viewer, data = await _writer(request)
    username = request.match_info["username"]
    before = await _admin(request).users(username)
    user = await _admin(request).update_user(viewer, username, data)
    old = next((u for u in before if u["username"] == username), None)
    if old and (old["role"], old["department"]) != (user["role"], user["department"]):
        await _close_sockets(request, username)
    return web.json_response({"user": _jsonable(user)})


@routes.post("/api/v1/admin/users/{username}/{action:disable|enable}")
async def user_active(request: web.Request) -> web.Response:
    """Disable (signed out at once) or enable an account."""
    viewer, _ = await _writer(request)
    active = request.match_info["action"] == "enable"
    user = await _admin(request).set_active(viewer, request.match_info["username"], active)
    if not active:
        await _close_sockets(request, user["username"])
    return web.json_response({"user": _jsonable(user)})


@routes.post("/api/v1/admin/users/{username}/password")
async def reset_password(request: web.Request) -> web.Response:
    """A new password, shown once."""
    viewer, _ = await _writer(request)
    password = await _admin(request).reset_password(viewer, request.match_info["username"])
    await _close_sockets(request, request.match_info["username"])
    return web.json_response({"password": password})


# -- departments ------------------------------------------------------------------------


@routes.get("/api/v1/admin/departments")
async def departments_api(request: web.Request) -> web.Response:
    """The department tree with stored fields, inactive units included."""
    await _reader(request)
    return web.json_response([_jsonable(r) for r in await _admin(request).departments()])


@routes.post("/api/v1/admin/departments")
async def add_department(request: web.Request) -> web.Response:
    """A new unit."""
    viewer, data = await _writer(request)
    code = await _admin(request).add_department(viewer, data)
    return web.json_response({"code": code}, status=201)


@routes.patch("/api/v1/admin/departments/{code}")
async def change_department(request: web.Request) -> web.Response:
    """Rename, move, deactivate or reactivate a unit."""
    viewer, data = await _writer(request)
    code = request.match_info["code"]
    await _admin(request).update_department(viewer, code, data)
    return web.json_response({"code": code})


@routes.delete("/api/v1/admin/departments/{code}")
async def delete_department(request: web.Request) -> web.Response:
    """Delete a unit nothing refers to (409 otherwise: deactivate it instead)."""
    viewer, _ = await _writer(request)
    await _admin(request).delete_department(viewer, request.match_info["code"])
    return web.json_response({"deleted": request.match_info["code"]})


# -- categories -------------------------------------------------------------------------


def _category_out(admin: AdminService, row: Mapping[str, Any]) -> dict[str, Any]:
    unit, amount = admin.category_limit(row)
    return {**_jsonable(row), "effective_limit": {"unit": unit, "amount": amount}}


@routes.get("/api/v1/admin/categories")
async def categories_api(request: web.Request) -> web.Response:
    """Every category with its limit, urgency and review flag."""
    await _reader(request)
    admin = _admin(request)
    rows = services(request).tickets.category_rows.values()
    return web.json_response([_category_out(admin, r) for r in rows])


@routes.post("/api/v1/admin/categories")
async def add_category(request: web.Request) -> web.Response:
    """A new category."""
    viewer, data = await _writer(request)
    code = await _admin(request).add_category(viewer, data)
    return web.json_response({"code": code}, status=201)


@routes.patch("/api/v1/admin/categories/{code}")
async def change_category(request: web.Request) -> web.Response:
    """Limit, urgency, review before dispatch, names."""
    viewer, data = await _writer(request)
    code = request.match_info["code"]
    admin = _admin(request)
    await admin.update_category(viewer, code, data)
    return web.json_response(_category_out(admin, services(request).tickets.category_rows[code]))


# -- dispatch rules: the test box -------------------------------------------------------


@routes.post("/api/v1/admin/dispatch_rules/test")
async def test_rules(request: web.Request) -> web.Response:
    """Which saved rule a ticket with this category, district and text would follow."""
    locale = locale_of(request)
    _, viewer = await signed_in(request, unsafe=True)
    require_role(viewer, *READERS, locale=locale)
    data = await json_body(request)
    tickets = services(request).tickets
    category = data.get("category") or None
    if category is not None and category not in tickets.category_rows:
        raise field_error("category", "a known category", locale)
    district = data.get("district") or None
    if district is not None and district not in tickets.tree:
        raise field_error("district", "a known district", locale)
    text = data.get("text")
    if not isinstance(text, str) or len(text) > 20000:
        raise field_error("text", "the ticket's text", locale)
    desk = services(request).dispatching
    if desk is None:
        raise ApiError(503, "not_found", locale)
    rules = await desk.rules()
    found = suggest(
        rules,
        category=category,
        district=district,
        text=text,
        parents={c: r["parent_code"] for c, r in tickets.category_rows.items()},
    )
    if found is None:
        return web.json_response({"suggestion": None})
    name = tickets.tree.name
    return web.json_response(
        {
            "suggestion": {
                **dataclasses.asdict(found),
                "lead_name": name(found.lead_department, locale),
                "co_names": [name(c, locale) for c in found.co_departments],
            }
        }
    )


# -- transfer lines ---------------------------------------------------------------------


async def _reload_lines(request: web.Request) -> list[TransferLine]:
    lines = await _admin(request).transfer_lines()
    desk = services(request).desk
    if desk is not None:
        desk.use_lines(lines)
    return lines


@routes.get("/api/v1/admin/lines")
async def lines_api(request: web.Request) -> web.Response:
    """The stored transfer lines (the ones agents use)."""
    await _reader(request)
    return web.json_response([vars(x) for x in await _admin(request).transfer_lines()])


@routes.put("/api/v1/admin/lines/{code}")
async def save_line(request: web.Request) -> web.Response:
    """Add or change a line; the workspace and Asterisk use it at once."""
    viewer, data = await _writer(request)
    line = await _admin(request).save_transfer_line(
        viewer, {**data, "code": request.match_info["code"]}
    )
    await _reload_lines(request)
    return web.json_response(vars(line))


@routes.delete("/api/v1/admin/lines/{code}")
async def delete_line(request: web.Request) -> web.Response:
    """Remove a line."""
    viewer, _ = await _writer(request)
    await _admin(request).delete_transfer_line(viewer, request.match_info["code"])
    await _reload_lines(request)
    return web.json_response({"deleted": request.match_info["code"]})


# -- working calendar -------------------------------------------------------------------


def _month_of(request: web.Request) -> tuple[int, int]:
    raw = request.query.get("month") or request.match_info.get("month")
    if not raw:
        today = services(request).tickets.calendar.local_date(services(request).tickets.clock())
        return today.year, today.month
    try:
        year, month = (int(x) for x in raw.split("-"))
        date(year, month, 1)
    except ValueError:
        raise field_error("month", "YYYY-MM", locale_of(request)) from None
    if not 2000 <= year <= 2100:
        raise field_error("month", "a year from 2000 to 2100", locale_of(request))
    return year, month


def _day_of(request: web.Request) -> date:
    try:
        return date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise field_error("day", "YYYY-MM-DD", locale_of(request)) from None


@routes.get("/api/v1/admin/calendar/{month}")
async def calendar_api(request: web.Request) -> web.Response:
    """A month as the deadline clock sees it: working days, holidays, 调休, overrides."""
    await _reader(request)
    year, month = _month_of(request)
    days = _admin(request).month(year, month)
    return web.json_response([_jsonable(dataclasses.asdict(d)) for d in days])


@routes.put("/api/v1/admin/calendar/days/{day}")
async def set_override(request: web.Request) -> web.Response:
    """Add or change an override with its reason; deadlines over that day are recomputed."""
    viewer, data = await _writer(request)
    day = _day_of(request)
    if not isinstance(data.get("is_workday"), bool):
        raise field_error("is_workday", "must be true or false", locale_of(request))
    reason = data.get("reason")
    if not isinstance(reason, str) or len(reason) > 100:
        raise field_error("reason", "text of at most 100 characters", locale_of(request))
    changed = await _admin(request).set_override(viewer, day, data["is_workday"], reason)
    return web.json_response({"day": day.isoformat(), "recomputed": changed})


@routes.delete("/api/v1/admin/calendar/days/{day}")
async def remove_override(request: web.Request) -> web.Response:
    """Take an override out; deadlines over that day are recomputed."""
    viewer, _ = await _writer(request)
    day = _day_of(request)
    changed = await _admin(request).remove_override(viewer, day)
    return web.json_response({"day": day.isoformat(), "recomputed": changed})


# -- service-level settings -------------------------------------------------------------


@routes.get("/api/v1/admin/sla")
async def sla_api(request: web.Request) -> web.Response:
    """The service-level settings in force."""
    await _reader(request)
    runtime = request.app[ADMIN]
    return web.json_response((await runtime.service.sla(runtime.defaults)).model_dump())


@routes.put("/api/v1/admin/sla")
async def save_sla(request: web.Request) -> web.Response:
    """Change some settings; the wallboard's service level, after-call work and the chat
    limit follow at once."""
    viewer, data = await _writer(request)
    runtime = request.app[ADMIN]
    sla = await runtime.service.save_sla(viewer, data, runtime.defaults)
    _apply_sla(services(request), sla)
    return web.json_response(sla.model_dump())


# -- pages ------------------------------------------------------------------------------


def _hints(locale: str) -> dict[str, str]:
    """What each field needs, in the console's language, for the forms' error line."""
    return {k.removeprefix(HINT): t(k, locale) for k in CATALOG if k.startswith(HINT)}


def _page(request: web.Request, session: Session, template: str, **extra: Any) -> web.Response:
    role = session.user.role
    nav = [(path, key) for path, key, roles in SECTIONS if role in roles]
    return aiohttp_jinja2.render_template(
        template,
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            admin_nav=nav,
            can_edit=role is Role.ADMIN,
            hints=_hints(locale_of(request)),
            **extra,
        ),
    )


@routes.get("/admin")
async def admin_home(request: web.Request) -> web.Response:
    """Straight to the first section the role may open."""
    session, _ = await _reader(request)
    raise web.HTTPFound("/admin/users" if session.user.role is Role.ADMIN else "/admin/departments")


@routes.get("/admin/users")
async def users_page(request: web.Request) -> web.Response:
    """Staff accounts: search, add, change role and department, disable, reset password."""
    session, viewer = await signed_in(request)
    require_role(viewer, Role.ADMIN, locale=locale_of(request))
    q = request.query.get("q", "")
    role = request.query.get("role") or None
    tickets = services(request).tickets
    return _page(
        request,
        session,
        "admin_users.html",
        users=await _admin(request).users(q, role),
        changes=await _admin(request).recent_changes(),
        q=q,
        role_filter=role or "",
        roles=[r.value for r in STAFF_ROLES],
        units=[d for d in tickets.tree.by_code.values()],
    )


@routes.get("/admin/departments")
async def departments_page(request: web.Request) -> web.Response:
    """The department tree: add, rename, move, deactivate."""
    session, _ = await _reader(request)
    return _page(
        request,
        session,
        "admin_departments.html",
        departments=await _admin(request).departments(),
        kinds=DEPARTMENT_KINDS,
    )


@routes.get("/admin/categories")
async def categories_page(request: web.Request) -> web.Response:
    """The category tree with limits, urgency and review before dispatch."""
    session, _ = await _reader(request)
    admin = _admin(request)
    rows = list(services(request).tickets.category_rows.values())
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in rows:
        children.setdefault(r["parent_code"], []).append(r)
    tree: list[dict[str, Any]] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            tree.append({**_category_out(admin, r), "depth": depth})
            walk(r["code"], depth + 1)

    walk(None, 0)
    return _page(request, session, "admin_categories.html", categories=tree)


@routes.get("/admin/rules")
async def rules_page(request: web.Request) -> web.Response:
    """The dispatch rule editor and its test box."""
    session, _ = await _reader(request)
    svc = services(request)
    desk = svc.dispatching
    rules = await desk.rules(include_inactive=True) if desk else []
    tree = svc.tickets.tree
    return _page(
        request,
        session,
        "admin_rules.html",
        rules=rules,
        categories=list(svc.tickets.category_rows.values()),
        category_name=svc.tickets.category_name,
        districts=tree.of_kind("district"),
        units=[d for d in tree.by_code.values() if d.kind not in ("hotline",)],
        can_edit_rules=session.user.role in READERS,
    )


@routes.get("/admin/lines")
async def lines_page(request: web.Request) -> web.Response:
    """Transfer lines (110, 119, 120, 122, 12315, …)."""
    session, _ = await _reader(request)
    return _page(
        request,
        session,
        "admin_lines.html",
        lines=await _admin(request).transfer_lines(),
        kinds=LINE_KINDS,
    )


@routes.get("/admin/calendar")
async def calendar_page(request: web.Request) -> web.Response:
    """A month of the working calendar with its holidays, 调休 days and overrides."""
    session, _ = await _reader(request)
    year, month = _month_of(request)
    days = _admin(request).month(year, month)
    lead = days[0].day.weekday()  # Monday first, as Chinese calendars are printed
    prev_m = (year - 1, 12) if month == 1 else (year, month - 1)
    next_m = (year + 1, 1) if month == 12 else (year, month + 1)
    tickets = services(request).tickets
    return _page(
        request,
        session,
        "admin_calendar.html",
        year=year,
        month=month,
        days=days,
        lead=lead,
        prev=f"{prev_m[0]}-{prev_m[1]:02d}",
        next=f"{next_m[0]}-{next_m[1]:02d}",
        overrides=[d for d in days if d.override is not None],
        today=tickets.calendar.local_date(tickets.clock()),
        notice=await tickets.calendar_notice(),
    )


@routes.get("/admin/sla")
async def sla_page(request: web.Request) -> web.Response:
    """Service-level settings."""
    session, _ = await _reader(request)
    runtime = request.app[ADMIN]
    sla = await runtime.service.sla(runtime.defaults)
    figures = services(request).figures
    limits = dict(figures.rules.response_seconds) if figures else {}
    return _page(request, session, "admin_sla.html", sla=sla.model_dump(), reply_limits=limits)


# -- the admin API in the OpenAPI description -------------------------------------------


def _op(summary: str, ok: str, errors: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    texts = {
        "400": "bad field value (the error names the field)",
        "401": "not signed in",
        "403": "not an admin (supervisors may read), or CSRF token missing",
        "409": "the last admin, or a unit still referred to",
    }
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["admin"],
        "responses": {
            "200": {"description": ok},
            **{c: {"description": texts[c]} for c in errors.split()},
        },
    }
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "properties": body}}},
        }
    return op


_S, _B, _N, _I = {"type": "string"}, {"type": "boolean"}, {"type": "number"}, {"type": "integer"}
_USER = {"username": _S, "display_name": _S, "role": _S, "department": _S, "extension": _S,
         "telegram_id": _S}  # fmt: skip
_DEPT = {"code": _S, "name_zh": _S, "name_en": _S, "parent_code": _S, "kind": _S, "phone": _S,
         "active": _B}  # fmt: skip
_CAT = {"code": _S, "parent_code": _S, "name_zh": _S, "name_en": _S, "complexity": _S,
        "limit_days": _I, "limit_hours": _N, "urgent": _B, "review_required": _B}  # fmt: skip
_LINE = {"name_zh": _S, "name_en": _S, "target": _S, "kind": {"enum": list(LINE_KINDS)},
         "enabled": _B, "sort": _I}  # fmt: skip
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/admin/users": {
        "get": _op("Staff accounts (?q= search, ?role=)", "accounts", "401 403"),
        "post": _op("Add an account; the password is in this answer only", "user and password",
                    "400 401 403", _USER),
    },
    "/api/v1/admin/users/{username}": {
        "patch": _op("Change role, department, name, extension, Telegram id", "the user",
                     "400 401 403 409", _USER),
    },
    "/api/v1/admin/users/{username}/disable": {
        "post": _op("Disable; every session ends at once", "the user", "400 401 403 409")
    },
    "/api/v1/admin/users/{username}/enable": {
        "post": _op("Enable again", "the user", "400 401 403")
    },
    "/api/v1/admin/users/{username}/password": {
        "post": _op("Reset the password (shown once)", "the new password", "400 401 403")
    },
    "/api/v1/admin/departments": {
        "get": _op("The department tree, inactive units included", "units", "401 403"),
        "post": _op("Add a unit", "its code", "400 401 403", _DEPT),
    },
    "/api/v1/admin/departments/{code}": {
        "patch": _op("Rename, move, (de)activate", "its code", "400 401 403", _DEPT),
        "delete": _op("Delete a unit nothing refers to", "deleted", "400 401 403 409"),
    },
    "/api/v1/admin/categories": {
        "get": _op("Categories with limits, urgency and review flag", "categories", "401 403"),
        "post": _op("Add a category", "its code", "400 401 403", _CAT),
    },
    "/api/v1/admin/categories/{code}": {
        "patch": _op("Limit, urgency, review before dispatch, names", "the category",
                     "400 401 403", _CAT),
    },
    "/api/v1/admin/dispatch_rules/test": {
        "post": _op("Which saved rule a ticket would follow", "the suggestion or null",
                    "400 401 403", {"category": _S, "district": _S, "text": _S}),
    },
    "/api/v1/admin/lines": {"get": _op("Transfer lines", "lines", "401 403")},
    "/api/v1/admin/lines/{code}": {
        "put": _op("Add or change a line (used at once)", "the line", "400 401 403", _LINE),
        "delete": _op("Remove a line", "deleted", "400 401 403"),
    },
    "/api/v1/admin/calendar/{month}": {
        "get": _op("A month (YYYY-MM) as the deadline clock sees it", "days", "400 401 403")
    },
    "/api/v1/admin/calendar/days/{day}": {
        "put": _op("Add an override with its reason; deadlines recomputed",
                   "recomputed ticket numbers", "400 401 403",
                   {"is_workday": _B, "reason": _S}),
        "delete": _op("Remove an override; deadlines recomputed", "recomputed ticket numbers",
                      "400 401 403"),
    },
    "/api/v1/admin/sla": {
        "get": _op("Service-level settings in force", "settings", "401 403"),
        "put": _op("Change some settings", "settings", "400 401 403",
                   {k: _N for k in SlaSettings.model_fields}),
    },
}  # fmt: skip
