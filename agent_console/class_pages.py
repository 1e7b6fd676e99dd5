"""Department classes and their weights (admins), and the deductions, bonus points and veto
items supervisors record against departments; pages with forms, and the same as JSON."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_console.admin_pages import SECTIONS
from agent_console.pages import _ctx as page_context
from agent_console.report_pages import _figures, _period
from agent_console.web import ApiError, json_body, locale_of, require_role, services, signed_in
from reports.figures import RATE_NAMES
from reports.scoring import ADJUSTMENT_KINDS, Adjustment, WeightsError, check_weights
from tickets.catalog import t
from tickets.model import Role
from tickets.privacy import Viewer

routes = web.RouteTableDef()
CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _bad(field: str, key: str, locale: str) -> ApiError:
    return ApiError(400, "invalid_field", locale, field=field, detail=t(key, locale))


def _class_values(data: dict[str, Any], locale: str, percent: bool) -> dict[str, Any]:
    """Checked class fields from a JSON body or a form (weights in percent on the form)."""
    code = str(data.get("code", "")).strip()
    if not CODE.match(code):
        raise _bad("code", "fig.err.code", locale)
    name_zh = str(data.get("name_zh", "")).strip()
    if not name_zh:
        raise _bad("name_zh", "fig.err.name", locale)
    raw = data.get("weights")
    if not isinstance(raw, dict):
        raw = {k: data.get(f"w_{k}", "") for k in RATE_NAMES}
    weights: dict[str, Any] = {}
    for key, value in raw.items():
        if value in ("", None):
            continue
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            raise ApiError(
                400, "invalid_field", locale, field=f"weights.{key}", detail="a number"
            ) from None
        weights[key] = number / 100 if percent and isinstance(number, int | float) else number
    try:
        checked = check_weights(weights)
    except WeightsError as e:
        raise ApiError(
            400, "invalid_field", locale, field=f"weights.{e.key}", detail=e.problem
        ) from None
    try:
        position = int(data.get("position") or 0)
    except (TypeError, ValueError):
        raise ApiError(
            400, "invalid_field", locale, field="position", detail="a whole number"
        ) from None
    return {
        "code": code,
        "name_zh": name_zh,
        "name_en": str(data.get("name_en", "")).strip(),
        "weights": checked,
        "position": position,
    }


async def _admin(request: web.Request, unsafe: bool = False) -> Viewer:
    _, viewer = await signed_in(request, unsafe=unsafe)
    require_role(viewer, Role.ADMIN, locale=locale_of(request))
    return viewer


async def _save_class(request: web.Request, viewer: Viewer, values: dict[str, Any]) -> None:
    svc = services(request)
    await _figures(request).save_class(
        values["code"],
        values["name_zh"],
        values["name_en"],
        values["weights"],
        values["position"],
        viewer.username,
        svc.tickets.clock(),
    )
    await svc.accounts.audit(viewer, "class_saved", detail=values)


async def _assign(request: web.Request, viewer: Viewer, department: str, code: str | None) -> None:
    locale = locale_of(request)
    classes, _ = await _figures(request).classes()
    if code is not None and code not in {c.code for c in classes}:
        raise _bad("class_code", "fig.err.class", locale)
    if not await _figures(request).assign(department, code):
        raise _bad("department", "fig.err.department", locale)
    await services(request).accounts.audit(
        viewer, "class_assigned", detail={"department": department, "class_code": code}
    )


async def _classes_data(request: web.Request) -> dict[str, Any]:
    classes, assigned = await _figures(request).classes()
    name = services(request).tickets.tree.name
    locale = locale_of(request)
    return {
        "classes": [
            {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "weights": dict(c.weights)}
            for c in classes
        ],
        "departments": [
            {"code": code, "name": name(code, locale), "class_code": cls}
            for code, cls in sorted(assigned.items())
        ],
    }


async def _render(
    request: web.Request, error: ApiError | None = None, form: dict[str, Any] | None = None
) -> web.Response:
    session, _ = await signed_in(request)
    data = await _classes_data(request)
    role = session.user.role
    resp = aiohttp_jinja2.render_template(
        "classes.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            admin_nav=[(path, key) for path, key, roles in SECTIONS if role in roles],
            can_edit=role is Role.ADMIN,
            hints={},
            title_key="fig.cls.title",
            c=data,
            rates=RATE_NAMES,
            error=error.params if error else None,
            form=form or {},
            saved=request.query.get("saved") == "1",
        ),
    )
    if error is not None:
        resp.set_status(400)
    return resp


@routes.get("/admin/classes")
async def classes_page(request: web.Request) -> web.Response:
    """Department classes with their weights, and which department is in which class
    (supervisors read, admins edit)."""
    _, viewer = await signed_in(request)
    require_role(viewer, Role.ADMIN, Role.SUPERVISOR, locale=locale_of(request))
    return await _render(request)


@routes.post("/admin/classes")
async def classes_submit(request: web.Request) -> web.Response:
    """Save or delete a class, or save the departments' classes (a form)."""
    viewer = await _admin(request, unsafe=True)
    form = dict(await request.post())
    locale = locale_of(request)
    op = str(form.get("op", ""))
    try:
        if op == "save":
            await _save_class(request, viewer, _class_values(form, locale, percent=True))
        elif op == "delete":
            code = str(form.get("code", ""))
            await _figures(request).remove_class(code)
            await services(request).accounts.audit(viewer, "class_deleted", detail={"code": code})
        elif op == "assign":
            _, assigned = await _figures(request).classes()
            for dept in assigned:
                chosen = str(form.get(f"dept_{dept}", "")) or None
                if chosen != assigned[dept]:
                    await _assign(request, viewer, dept, chosen)
        else:
            raise ApiError(
                400, "invalid_field", locale, field="op", detail="save, delete or assign"
            )
    except ApiError as e:
        if e.status_code != 400:
            raise
        return await _render(request, e, {k: str(v) for k, v in form.items()})
    raise web.HTTPSeeOther("/admin/classes?saved=1")


