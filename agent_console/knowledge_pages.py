"""The knowledge base in the console: list and search, article pages, the editor for
departments, the review queue for supervisors, the JSON API, and the quick answers the agent
workspace asks for while a consultation is typed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

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
from tickets.catalog import t
from tickets.knowledge import (
    REVIEWERS,
    WRITERS,
    KbAction,
    KnowledgeBase,
    KnowledgeNotFound,
    Status,
)
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.service import TicketError

routes = web.RouteTableDef()

KB = web.AppKey("knowledge", KnowledgeBase)
READERS = (Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.ADMIN, Role.POLICE)
PAGE_SIZE = 30
ACTIONS = (KbAction.SUBMIT, KbAction.PUBLISH, KbAction.SEND_BACK, KbAction.WITHDRAW)


def install(app: web.Application, svc: ConsoleServices) -> None:
    """Give the app its knowledge base (over the same store and ticket service)."""
    app[KB] = KnowledgeBase(svc.store, svc.tickets)


def kb_of(request: web.Request) -> KnowledgeBase:
    """The knowledge base of the app serving `request`."""
    return request.app[KB]


async def _reader(request: web.Request, *, unsafe: bool = False) -> tuple[Session, Viewer]:
    session, viewer = await signed_in(request, unsafe=unsafe)
    if viewer.role not in READERS:
        raise ApiError(403, "forbidden", locale_of(request))
    return session, viewer


def _int(value: str | None, name: str, locale: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        n = int(str(value))
    except ValueError:
        raise field_error(name, "a whole number", locale) from None
    if n < 0:
        raise field_error(name, "not negative", locale)
    return n


def _filters(request: web.Request) -> dict[str, Any]:
    q = request.query
    expired = q.get("expired", "")
    return {
        "q": q.get("q", "").strip()[:200],
        "category": q.get("category", ""),
        "department": q.get("department", ""),
        "status": q.get("status", "") if q.get("status") in {s.value for s in Status} else "",
        "expired": expired if expired in ("0", "1") else "",
    }


async def _search(request: web.Request, viewer: Viewer, limit: int, offset: int) -> Any:
    f = _filters(request)
    return await kb_of(request).search(
        viewer,
        f["q"],
        category=f["category"] or None,
        boost=request.query.get("boost") or None,
        department=f["department"] or None,
        status=f["status"] or None,
        expired={"1": True, "0": False}.get(f["expired"]),
        limit=limit,
        offset=offset,
    )


# -- JSON API --------------------------------------------------------------------------------


@routes.get("/api/v1/knowledge")
async def api_list(request: web.Request) -> web.Response:
    """Search and filter articles: `q` (Chinese), category, department, status, expired."""
    _, viewer = await _reader(request)
    locale = locale_of(request)
    limit = min(_int(request.query.get("limit"), "limit", locale, 20), 100)
    offset = _int(request.query.get("offset"), "offset", locale, 0)
    items, total = await _search(request, viewer, limit, offset)
    return web.json_response({"items": items, "total": total})


@routes.get("/api/v1/knowledge/quick")
async def api_quick(request: web.Request) -> web.Response:
    """The best published answers for what the agent has typed so far (and the category)."""
    _, viewer = await _reader(request)
    locale = locale_of(request)
    limit = min(_int(request.query.get("limit"), "limit", locale, 5), 20)
    text = request.query.get("q", "")[:2000]
    items = await kb_of(request).quick_answers(
        viewer, text, request.query.get("category") or None, limit
    )
    return web.json_response({"items": items})


@routes.get("/api/v1/knowledge/review")
async def api_review(request: web.Request) -> web.Response:
    """Articles waiting for a reviewer."""
    _, viewer = await _reader(request)
    return web.json_response({"items": await kb_of(request).review_queue(viewer)})


def _article_id(request: web.Request) -> int:
    # Checked after sign-in (no pattern in the route), so a stranger learns nothing from 404s.
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise KnowledgeNotFound(f"no article {raw}", id=raw)
    return int(raw)


@routes.post("/api/v1/knowledge")
async def api_create(request: web.Request) -> web.Response:
    """A department writes an article: `{title, body, category, keywords, expires_on,
    department?, submit?}`."""
    _, viewer = await _reader(request, unsafe=True)
    data = await json_body(request)
    submit = data.pop("submit", False)
    if not isinstance(submit, bool):
        raise field_error("submit", "must be true or false", locale_of(request))
    article = await kb_of(request).create(viewer, data, submit=submit)
    return web.json_response(article, status=201)


@routes.get("/api/v1/knowledge/{id}")
async def api_get(request: web.Request) -> web.Response:
    """One article as the viewer may read it (`?version=` for an older one)."""
    _, viewer = await _reader(request)
    version = request.query.get("version")
    v = _int(version, "version", locale_of(request), 0) if version else None
    return web.json_response(await kb_of(request).get(_article_id(request), viewer, v))


@routes.patch("/api/v1/knowledge/{id}")
async def api_edit(request: web.Request) -> web.Response:
    """Change an article; `version` (the one the editor opened) guards against lost updates."""
    _, viewer = await _reader(request, unsafe=True)
    locale = locale_of(request)
    data = await json_body(request)
    submit = data.pop("submit", False)
    base = data.pop("version", None)
    if not isinstance(submit, bool):
        raise field_error("submit", "must be true or false", locale)
    if base is not None and (not isinstance(base, int) or isinstance(base, bool)):
        raise field_error("version", "a whole number", locale)
    article = await kb_of(request).edit(
        _article_id(request), viewer, data, base_version=base, submit=submit
    )
    return web.json_response(article)


@routes.post("/api/v1/knowledge/{id}/actions/{action}")
async def api_act(request: web.Request) -> web.Response:
    """submit, publish, send_back (reason), withdraw (reason)."""
    _, viewer = await _reader(request, unsafe=True)
    locale = locale_of(request)
    action = _action(request.match_info["action"], locale)
    data = await json_body(request)
    reason = data.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 500:
        raise field_error("reason", "text up to 500 characters", locale)
    article = await kb_of(request).act(_article_id(request), viewer, action, reason=reason)
    return web.json_response(article)


def _action(name: str, locale: str) -> KbAction:
    try:
        action = KbAction(name)
    except ValueError:
        raise field_error("action", "one of submit, publish, send_back, withdraw", locale) from None
    if action not in ACTIONS:
        raise field_error("action", "one of submit, publish, send_back, withdraw", locale)
    return action


@routes.post("/api/v1/knowledge/{id}/cite")
async def api_cite(request: web.Request) -> web.Response:
    """The agent answered ticket `ticket` from version `version`: write it on its timeline."""
    _, viewer = await _reader(request, unsafe=True)
    locale = locale_of(request)
    data = await json_body(request)
    number, version = data.get("ticket"), data.get("version")
    if not isinstance(number, str) or not number:
        raise field_error("ticket", "the ticket number", locale)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise field_error("version", "the version number read", locale)
    cited = await kb_of(request).cite(_article_id(request), version, number, viewer)
    return web.json_response(cited, status=201)


# -- pages -----------------------------------------------------------------------------------


def _page(request: web.Request, session: Session, **extra: Any) -> dict[str, Any]:
    svc = services(request)
    tree = svc.tickets.tree
    rows = svc.tickets.category_rows
    return page_context(
        request,
        user=session.user,
        csrf_token=session.csrf_token,
        category_name=svc.tickets.category_name,
        categories=sorted(rows.values(), key=lambda r: (r["parent_code"] or r["code"], r["code"])),
        departments=[d for d in tree.by_code.values() if d.kind != "police"],
        is_writer=session.user.role in WRITERS,
        is_reviewer=session.user.role in REVIEWERS,
        **extra,
    )


@routes.get("/knowledge")
async def list_page(request: web.Request) -> web.Response:
    """Search the knowledge base; departments see what to renew, reviewers what waits."""
    session, viewer = await _reader(request)
    locale = locale_of(request)
    kb = kb_of(request)
    page = max(1, _int(request.query.get("page"), "page", locale, 1))
    items, total = await _search(request, viewer, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    f = _filters(request)
    query = {k: v for k, v in f.items() if v}
    waiting = len(await kb.review_queue(viewer)) if viewer.role in REVIEWERS else 0
    return aiohttp_jinja2.render_template(
        "knowledge.html",
        request,
        _page(
            request,
            session,
            items=items,
            total=total,
            page=page,
            pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            page_query=lambda p: "?" + urlencode({**query, "page": p}),
            filters=f,
            statuses=[s.value for s in Status if s is not Status.SUPERSEDED],
            renew=await kb.to_renew(viewer) if viewer.role in WRITERS else [],
            waiting=waiting,
        ),
    )


@routes.get("/knowledge/review")
async def review_page(request: web.Request) -> web.Response:
    """The supervisors' queue: each article in review with its text, to publish or send back."""
    session, viewer = await _reader(request)
    if viewer.role not in REVIEWERS:
        raise web.HTTPForbidden()
    kb = kb_of(request)
    queue = [await kb.get(i["id"], viewer) for i in await kb.review_queue(viewer)]
    return aiohttp_jinja2.render_template(
        "knowledge_review.html",
        request,
        _page(
            request,
            session,
            queue=queue,
            flash=request.query.get("flash"),
            error=request.query.get("error"),
        ),
    )


