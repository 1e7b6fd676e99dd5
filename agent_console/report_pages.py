"""Figures for supervisors: the department ranking of a period (JSON and page)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from agent_console.pages import _ctx as page_context
from agent_console.web import ApiError, field_error, locale_of, require_role, services, signed_in
from reports.figures import DepartmentFigures, rank, rate
from tickets.model import Role

routes = web.RouteTableDef()


def _quarter(today: date) -> tuple[date, date]:
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = date(today.year, first_month, 1)
    end = date(today.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return start, end


def _period(request: web.Request) -> tuple[date, date]:
    locale = locale_of(request)
    tz = ZoneInfo(services(request).tickets.timezone)
    today = services(request).tickets.clock().astimezone(tz).date()
    q = request.query
    try:
        start = date.fromisoformat(q["start"]) if q.get("start") else _quarter(today)[0]
        end = date.fromisoformat(q["end"]) if q.get("end") else _quarter(today)[1]
    except ValueError:
        raise field_error("start", "YYYY-MM-DD", locale) from None
    if end <= start or end - start > timedelta(days=400):
        raise field_error("end", "after start, at most 400 days", locale)
    return start, end


def _row(f: DepartmentFigures, name: str) -> dict[str, Any]:
    def pct(r: tuple[int, int]) -> float | None:
        v = rate(r)
        return None if v is None else round(100 * v, 1)

    return {
        "department": f.department,
        "name": name,
        "tickets": f.tickets,
        "response": pct(f.response),
        "on_time": pct(f.on_time),
        "feedback": pct(f.feedback),
        "satisfaction": pct(f.satisfaction),
        "follow_ups": f.follow_ups,
        "returns": f.returns,
        "extensions": f.extensions,
        "index": f.index,
    }


async def _ranking(request: web.Request) -> dict[str, Any]:
    _, viewer = await signed_in(request)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale_of(request))
    svc = services(request)
    if svc.figures is None:
        raise ApiError(503, "not_found", locale_of(request))
    start, end = _period(request)
    tz = ZoneInfo(svc.tickets.timezone)
    lo = datetime(start.year, start.month, start.day, tzinfo=tz)
    hi = datetime(end.year, end.month, end.day, tzinfo=tz)
    try:
        minimum = int(request.query.get("min_follow_ups", "10"))
    except ValueError:
        raise field_error("min_follow_ups", "a whole number", locale_of(request)) from None
    per = await svc.figures.sql(lo, hi, svc.tickets.clock())
    ranking = rank(per, minimum)
    locale = locale_of(request)
    name = svc.tickets.tree.name
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "min_follow_ups": minimum,
        "ranked": [_row(f, name(f.department, locale)) for f in ranking.ranked],
        "bottom": list(ranking.bottom),
        "too_few": [_row(per[d], name(d, locale)) for d in ranking.too_few],
    }


@routes.get("/api/v1/reports/ranking")
async def ranking_api(request: web.Request) -> web.Response:
    """Departments ranked by service index for a period (default: this quarter)."""
    return web.json_response(await _ranking(request))


@routes.get("/reports/ranking")
async def ranking_page(request: web.Request) -> web.Response:
    """The same ranking as a page."""
    data = await _ranking(request)
    session, _ = await signed_in(request)
    return aiohttp_jinja2.render_template(
        "ranking.html",
        request,
        page_context(request, user=session.user, csrf_token=session.csrf_token, r=data),
    )
