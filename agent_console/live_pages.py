"""The live pages: agent workspace, supervisor wallboard and 110 desk (fed by /ws)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_console.pages import _ctx as page_context
from agent_console.push import hub_of, wallboard
from agent_console.web import locale_of, services, signed_in
from tickets.accounts import Session
from tickets.catalog import CATALOG, t
from tickets.model import Role
from tickets.privacy import Viewer

routes = web.RouteTableDef()

PAUSE_REASONS = ("break", "lunch", "training", "meeting", "wrap_up")
# What the browser script needs from the catalog, by key prefix (one catalog, no copies).
SCRIPT_TEXTS: tuple[str, ...] = ("ws.", "wb.", "police.", "live.", "state.", "rating.", "action.")
SCRIPT_TEXTS += ("urgency.", "chat.", "online.", "channel.")  # chat.*: the online desk (chat.js)


def _texts(locale: str) -> dict[str, str]:
    return {k: t(k, locale) for k in CATALOG if k.startswith(SCRIPT_TEXTS)}


async def _allowed(request: web.Request, *roles: Role) -> tuple[Session, Viewer]:
    session, viewer = await signed_in(request)
    if viewer.role not in roles:
        raise web.HTTPForbidden()
    return session, viewer


def _page(request: web.Request, session: Session, **extra: Any) -> dict[str, Any]:
    return page_context(
        request,
        user=session.user,
        csrf_token=session.csrf_token,
        texts=_texts(locale_of(request)),
        tz=services(request).tickets.timezone,
        **extra,
    )


@routes.get("/workspace")
async def workspace(request: web.Request) -> web.Response:
    """The agent's desk: presence, the screen pop, the ticket form and call control."""
    session, _ = await _allowed(request, Role.AGENT, Role.SUPERVISOR)
    svc = services(request)
    tree = svc.tickets.tree
    telephony = svc.desk.telephony if svc.desk else None
    rows = svc.tickets.category_rows
    return aiohttp_jinja2.render_template(
        "workspace.html",
        request,
        _page(
            request,
            session,
            categories=[r for r in rows.values() if r["parent_code"] is not None],
            category_name=svc.tickets.category_name,
            districts=tree.of_kind("district"),
            dispatch_targets=[d for d in tree.by_code.values() if d.kind in ("city", "district")],
            lines=sorted(svc.desk.lines()) if svc.desk and telephony else [],
            line_names={
                code: line.name(locale_of(request))
                + (
                    f" · {t('admin.lines.kind_three_way', locale_of(request))}"
                    if line.kind == "three_way"
                    else ""
                )
                for code, line in ((svc.desk.transfer_lines or {}) if svc.desk else {}).items()
            },
            pause_reasons=PAUSE_REASONS,
        ),
    )


@routes.get("/wallboard")
async def wallboard_page(request: web.Request) -> web.Response:
    """The supervisor's view of the whole center; numbers then move over the socket."""
    session, _ = await _allowed(request, Role.SUPERVISOR)
    board = await wallboard(services(request), hub_of(request.app))
    return aiohttp_jinja2.render_template(
        "wallboard.html", request, _page(request, session, board=board)
    )


@routes.get("/police")
async def police_page(request: web.Request) -> web.Response:
    """110 dispatch: orders handed over by 12345, with their context; new ones arrive live."""
    session, viewer = await _allowed(request, Role.POLICE)
    svc = services(request)
    locale = locale_of(request)
    items, _ = await svc.tickets.list(viewer, states=["with_police"], limit=100, locale=locale)
    orders = [await svc.tickets.view(i["number"], viewer, locale=locale) for i in items]
    return aiohttp_jinja2.render_template(
        "police.html", request, _page(request, session, orders=orders)
    )
