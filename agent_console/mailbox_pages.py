"""The mayor's mailbox for the public: letter form, receipt, progress look-up, published letters."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from agent_console.mailbox_guard import Challenge, ChallengeError, MailboxDesk
from agent_console.web import locale_of, services
from tickets.attachments import MIB
from tickets.catalog import t
from tickets.mailbox_records import MailboxEntry
from tickets.model import Channel, CitizenIdentity, InboundContact, Location
from tickets.privacy import normalize_phone

routes = web.RouteTableDef()

FIELDS = ("mailbox", "identity", "name", "phone", "email", "subject", "content", "category",
          "location", "consent_publish", "answer")  # fmt: skip
MAX_LEN = {"name": 50, "email": 254, "subject": 100, "content": 5000, "location": 200}
MAX_PARTS = 64
PUBLISHED_PAGE_SIZE = 10
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class TooLarge(Exception):
    """The form's body is over the limit."""


@dataclass
class Submission:
    """What the browser sent: text fields and files, before any checking."""

    values: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)


def _desk(request: web.Request) -> MailboxDesk:
    desk = services(request).mailbox
    if desk is None:
        raise web.HTTPNotFound()
    return desk


def _size(n: int) -> str:
    return f"{n / MIB:.0f} MB" if n >= MIB else f"{max(1, n // 1024)} KB"


def _ctx(request: web.Request, **extra: Any) -> dict[str, Any]:
    locale = locale_of(request)
    svc = services(request)
    tz = ZoneInfo(svc.tickets.timezone)

    def local(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if not value:
            return ""
        at = datetime.fromisoformat(value) if isinstance(value, str) else value
        return at.astimezone(tz).strftime(fmt)

    def mailbox_name(entry: MailboxEntry) -> str:
        return entry.name_en if locale == "en" and entry.name_en else entry.name_zh

    return {
        "locale": locale,
        "_": lambda key, **kw: t(key, locale, **kw),
        "local": local,
        "path": request.path,
        "mailbox_name": mailbox_name,
        "category_name": lambda code: svc.tickets.category_name(code, locale),
        **extra,
    }


def _category_groups(request: web.Request) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Top-level categories, each with its leaves, in the catalog's order."""
    rows = services(request).tickets.category_rows

    def order(r: dict[str, Any]) -> tuple[int, str]:
        return (int(r.get("sort") or 0), str(r["code"]))

    tops = sorted((r for r in rows.values() if r["parent_code"] is None), key=order)
    return [
        (top, sorted((r for r in rows.values() if r["parent_code"] == top["code"]), key=order))
        for top in tops
    ]


def _safe_name(name: str) -> str:
    """A file name without folders or control characters (it is shown, never used as a path)."""
    if re.search(r"%[0-9A-Fa-f]{2}", name):
        # Some clients percent-encode non-ASCII names; browsers send them as UTF-8.
        try:
            name = unquote(name, errors="strict")
        except UnicodeDecodeError:
            pass
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:200] or "file"