@routes.get("/api/v1/department_classes")
async def classes_api(request: web.Request) -> web.Response:
    """Classes with weights and each department's class."""
    _, viewer = await signed_in(request)
    require_role(viewer, Role.ADMIN, Role.SUPERVISOR, locale=locale_of(request))
    return web.json_response(await _classes_data(request))


@routes.put("/api/v1/department_classes/{code}")
async def class_put_api(request: web.Request) -> web.Response:
    """Create or replace a class: {name_zh, name_en, weights: {rate: share}, position}."""
    viewer = await _admin(request, unsafe=True)
    body = await json_body(request)
    values = _class_values({**body, "code": request.match_info["code"]}, locale_of(request), False)
    await _save_class(request, viewer, values)
    return web.json_response(values)


@routes.delete("/api/v1/department_classes/{code}")
async def class_delete_api(request: web.Request) -> web.Response:
    """Remove a class (its departments go back to the default weights)."""
    viewer = await _admin(request, unsafe=True)
    code = request.match_info["code"]
    await _figures(request).remove_class(code)
    await services(request).accounts.audit(viewer, "class_deleted", detail={"code": code})
    return web.json_response({"deleted": code})


@routes.put("/api/v1/departments/{code}/class")
async def assign_api(request: web.Request) -> web.Response:
    """Put a department in a class: {class_code} (null: no class)."""
    viewer = await _admin(request, unsafe=True)
    body = await json_body(request)
    code = body.get("class_code")
    if code is not None and not isinstance(code, str):
        raise _bad("class_code", "fig.err.class", locale_of(request))
    await _assign(request, viewer, request.match_info["code"], code or None)
    return web.json_response({"department": request.match_info["code"], "class_code": code})


# -- deductions, bonus points, vetoes ------------------------------------------------------