@routes.get("/knowledge/{id}")
async def article_page(request: web.Request) -> web.Response:
    """One article: the text shown, its standing, versions, and what the viewer may do."""
    session, viewer = await _reader(request)
    locale = locale_of(request)
    version = request.query.get("v")
    v = _int(version, "v", locale, 0) if version else None
    article = await kb_of(request).get(_article_id(request), viewer, v)
    return aiohttp_jinja2.render_template(
        "knowledge_article.html",
        request,
        _page(
            request,
            session,
            a=article,
            flash=request.query.get("flash"),
            error=request.query.get("error"),
            may_withdraw=article["published_version"] is not None
            and (viewer.role in REVIEWERS or article["may_edit"]),
        ),
    )


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "title": str(form.get("title", "")),
        "body": str(form.get("body", "")),
        "category": str(form.get("category", "")) or None,
        "keywords": str(form.get("keywords", "")),
        "expires_on": str(form.get("expires_on", "")),
    }


def _editor(
    request: web.Request,
    session: Session,
    *,
    values: dict[str, Any],
    article: dict[str, Any] | None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        "knowledge_edit.html",
        request,
        _page(
            request,
            session,
            values=values,
            a=article,
            error=error,
            own_departments=sorted(_scope(request, session)),
        ),
        status=status,
    )