async def _read(request: web.Request, limit: int) -> Submission:
    """The posted form, counting bytes as they come so a huge body is cut off early."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge
    sub = Submission()
    if request.content_type != "multipart/form-data":
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge from None
        for k, v in form.items():
            if isinstance(v, str):
                sub.values.setdefault(k, v)
        return sub
    try:
        return await _read_parts(request, limit, sub)
    except (ValueError, AssertionError, HttpProcessingError):  # broken framing or headers
        raise web.HTTPBadRequest(text="malformed form") from None


async def _read_parts(request: web.Request, limit: int, sub: Submission) -> Submission:
    reader = await request.multipart()
    total = parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS or not isinstance(part, BodyPartReader):
            raise web.HTTPBadRequest(text="malformed form")
        chunks: list[bytes] = []
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise TooLarge
            chunks.append(chunk)
        data = b"".join(chunks)
        if part.filename is not None:
            if part.filename or data:
                content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
                sub.files.append((_safe_name(part.filename), content_type, data))
        elif part.name:
            text = data.decode(part.get_charset("utf-8"), errors="replace")
            sub.values.setdefault(part.name, text.replace("\r\n", "\n"))
    return sub


@dataclass
class Checked:
    """A form after checking: field errors (field → message), and the contact if none."""

    errors: dict[str, str]
    contact: InboundContact | None = None
    challenge: Challenge | None = None


def _form_page(
    request: web.Request,
    desk: MailboxDesk,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    challenge: Challenge | None = None,
    alert: str | None = None,
    files_lost: bool = False,
    status: int = 200,
) -> web.Response:
    rules = desk.files.rules
    values = {**dict.fromkeys(FIELDS, ""), **(values or {})}
    mailboxes = list(desk.records.mailboxes.values())
    if not values["mailbox"]:
        wanted = request.query.get("to", "")
        values["mailbox"] = wanted if wanted in desk.records.mailboxes else mailboxes[0].key
    resp = aiohttp_jinja2.render_template(
        "mailbox_form.html",
        request,
        _ctx(
            request,
            v=values,
            errors=errors or {},
            challenge=challenge or desk.issue(),
            alert=alert,
            files_lost=files_lost,
            mailboxes=mailboxes,
            groups=_category_groups(request),
            max_count=rules.max_count,
            max_file=_size(rules.max_bytes),
            max_total=_size(min(rules.max_total_bytes, desk.max_body_bytes)),
            accept=",".join(sorted(rules.allowed)),
        ),
        status=status,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@routes.get("/mailbox")
async def letter_form(request: web.Request) -> web.Response:
    """The empty letter form with a fresh challenge."""
    return _form_page(request, _desk(request))


def _check_fields(
    request: web.Request, desk: MailboxDesk, sub: Submission, locale: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Every field's error (all at once, so the writer fixes them in one go) and clean values."""
    v = sub.values
    errors: dict[str, str] = {}

    def label(name: str) -> str:
        return t(f"mb.field.{name}", locale)

    def text(name: str, required: bool) -> str:
        value = v.get(name, "").strip()
        if required and not value:
            errors[name] = t("mb.err.required", locale, field=label(name))
        elif len(value) > MAX_LEN[name]:
            errors[name] = t("mb.err.too_long", locale, field=label(name), max=MAX_LEN[name])
        return value

    clean: dict[str, Any] = {}
    key = v.get("mailbox", "")
    if key not in desk.records.mailboxes:
        errors["mailbox"] = t("mb.err.choice", locale, field=label("mailbox"))
    clean["mailbox"] = desk.records.mailboxes.get(key)
    anonymous = v.get("identity") == "anonymous"
    name = text("name", required=not anonymous)
    clean["name"] = None if anonymous else name or None
    raw_phone = v.get("phone", "").strip()
    phone = normalize_phone(raw_phone)
    if not raw_phone:
        errors["phone"] = t("mb.err.required", locale, field=label("phone"))
    elif not phone or not phone.startswith("+"):
        errors["phone"] = t("mb.err.phone", locale, field=label("phone"))
    clean["phone"] = phone
    email = text("email", required=False)
    if email and "email" not in errors and not EMAIL.match(email):
        errors["email"] = t("mb.err.email", locale, field=label("email"))
    clean["email"] = email or None
    clean["subject"] = text("subject", required=True)
    clean["content"] = text("content", required=True)
    category = v.get("category", "").strip()
    if category and category not in services(request).tickets.category_rows:
        errors["category"] = t("mb.err.choice", locale, field=label("category"))
    clean["category"] = category or None
    clean["location"] = text("location", required=False) or None
    clean["consent"] = v.get("consent_publish") in ("on", "1", "yes", "true")
    rules = desk.files.rules
    total = 0
    for count, (fname, _, data) in enumerate(sub.files):  # stops at the first refusal
        reason = rules.rejection(fname, len(data), count, total)
        if reason is not None:
            errors["attachments"] = t(
                f"mb.err.attachment_{reason}",
                locale,
                field=label("attachments"),
                name=fname,
                size=_size(rules.max_bytes),
                count=rules.max_count,
                total=_size(rules.max_total_bytes),
            )
            break
        total += len(data)
    return errors, clean