def _adjustment(data: dict[str, Any], by: str, request: web.Request) -> Adjustment:
    locale = locale_of(request)
    department = str(data.get("department", ""))
    if department not in services(request).tickets.tree.by_code:
        raise _bad("department", "fig.err.department", locale)
    kind = str(data.get("kind", ""))
    if kind not in ADJUSTMENT_KINDS:
        raise _bad("kind", "fig.err.kind", locale)
    try:
        points = float(data.get("points") or 0) if kind != "veto" else 0.0
    except (TypeError, ValueError):
        raise _bad("points", "fig.err.points", locale) from None
    if kind != "veto" and not 0 < points <= 100:
        raise _bad("points", "fig.err.points", locale)
    reason = str(data.get("reason", "")).strip()
    if not reason:
        raise _bad("reason", "fig.err.reason", locale)
    try:
        day = date.fromisoformat(str(data.get("day", "")))
    except ValueError:
        raise ApiError(400, "invalid_field", locale, field="day", detail="YYYY-MM-DD") from None
    return Adjustment(department, kind, points, reason[:2000], day, by)


async def _record(request: web.Request, viewer: Viewer, data: dict[str, Any]) -> int:
    a = _adjustment(data, viewer.username, request)
    svc = services(request)
    new_id = await _figures(request).record_adjustment(a, svc.tickets.clock())
    await svc.accounts.audit(
        viewer,
        "score_adjusted",
        reason=a.reason,
        detail={"id": new_id, "department": a.department, "kind": a.kind, "points": a.points,
                "day": a.day.isoformat()},
    )  # fmt: skip
    return new_id


async def _supervisor(request: web.Request, unsafe: bool = False) -> Viewer:
    _, viewer = await signed_in(request, unsafe=unsafe)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale_of(request))
    return viewer


async def _adjustments_data(request: web.Request) -> dict[str, Any]:
    period = _period(request)
    name = services(request).tickets.tree.name
    locale = locale_of(request)
    items = await _figures(request).adjustments(period.start, period.end)
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "items": [
            {
                "id": a.id,
                "department": a.department,
                "name": name(a.department, locale),
                "kind": a.kind,
                "points": a.points,
                "reason": a.reason,
                "day": a.day.isoformat(),
                "recorded_by": a.recorded_by,
            }
            for a in items
        ],
    }


async def _adjustments_page(
    request: web.Request, error: ApiError | None = None, form: dict[str, Any] | None = None
) -> web.Response:
    session, _ = await signed_in(request)
    tree = services(request).tickets.tree
    locale = locale_of(request)
    resp = aiohttp_jinja2.render_template(
        "classes_adjustments.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            a=await _adjustments_data(request),
            departments=sorted(
                ((d.code, tree.name(d.code, locale)) for d in tree.by_code.values()
                 if d.kind not in ("street", "hotline")),
                key=lambda x: x[0],
            ),
            kinds=ADJUSTMENT_KINDS,
            error=error.params if error else None,
            form=form or {},
            today=services(request).tickets.clock().date().isoformat(),
        ),
    )  # fmt: skip
    if error is not None:
        resp.set_status(400)
    return resp


@routes.get("/reports/adjustments")
async def adjustments_page(request: web.Request) -> web.Response:
    """The period's deductions, bonus points and vetoes, and a form to record one."""
    await _supervisor(request)
    return await _adjustments_page(request)


@routes.post("/reports/adjustments")
async def adjustments_submit(request: web.Request) -> web.Response:
    """Record one from the form."""
    viewer = await _supervisor(request, unsafe=True)
    form = {k: str(v) for k, v in (await request.post()).items()}
    try:
        await _record(request, viewer, form)
    except ApiError as e:
        if e.status_code != 400:
            raise
        return await _adjustments_page(request, e, form)
    raise web.HTTPSeeOther(f"/reports/adjustments?{request.query_string}")


@routes.get("/api/v1/reports/adjustments")
async def adjustments_api(request: web.Request) -> web.Response:
    """Deductions, bonus points and vetoes whose day is in the period."""
    await _supervisor(request)
    return web.json_response(await _adjustments_data(request))


@routes.post("/api/v1/reports/adjustments")
async def adjustment_post_api(request: web.Request) -> web.Response:
    """Record one: {department, kind: deduction|bonus|veto, points, reason, day}."""
    viewer = await _supervisor(request, unsafe=True)
    new_id = await _record(request, viewer, await json_body(request))
    return web.json_response({"id": new_id}, status=201)