def _scope(request: web.Request, session: Session) -> frozenset[str]:
    return services(request).accounts.viewer(session.user).scope


def _error_text(e: TicketError, locale: str) -> str:
    return t(f"error.{e.code}", locale, detail=str(e), **e.details)


@routes.get("/knowledge/new")
async def new_page(request: web.Request) -> web.Response:
    """The editor for a new article (department staff)."""
    session, viewer = await _reader(request)
    if viewer.role not in WRITERS:
        raise web.HTTPForbidden()
    kb = kb_of(request)
    next_year = kb.today().replace(year=kb.today().year + 1)
    values = {
        "title": "",
        "body": "",
        "category": request.query.get("category") or None,
        "keywords": "",
        "expires_on": next_year.isoformat(),
        "department": viewer.department,
    }
    return _editor(request, session, values=values, article=None)


@routes.post("/knowledge/new")
async def new_submit(request: web.Request) -> web.Response:
    """Save a new article; a refused field shows in place with everything typed kept."""
    session, viewer = await _reader(request, unsafe=True)
    locale = locale_of(request)
    form = await request.post()
    values = _form_values(form)
    values["department"] = str(form.get("department") or viewer.department or "")
    try:
        article = await kb_of(request).create(viewer, values, submit=form.get("submit") == "1")
    except TicketError as e:
        return _editor(
            request, session, values=values, article=None, error=_error_text(e, locale), status=400
        )
    flash = t("kb.done", locale, action=t("kb.action.create", locale))
    raise web.HTTPFound(f"/knowledge/{article['id']}?" + urlencode({"flash": flash}))


@routes.get("/knowledge/{id}/edit")
async def edit_page(request: web.Request) -> web.Response:
    """The editor over the newest version of an article."""
    session, viewer = await _reader(request)
    article = await kb_of(request).get(_article_id(request), viewer)
    if not article["may_edit"]:
        raise web.HTTPForbidden()
    v = article["version"]
    values = {
        "title": v["title"],
        "body": v["body"],
        "category": v["category"],
        "keywords": " ".join(v["keywords"]),
        "expires_on": v["expires_on"],
    }
    return _editor(request, session, values=values, article=article)