def _rate_rules(desk: MailboxDesk, ip: str, phone: str) -> list[tuple[str, int, timedelta]]:
    return [
        (f"ip:{ip}", desk.per_ip_per_hour, timedelta(hours=1)),
        (f"phone:{phone}", desk.per_phone_per_day, timedelta(days=1)),
    ]


@routes.post("/mailbox")
async def submit_letter(request: web.Request) -> web.Response:
    """Check the letter, accept it once (the form's nonce is the key), show the receipt."""
    desk = _desk(request)
    locale = locale_of(request)
    try:
        sub = await _read(request, desk.max_body_bytes)
    except TooLarge:
        return _too_large(request, desk)
    values = {k: sub.values.get(k, "") for k in FIELDS}
    errors: dict[str, str] = {}

    def retry(challenge: Challenge, *, alert: str | None = None, status: int = 400) -> web.Response:
        return _form_page(
            request, desk, values=values, errors=errors, challenge=challenge, alert=alert,
            files_lost=bool(sub.files), status=status,
        )  # fmt: skip

    # 1. the challenge: signed by us, answered right, not too old
    try:
        challenge = desk.read(sub.values.get("challenge", ""))
    except ChallengeError:
        errors["answer"] = t("mb.err.challenge_forged", locale)
        values["answer"] = ""
        return retry(desk.issue())
    try:
        desk.check(challenge, values["answer"])
    except ChallengeError:
        errors["answer"] = t("mb.err.challenge_wrong", locale)
        values["answer"] = ""
        errors.update(_check_fields(request, desk, sub, locale)[0])
        return retry(desk.issue(challenge.nonce))
    external_id = f"web:{challenge.nonce}"
    # 2. a second click on the same page shows the first receipt again
    async with services(request).store.read() as tx:
        earlier = await tx.contact_by_external_id(Channel.WEB.value, external_id)
    if earlier is not None and earlier["ticket_id"] is not None:
        return await _receipt(
            request, desk, earlier["ticket_id"], joined=False, at=earlier["received_at"]
        )
    if desk.expired(challenge):
        errors["answer"] = t("mb.err.challenge_expired", locale)
        values["answer"] = ""
        errors.update(_check_fields(request, desk, sub, locale)[0])
        return retry(desk.issue(challenge.nonce))
    # 3. the fields
    field_errors, clean = _check_fields(request, desk, sub, locale)
    if field_errors:
        errors.update(field_errors)
        return retry(challenge)
    # 4. the limits, counted only for letters that get this far
    now = desk.now()
    rules = _rate_rules(desk, request.remote or "unknown", clean["phone"])
    full = desk.limiter.take(rules, now)
    if full is not None:
        which, limit = ("ip", desk.per_ip_per_hour) if full.startswith("ip:") else (
            "phone", desk.per_phone_per_day)  # fmt: skip
        return retry(challenge, alert=t(f"mb.limit.{which}", locale, limit=limit), status=429)
    try:
        attachments = await desk.files.save_all(sub.files)
        entry: MailboxEntry = clean["mailbox"]
        district = entry.district if entry.district in services(request).tickets.tree else None
        contact = InboundContact(
            channel=Channel.WEB,
            external_id=external_id,
            citizen=CitizenIdentity(name=clean["name"], phone=clean["phone"], email=clean["email"]),
            text=clean["content"],
            received_at=now,
            attachments=attachments,
            location=Location(address=clean["location"]) if clean["location"] else None,
            category=clean["category"],
            district=district,
            subject=clean["subject"],
            consent_publish=clean["consent"],
            extra={"mailbox": entry.key},
        )
        result = await desk.records.accept(contact)
    except BaseException:
        desk.limiter.give_back([k for k, _, _ in rules], now)
        raise
    if result.duplicate:
        desk.limiter.give_back([k for k, _, _ in rules], now)
    return await _receipt(request, desk, result.ticket_id, joined=result.joined_existing, at=now)


