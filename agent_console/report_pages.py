"""Figures for supervisors: the department ranking of a period, the tickets behind each of
its numbers (drill-down), and both as XLSX; JSON for the API, pages for people."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from agent_console.pages import _ctx as page_context
from agent_console.web import ApiError, field_error, locale_of, require_role, services, signed_in
from reports.service import FigureService
from reports.views import (
    DRILL_FIGURES,
    Period,
    PeriodError,
    call_drill_view,
    drill_view,
    quarter_of,
    ranking_view,
)
from reports.xlsx import drill_xlsx, ranking_xlsx
from tickets.model import Role

routes = web.RouteTableDef()
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _figures(request: web.Request) -> FigureService:
    svc = services(request).figures
    if svc is None:
        raise ApiError(503, "not_found", locale_of(request))
    return svc


def _period(request: web.Request) -> Period:
    locale = locale_of(request)
    svc = services(request)
    tz = ZoneInfo(svc.tickets.timezone)
    now = svc.tickets.clock()
    today = now.astimezone(tz).date()
    q = request.query
    if q.get("quarter"):
        m = QUARTER.match(q["quarter"])
        if not m:
            raise field_error("quarter", "YYYYQn, e.g. 2026Q4", locale)
        start, end = quarter_of(date(int(m[1]), 3 * int(m[2]) - 2, 1))
        return Period(start, end, tz, now)
    try:
        start = date.fromisoformat(q["start"]) if q.get("start") else quarter_of(today)[0]
        end = date.fromisoformat(q["end"]) if q.get("end") else quarter_of(today)[1]
    except ValueError:
        raise field_error("start", "YYYY-MM-DD", locale) from None
    return Period(start, end, tz, now)


def _recent_quarters(request: web.Request) -> list[str]:
    """This quarter and the three before it, newest first (YYYYQn)."""
    svc = services(request)
    today = svc.tickets.clock().astimezone(ZoneInfo(svc.tickets.timezone)).date()
    year, q = today.year, (today.month - 1) // 3 + 1
    out = []
    for _ in range(4):
        out.append(f"{year}Q{q}")
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return out


async def _supervisor(request: web.Request) -> None:
    _, viewer = await signed_in(request)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale_of(request))


async def _ranking(request: web.Request) -> dict[str, Any]:
    await _supervisor(request)
    locale = locale_of(request)
    try:
        minimum = int(request.query.get("min_follow_ups", "10"))
    except ValueError:
        raise field_error("min_follow_ups", "a whole number", locale) from None
    try:
        return await ranking_view(
            _figures(request),
            services(request).tickets.tree.name,
            _period(request),
            minimum,
            request.query.get("department") or None,
            locale,
        )
    except PeriodError as e:
        raise field_error(e.field, e.detail, locale) from None


async def _drill(request: web.Request) -> dict[str, Any]:
    await _supervisor(request)
    locale = locale_of(request)
    q = request.query
    try:
        return await drill_view(
            _figures(request),
            services(request).tickets.tree.name,
            _period(request),
            q.get("figure", ""),
            q.get("part", "n"),
            q.get("department") or None,
            q.get("district") or None,
            locale,
        )
    except PeriodError as e:
        raise field_error(e.field, e.detail, locale) from None


@routes.get("/api/v1/reports/ranking")
async def ranking_api(request: web.Request) -> web.Response:
    """Departments ranked by service index for a period (default: this quarter), with their
    class, adjustments, the center's, districts' and calls' figures."""
    return web.json_response(await _ranking(request))


@routes.get("/reports/ranking")
async def ranking_page(request: web.Request) -> web.Response:
    """The same ranking as a page; every number links to its drill-down."""
    data = await _ranking(request)
    session, _ = await signed_in(request)
    return aiohttp_jinja2.render_template(
        "ranking.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            r=data,
            quarters=_recent_quarters(request),
        ),
    )


@routes.get("/reports/ranking.xlsx")
async def ranking_export(request: web.Request) -> web.Response:
    """The ranking as an XLSX workbook."""
    data = await _ranking(request)
    body = ranking_xlsx(data, locale_of(request))
    return _file(body, f"ranking-{data['start']}-{data['end']}.xlsx")


@routes.get("/api/v1/reports/drill")
async def drill_api(request: web.Request) -> web.Response:
    """The tickets (and their timeline entries) behind one number of the ranking."""
    return web.json_response(await _drill(request))


@routes.get("/reports/drill")
async def drill_page(request: web.Request) -> web.Response:
    """The drill-down as a page."""
    data = await _drill(request)
    session, _ = await signed_in(request)
    return aiohttp_jinja2.render_template(
        "drill.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            d=data,
            query=request.query_string,
            figures=DRILL_FIGURES,
        ),
    )


async def _call_drill(request: web.Request) -> dict[str, Any]:
    await _supervisor(request)
    locale = locale_of(request)
    try:
        return await call_drill_view(
            _figures(request), _period(request), request.query.get("figure", "")
        )
    except PeriodError as e:
        raise field_error(e.field, e.detail, locale) from None


@routes.get("/api/v1/reports/drill/calls")
async def call_drill_api(request: web.Request) -> web.Response:
    """The calls behind one call figure."""
    return web.json_response(await _call_drill(request))


@routes.get("/reports/drill/calls")
async def call_drill_page(request: web.Request) -> web.Response:
    """The calls behind one call figure, as a page."""
    data = await _call_drill(request)
    session, _ = await signed_in(request)
    return aiohttp_jinja2.render_template(
        "drill_calls.html",
        request,
        page_context(request, user=session.user, csrf_token=session.csrf_token, d=data),
    )


@routes.get("/reports/drill.xlsx")
async def drill_export(request: web.Request) -> web.Response:
    """The drill-down list as an XLSX workbook."""
    data = await _drill(request)
    body = drill_xlsx(data, locale_of(request))
    return _file(body, f"drill-{data['figure']}-{data['part']}-{data['start']}.xlsx")


def _file(body: bytes, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
