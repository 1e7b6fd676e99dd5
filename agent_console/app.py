"""Builds the aiohttp application: API, pages, static assets, security headers."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from agent_console import (
    admin_pages,
    api,
    briefing_pages,
    chat_api,
    class_pages,
    knowledge_pages,
    live_pages,
    mailbox_pages,
    pages,
    portal_pages,
    push,
    recordings,
    report_pages,
    review_pages,
    supervision_api,
    telephony_api,
)
from agent_console.web import SERVICES, ConsoleServices, Handler, error_middleware

HERE = Path(__file__).parent


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no sniffing, nothing loaded from outside (closed government networks)."""
    resp = await handler(request)
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


def make_app(svc: ConsoleServices, *, max_body_bytes: int = 1_048_576) -> web.Application:
    """The web application over the given services."""
    app = web.Application(
        middlewares=[security_headers, error_middleware], client_max_size=max_body_bytes
    )
    app[SERVICES] = svc
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    app.add_routes(api.routes)
    app.add_routes(pages.routes)
    app.add_routes(telephony_api.routes)
    app.add_routes(chat_api.routes)
    app.add_routes(report_pages.routes)
    app.add_routes(class_pages.routes)
    app.add_routes(briefing_pages.routes)
    app.add_routes(review_pages.routes)
    app.add_routes(live_pages.routes)
    app.add_routes(mailbox_pages.routes)
    app.add_routes(portal_pages.routes)
    app.add_routes(knowledge_pages.routes)
    knowledge_pages.install(app, svc)
    recordings.install(app)
    supervision_api.install(app)
    admin_pages.install(app, svc)
    push.install(app, svc)
    app.router.add_static("/static", HERE / "static", append_version=True)
    return app
