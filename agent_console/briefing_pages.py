"""The leaders' briefing and the hotspots: pages, JSON, and the briefing's e-mail rendering.

The pages carry their chart data as a `<script type="application/json">` block that
`static/charts.js` draws with the vendored ECharts (no inline code under the CSP). The same
`Briefing` model renders the e-mail (HTML tables and a plain-text alternative, no scripts)
and the Telegram text; `render_messages` is what the scheduler is given.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from agent_console.pages import _ctx as page_context
from agent_console.web import ApiError, field_error, locale_of, require_role, services, signed_in
from reports.briefing import PERIODS, Briefing, BriefingService, HotspotView, Period, period_of
from router.briefings import BriefingText
from tickets.catalog import t
from tickets.model import Role

routes = web.RouteTableDef()
BRIEFINGS = web.AppKey("briefings", BriefingService)
TEMPLATES = Path(__file__).parent / "templates"
MAX_PAGE_LIST = 10  # matters listed on the page and in the mail; the rest are counted


def _plain(value: Any) -> Any:
    """The model as JSON-ready data (dates as ISO strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def _service(request: web.Request) -> tuple[BriefingService, str]:
    _, viewer = await signed_in(request)
    locale = locale_of(request)
    require_role(viewer, Role.SUPERVISOR, Role.ADMIN, locale=locale)
    svc = request.app.get(BRIEFINGS)
    if svc is None:
        raise ApiError(503, "not_found", locale)
    return svc, locale


def _period(request: web.Request, svc: BriefingService, locale: str) -> Period:
    kind = request.query.get("period", "day")
    if kind not in PERIODS:
        raise field_error("period", t("brief.bad_period", locale), locale)
    raw = request.query.get("date", "")
    try:
        day = date.fromisoformat(raw) if raw else svc.today()
    except ValueError:
        raise field_error("date", t("brief.bad_date", locale), locale) from None
    if day > svc.today():
        day = svc.today()  # nothing is known about the future: show today
    return period_of(kind, day)


def _labels(locale: str) -> dict[str, str]:
    """Series names the charts show."""
    return {"count": t("hot.count", locale), "mean": t("hot.mean", locale)}


# -- briefing -------------------------------------------------------------------------------


@routes.get("/api/v1/reports/briefing")
async def briefing_api(request: web.Request) -> web.Response:
    """The briefing of a day, week or month (?date=YYYY-MM-DD&period=day|week|month)."""
    svc, locale = await _service(request)
    b = await svc.briefing(_period(request, svc, locale), locale)
    return web.json_response({**_plain(b), "charts": b.chart_data()})


@routes.get("/reports/briefing")
async def briefing_page(request: web.Request) -> web.Response:
    """The briefing as a page with its charts."""
    svc, locale = await _service(request)
    b = await svc.briefing(_period(request, svc, locale), locale)
    session, _ = await signed_in(request)
    tz = ZoneInfo(services(request).tickets.timezone)
    return aiohttp_jinja2.render_template(
        "briefing.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            b=b,
            tz=tz,
            periods=PERIODS,
            limit=MAX_PAGE_LIST,
            charts=json.dumps({**b.chart_data(), "labels": _labels(locale)}, ensure_ascii=False),
        ),
    )


# -- hotspots -------------------------------------------------------------------------------


def _hot_json(view: HotspotView) -> dict[str, Any]:
    return {
        "period": _plain(view.period),
        "as_of": view.as_of.isoformat(),
        "history_windows": view.history_windows,
        "items": _plain(view.items),
        "by_district": [{"district": d, "items": _plain(items)} for d, items in view.by_district],
        "grid": view.grid,
    }


@routes.get("/api/v1/reports/hotspots")
async def hotspots_api(request: web.Request) -> web.Response:
    """Terms and categories far above their baseline (?date=…&period=day|week|month)."""
    svc, locale = await _service(request)
    view = await svc.hotspots(_period(request, svc, locale), locale)
    return web.json_response(_hot_json(view))


@routes.get("/reports/hotspots")
async def hotspots_page(request: web.Request) -> web.Response:
    """The ranked hotspots, their chart, and each district's own."""
    svc, locale = await _service(request)
    view = await svc.hotspots(_period(request, svc, locale), locale)
    session, _ = await signed_in(request)
    rule = svc.rules[view.period.kind]
    charts = {
        "hot": [{"name": h.name, "count": h.count, "mean": h.mean} for h in view.items],
        "grid": view.grid,
        "labels": _labels(locale),
    }
    return aiohttp_jinja2.render_template(
        "hotspots.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            v=view,
            rule=rule,
            history=svc.history[view.period.kind],
            periods=PERIODS,
            tz=ZoneInfo(services(request).tickets.timezone),
            charts=json.dumps(charts, ensure_ascii=False),
        ),
    )


# -- the e-mail and the Telegram text ------------------------------------------------------


def _mail_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_ENV = _mail_env()


def render_messages(
    b: Briefing, timezone: str = "Asia/Shanghai", site_url: str = "", locale: str = "zh"
) -> BriefingText:
    """The briefing as e-mail subject, plain text (also the Telegram post) and HTML."""
    tz = ZoneInfo(timezone)
    title = t(f"brief.title.{b.period.kind}", locale)
    span = b.period.start.isoformat()
    if b.period.kind != "day":
        span += " — " + (b.period.end.fromordinal(b.period.end.toordinal() - 1)).isoformat()
    link = (
        f"{site_url.rstrip('/')}/reports/briefing?date={b.period.start.isoformat()}"
        f"&period={b.period.kind}"
        if site_url
        else ""
    )
    ctx = {
        "_": lambda key, **kw: t(key, locale, **kw),
        "b": b,
        "title": title,
        "span": span,
        "as_of": b.as_of.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "local": lambda v: v.astimezone(tz).strftime("%m-%d %H:%M") if v else "",
        "limit": MAX_PAGE_LIST,
        "link": link,
    }
    text = _ENV.get_template("briefing_mail.txt").render(ctx).strip() + "\n"
    html = _ENV.get_template("briefing_mail.html").render(ctx)
    return BriefingText(subject=f"【12345】{title} {span}", text=text, html=html)