@routes.post("/knowledge/{id}/edit")
async def edit_submit(request: web.Request) -> web.Response:
    """Save the editor: in place for a draft, as the next version for a published article."""
    session, viewer = await _reader(request, unsafe=True)
    locale = locale_of(request)
    kb = kb_of(request)
    form = await request.post()
    values = _form_values(form)
    base = _int(str(form.get("version") or ""), "version", locale, 0) or None
    try:
        article = await kb.edit(
            _article_id(request),
            viewer,
            values,
            base_version=base,
            submit=form.get("submit") == "1",
        )
    except TicketError as e:
        current = await kb.get(_article_id(request), viewer)
        return _editor(
            request,
            session,
            values=values,
            article=current,
            error=_error_text(e, locale),
            status=400,
        )
    flash = t("kb.done", locale, action=t("kb.action.edit", locale))
    raise web.HTTPFound(f"/knowledge/{article['id']}?" + urlencode({"flash": flash}))


@routes.post("/knowledge/{id}/act")
async def act_submit(request: web.Request) -> web.Response:
    """A form post of submit / publish / send back / withdraw; back to where it came from."""
    _, viewer = await _reader(request, unsafe=True)
    locale = locale_of(request)
    form = await request.post()
    action = _action(str(form.get("action", "")), locale)
    article_id = _article_id(request)
    try:
        await kb_of(request).act(article_id, viewer, action, reason=str(form.get("reason", "")))
        note = {"flash": t("kb.done", locale, action=t(f"kb.action.{action.value}", locale))}
    except TicketError as e:
        note = {"error": _error_text(e, locale)}
    back = "/knowledge/review" if form.get("back") == "review" else f"/knowledge/{article_id}"
    raise web.HTTPFound(back + "?" + urlencode(note))


# -- the API's description (merged into /api/openapi.json) -----------------------------------


def _op(summary: str, ok: str, errors: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["knowledge"],
        "security": [{"session": []}],
        "responses": {
            "200": {"description": ok},
            **{code: {"description": "see the error's code and field"} for code in errors.split()},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_ARTICLE = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "body": {"type": "string", "maxLength": 20000},
        "category": {"type": ["string", "null"]},
        "keywords": {"type": ["array", "string"], "items": {"type": "string"}},
        "expires_on": {"type": "string", "format": "date"},
        "department": {"type": "string", "description": "create only; default: your own"},
        "version": {"type": "integer", "description": "edit only: the version you opened"},
        "submit": {"type": "boolean", "description": "straight into review"},
    },
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/knowledge": {
        "get": _op(
            "Search articles (?q= Chinese, category, department, status, expired=0|1, "
            "limit, offset); best first",
            "{items, total}",
            "400 401 403",
        ),
        "post": _op("Write an article (department staff)", "the article", "400 401 403", _ARTICLE),
    },
    "/api/v1/knowledge/quick": {
        "get": _op(
            "Quick answers: the best published articles for what the agent typed (?q=, category)",
            "{items}",
            "400 401 403",
        ),
    },
    "/api/v1/knowledge/review": {
        "get": _op("Articles waiting for review (supervisors, admins)", "{items}", "401 403"),
    },
    "/api/v1/knowledge/{id}": {
        "get": _op("An article as you may read it (?version=)", "the article", "401 403 404"),
        "patch": _op(
            "Edit: a draft in place, a published article as its next version",
            "the article",
            "400 401 403 404 409",
            _ARTICLE,
        ),
    },
    "/api/v1/knowledge/{id}/actions/{action}": {
        "post": _op(
            "submit | publish | send_back (reason) | withdraw (reason)",
            "the article",
            "400 401 403 404 409",
            {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 500}}},
        ),
    },
    "/api/v1/knowledge/{id}/cite": {
        "post": _op(
            "Write on a ticket's timeline that its answer came from this article's version",
            "the citation (201)",
            "400 401 403 404",
            {
                "type": "object",
                "required": ["ticket", "version"],
                "properties": {"ticket": {"type": "string"}, "version": {"type": "integer"}},
            },
        ),
    },
}
_ACTION = {
    "name": "action",
    "in": "path",
    "required": True,
    "schema": {"enum": [a.value for a in ACTIONS]},
}
for _path, _ops in OPENAPI_PATHS.items():
    for _operation in _ops.values():
        if "{id}" in _path:
            _operation["parameters"] = [_ID, _ACTION] if "{action}" in _path else [_ID]
