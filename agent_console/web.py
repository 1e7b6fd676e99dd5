"""Shared web plumbing: service registry, locale, sign-in, CSRF and error translation."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from agent_console.mailbox_guard import MailboxDesk
from reports.service import FigureService
from router.dispatching import DispatchDesk
from router.online_desk import OnlineDesk
from router.presence import PresenceBoard
from router.telephony import TelephonyDesk
from tickets.accounts import AccountService, AuthError, Session
from tickets.attachments import FileStore
from tickets.calls import CallLog
from tickets.catalog import t
from tickets.lifecycle import LifecycleError
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.service import TicketError, TicketService
from tickets.store import Store

log = logging.getLogger(__name__)

SESSION_COOKIE = "hl_session"
LANG_COOKIE = "hl_lang"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ConsoleServices:
    """What the console may call: services, never connector internals."""

    store: Store
    tickets: TicketService
    accounts: AccountService
    desk: TelephonyDesk | None = None
    calls: CallLog | None = None
    dispatching: DispatchDesk | None = None
    figures: FigureService | None = None
    presence: PresenceBoard | None = None
    mailbox: MailboxDesk | None = None  # the public mayor's mailbox pages
    online: OnlineDesk | None = None  # online contacts, live chat and letters
    secure_cookies: bool = False
    files: FileStore | None = None  # uploaded files (department results)
    recordings_dir: Path | None = None  # where the call recordings are (MixMonitor)


SERVICES = web.AppKey("services", ConsoleServices)


def services(request: web.Request) -> ConsoleServices:
    """The services of the app that serves `request`."""
    return request.app[SERVICES]


def locale_of(request: web.Request) -> str:
    """?lang= beats the cookie, which beats the browser's Accept-Language; zh by default."""
    lang = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if lang in ("zh", "en"):
        return lang
    accept = request.headers.get("Accept-Language", "")
    return "en" if accept.startswith("en") else "zh"


class ApiError(web.HTTPException):
    """A JSON error with a stable code; the message comes from the catalog."""

    def __init__(self, status: int, code: str, locale: str = "zh", **params: Any) -> None:
        self.status_code = status
        super().__init__()
        self.code = code
        self.params = params
        self.locale = locale


def error_body(code: str, locale: str, **params: Any) -> dict[str, Any]:
    """``{code, message, message_en, ...details}`` for any error."""
    detail = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool)}
    return {
        "error": {
            "code": code,
            "message": t(f"error.{code}", locale, **params),
            "message_en": t(f"error.{code}", "en", **params),
            **detail,
        }
    }


def json_error(status: int, code: str, locale: str, **params: Any) -> web.Response:
    """A JSON error response."""
    return web.json_response(error_body(code, locale, **params), status=status)


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a clear answer: JSON for the API, a page for people."""
    # The locale is read only for a failure: parsing headers and cookies on every
    # answered request costs the busy callbacks (WeChat, Telegram) for nothing.
    try:
        return await handler(request)
    except ApiError as e:
        return json_error(e.status_code, e.code, locale_of(request), **e.params)
    except TicketError as e:
        detail = str(e)
        return _fail(request, e.status, e.code, locale_of(request), detail=detail, **e.details)
    except LifecycleError as e:
        status = 403 if e.code == "role_not_allowed" else 409
        return _fail(request, status, e.code, locale_of(request), detail=str(e), **e.details)
    except AuthError:
        if _wants_json(request):
            return json_error(401, "unauthorized", locale_of(request))
        raise web.HTTPFound("/login?next=" + request.path_qs) from None
    except web.HTTPRequestEntityTooLarge:
        return _fail(request, 413, "too_large", locale_of(request))
    except web.HTTPException as e:
        if _wants_json(request) and e.status >= 400:
            code = {404: "not_found", 403: "forbidden", 405: "invalid_transition"}.get(
                e.status, "not_found"
            )
            return json_error(e.status, code, locale_of(request))
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _fail(request, 500, "internal", locale_of(request))


def _fail(request: web.Request, status: int, code: str, locale: str, **params: Any) -> web.Response:
    if _wants_json(request):
        return json_error(status, code, locale, **params)
    body = error_body(code, locale, **params)["error"]
    message = body["message"]
    detail = params.get("detail", "")
    html = (
        f'<!doctype html><meta charset="utf-8"><link rel="stylesheet" href="/static/app.css">'
        f'<main class="error-page"><h1>{status}</h1><p>{_esc(message)}</p>'
        f'<p class="muted">{_esc(str(detail))}</p><p><a href="javascript:history.back()">←</a>'
        f' · <a href="/tickets">{_esc(t("nav.tickets", locale))}</a></p></main>'
    )
    return web.Response(status=status, text=html, content_type="text/html")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


async def current_session(request: web.Request) -> Session:
    """The signed-in session, or AuthError."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthError("not signed in")
    return await services(request).accounts.session(token)


async def signed_in(request: web.Request, *, unsafe: bool = False) -> tuple[Session, Viewer]:
    """The session and viewer; for state-changing requests also checks the CSRF token."""
    session = await current_session(request)
    if unsafe:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = str((await request.post()).get("csrf_token", ""))
        if not secrets.compare_digest(sent, session.csrf_token):
            raise ApiError(403, "csrf", locale_of(request))
    return session, services(request).accounts.viewer(session.user)


def require_role(viewer: Viewer, *roles: Role, locale: str = "zh") -> None:
    """403 unless the viewer has one of `roles`."""
    if viewer.role not in roles:
        raise ApiError(403, "forbidden", locale)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong."""
    locale = locale_of(request)
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", locale) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", locale)
    return data


def field_error(name: str, detail: str, locale: str) -> ApiError:
    """A 400 naming the bad field."""
    return ApiError(400, "invalid_field", locale, field=name, detail=detail)