async def _receipt(
    request: web.Request, desk: MailboxDesk, ticket_id: int, *, joined: bool, at: datetime
) -> web.Response:
    code = await desk.records.query_code(ticket_id)
    async with services(request).store.read() as tx:
        row = await tx.ticket(ticket_id=ticket_id)
    assert row is not None
    resp = aiohttp_jinja2.render_template(
        "mailbox_receipt.html",
        request,
        _ctx(
            request,
            number=row["number"],
            code=code,
            joined=joined,
            consent=bool(row["consent_publish"]),
            received_at=at,
        ),
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _too_large(request: web.Request, desk: MailboxDesk) -> web.Response:
    resp = aiohttp_jinja2.render_template(
        "mailbox_error.html",
        request,
        _ctx(request, status=413, size=_size(desk.max_body_bytes)),
        status=413,
    )
    # The rest of the body is not read; the connection cannot be reused.
    resp.force_close()
    return resp


async def _progress(request: web.Request, values: dict[str, str]) -> web.Response:
    desk = _desk(request)
    number, code = values.get("number", "").strip(), values.get("code", "").strip()
    result = None
    status = 200
    limited = False
    if number and code:
        # Guessing codes is slow: each IP gets a number of wrong tries per hour.
        now, hour = desk.now(), timedelta(hours=1)
        key = f"lookup:{request.remote or 'unknown'}"
        if desk.limiter.used(key, hour, now) >= desk.failed_lookups_per_hour:
            limited, status = True, 429
        else:
            result = await desk.records.progress(number[:32], code[:32], locale_of(request))
            if result is None:
                desk.limiter.take([(key, desk.failed_lookups_per_hour, hour)], now)
                status = 404
    resp = aiohttp_jinja2.render_template(
        "mailbox_progress.html",
        request,
        _ctx(
            request,
            number=number,
            code=code,
            checked=bool(number and code),
            result=result,
            limited=limited,
        ),
        status=status,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@routes.get("/mailbox/progress")
async def progress_page(request: web.Request) -> web.Response:
    """The look-up form; with ?number=&code= it answers too (links in e-mails carry the number)."""
    return await _progress(request, dict(request.query))


@routes.post("/mailbox/progress")
async def progress_lookup(request: web.Request) -> web.Response:
    """The look-up by form post, so the query code stays out of addresses and logs."""
    form = await request.post()
    return await _progress(request, {k: str(v) for k, v in form.items() if isinstance(v, str)})


@routes.get("/mailbox/published")
async def published_page(request: web.Request) -> web.Response:
    """Letters and replies published with consent; by category and month."""
    desk = _desk(request)
    locale = locale_of(request)
    q = request.query
    category, month = q.get("category", "").strip(), q.get("month", "").strip()
    try:
        page = max(1, min(int(q.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    errors: dict[str, str] = {}
    if category and category not in services(request).tickets.category_rows:
        errors["category"] = t("mb.err.choice", locale, field=t("mb.field.category", locale))
    if month and not MONTH.match(month):
        errors["month"] = t("mb.err.month", locale, field=t("mb.pub.month", locale))
    rows: list[dict[str, Any]] = []
    total = 0
    if not errors:
        rows, total = await desk.records.published(
            category=category or None,
            month=month or None,
            page=page,
            page_size=PUBLISHED_PAGE_SIZE,
            timezone=services(request).tickets.timezone,
        )
    pages = max(1, -(-total // PUBLISHED_PAGE_SIZE))
    return aiohttp_jinja2.render_template(
        "mailbox_published.html",
        request,
        _ctx(
            request,
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            category=category,
            month=month,
            errors=errors,
            groups=_category_groups(request),
            mailboxes=desk.records.mailboxes,
        ),
        status=400 if errors else 200,
    )
