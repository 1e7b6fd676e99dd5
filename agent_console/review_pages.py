"""Bad reviews (3-5-15), appeals (申诉/复核) and the person ledger (首问/首办责任): the desk
that applies their rules to the store, and its pages and JSON API.

`ReviewDesk` subscribes to the bus: a committed 不满意/非常不满意 rating opens a case for
the ticket's lead department. People then act on the case through the desk, which checks
the pure rules in `reports.bad_reviews` and writes the step, the ticket's timeline note, the
audit line and (for an upheld appeal) `tickets.rating_excluded` in one unit of work.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from aiohttp.web_request import FileField

from agent_console.pages import _ctx as page_context
from agent_console.portal_pages import CONTENT_TYPES, MAGIC, RESULT_RULES
from agent_console.web import (
    ApiError,
    field_error,
    json_body,
    locale_of,
    require_role,
    services,
    signed_in,
)
from reports.bad_reviews import (
    Appeal,
    Case,
    CaseAction,
    CaseError,
    CaseStep,
    Followed,
    Status,
    allowed,
    apply,
    followed_up,
    is_bad,
    open_case,
    step_flags,
    total,
    warnings_due,
)
from reports.ledger import (
    DEFAULT_CONSEQUENCES,
    Complaint,
    Consequences,
    Verdict,
    consequence,
    ledger,
    window_start,
)
from tickets import review_cases as rc
from tickets.attachments import FileStore
from tickets.catalog import t
from tickets.events import DeadlineWarning, DomainEvent, TicketChanged
from tickets.model import Role, State, TimelineEntry
from tickets.privacy import Viewer
from tickets.service import Conflict, InvalidField, TicketError, TicketService
from tickets.store import Row, StaleTicket, Store

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

PAGE_SIZE = 50
PERSON_ID = re.compile(r"[\w.-]{1,64}")  # a staff number or a username: part of the ledger's URL
MAX_TEXT = 2000
MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
REVIEW_ROLES = (Role.SUPERVISOR, Role.ADMIN, Role.DEPARTMENT)


class ReviewNotFound(TicketError):
    """No such case, or not one the viewer may see."""

    code = "review_not_found"
    status = 404


class ReviewRefused(TicketError):
    """The case rules refuse the action (wrong order, final case, open appeal, ...)."""

    code = "review_refused"
    status = 409


def _case(row: Row) -> Case:
    return Case(
        department=row["department"],
        level=row["level"],
        rated_at=row["rated_at"],
        named=bool(row["named"]),
        contact_due=row["contact_due"],
        rectify_due=row["rectify_due"],
        status=Status(row["status"]),
        complex_case=bool(row["complex"]),
        appeal=Appeal(row["appeal"]),
        contacted_at=row["contacted_at"],
        rectified_at=row["rectified_at"],
        closed_at=row["closed_at"],
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _text(value: Any, field: str, *, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidField(f"{field} is required", field=field)
    if len(text) > MAX_TEXT:
        raise InvalidField(f"{field} is longer than {MAX_TEXT} characters", field=field)
    return text


@dataclass
class ReviewDesk:
    """Opens cases from bad ratings; applies case actions; keeps the person ledger."""

    store: Store
    tickets: TicketService
    consequences: Consequences = Consequences(DEFAULT_CONSEQUENCES)
    warn_share: float = 0.8

    # -- opening ---------------------------------------------------------------------

    async def __call__(self, event: DomainEvent) -> None:
        """Bus subscriber: a committed bad rating opens its case."""
        if (
            isinstance(event, TicketChanged)
            and event.action == "record_rating"
            and is_bad(str(event.payload.get("rating", "")))
        ):
            await self.open_missing(event.ticket_id)

    async def open_missing(self, ticket_id: int | None = None) -> list[int]:
        """Open a case for every bad rating that has none (one ticket's, or all: the start-up
        sweep that repairs a crash between the rating's commit and the case's)."""
        opened: list[int] = []
        async with self.store.write() as tx:
            for r in await rc.bad_ratings_without_case(tx, ticket_id):
                c = open_case(
                    self.tickets.calendar, r["department"], r["level"], r["rated_at"], r["named"]
                )
                case_id = await rc.insert_case(
                    tx,
                    {
                        "ticket_id": r["ticket_id"],
                        "department": c.department,
                        "level": c.level,
                        "rated_at": c.rated_at,
                        "named": c.named,
                        "status": c.status.value,
                        "complex": False,
                        "appeal": c.appeal.value,
                        "contact_due": c.contact_due,
                        "rectify_due": c.rectify_due,
                        "opened_at": c.rated_at,
                        "updated_at": c.rated_at,
                    },
                )
                if case_id is None:
                    continue
                state = State(r["ticket_state"])
                await tx.add_timeline(
                    r["ticket_id"],
                    TimelineEntry(
                        c.rated_at,
                        "system",
                        Role.SYSTEM,
                        "review_open",
                        state,
                        state,
                        "",
                        {
                            "case": case_id,
                            "department": c.department,
                            "contact_due": c.contact_due.isoformat(),
                            "rectify_due": c.rectify_due.isoformat(),
                        },
                    ),
                )
                opened.append(case_id)
        return opened

    # -- step warnings -----------------------------------------------------------------

    async def give_warnings(self) -> list[DeadlineWarning]:
        """Warn once per step before its deadline and once when it passes: a step of the
        case, a note on the ticket's timeline, and the same DeadlineWarning event the
        order deadlines use (the wallboard and the department's console hear it)."""
        now = self.tickets.clock()
        given: list[DeadlineWarning] = []
        async with self.store.write() as tx:
            rows = await rc.list_cases(tx, now, status="open", limit=100_000)
            seen = await rc.warnings_given(tx, [r["id"] for r in rows])
            for row in rows:
                case = _case(row)
                for kind in warnings_due(case, now, seen.get(row["id"], ()), self.warn_share):
                    due = case.contact_due if "_contact_" in kind else case.rectify_due
                    detail = {"kind": kind, "due_at": due.isoformat(), "case": row["id"]}
                    await rc.add_step(
                        tx,
                        {
                            "case_id": row["id"],
                            "at": now,
                            "actor": "deadline-watch",
                            "role": Role.SYSTEM.value,
                            "action": "warning",
                            "note": "",
                            "detail": detail,
                        },
                    )
                    state = State(row["ticket_state"])
                    await tx.add_timeline(
                        row["ticket_id"],
                        TimelineEntry(
                            now,
                            "deadline-watch",
                            Role.SYSTEM,
                            "review_warning",
                            state,
                            state,
                            "",
                            {**detail, "department": row["department"]},
                        ),
                    )
                    given.append(
                        DeadlineWarning(
                            at=now,
                            ticket_id=row["ticket_id"],
                            ticket_number=row["ticket_number"],
                            kind=kind,
                            due_at=due.isoformat(),
                            departments=(row["department"],) if row["department"] else (),
                        )
                    )
        for w in given:
            await self.tickets.bus.publish(w)
        return given

    async def run(self, interval: float = 60.0) -> None:
        """Forever (a background task of `hotline serve`): open missed cases, warn."""
        while True:
            try:
                await self.open_missing()
                await self.give_warnings()
            except Exception:
                log.exception("bad-review watch pass failed")
            await asyncio.sleep(interval)

    # -- reading ---------------------------------------------------------------------

    def _scope(self, viewer: Viewer) -> frozenset[str] | None:
        """Departments whose cases the viewer sees; None = all."""
        if viewer.role in MANAGERS:
            return None
        if viewer.role is Role.DEPARTMENT:
            return viewer.scope
        raise ApiError(403, "forbidden")

    def _sees(self, viewer: Viewer, row: Row) -> bool:
        scope = self._scope(viewer)
        return scope is None or row["department"] in scope

    def describe(self, row: Row, viewer: Viewer, now: datetime) -> dict[str, Any]:
        """A case as the API and the pages show it."""
        c = _case(row)
        flags = step_flags(c, now, self.warn_share)
        in_scope = row["department"] in viewer.scope if viewer.role is Role.DEPARTMENT else True
        return {
            "id": row["id"],
            "ticket": row["ticket_number"],
            "subject": row["ticket_subject"],
            "department": row["department"],
            "level": row["level"],
            "rated_at": _iso(row["rated_at"]),
            "named": c.named,
            "status": c.status.value,
            "complex": c.complex_case,
            "appeal": c.appeal.value,
            "contact_due": _iso(c.contact_due),
            "rectify_due": _iso(c.rectify_due),
            "contacted_at": _iso(c.contacted_at),
            "rectified_at": _iso(c.rectified_at),
            "closed_at": _iso(c.closed_at),
            "contact_overdue": flags.contact_overdue,
            "rectify_overdue": flags.rectify_overdue,
            "contact_due_soon": flags.contact_due_soon,
            "rectify_due_soon": flags.rectify_due_soon,
            "overdue": flags.overdue,
            "rating_excluded": bool(row["rating_excluded"]),
            "actions": [a.value for a in allowed(c, viewer.role, in_scope)],
        }

    async def cases(
        self, viewer: Viewer, *, limit: int = PAGE_SIZE, offset: int = 0, **filters: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """The cases the viewer may see, overdue first, and how many match."""
        now = self.tickets.clock()
        scope = self._scope(viewer)
        wanted = filters.pop("department", None)
        if wanted:
            scope = frozenset({wanted}) if scope is None else scope & {wanted}
        async with self.store.read() as tx:
            rows = await rc.list_cases(
                tx, now, departments=scope, limit=limit, offset=offset, **filters
            )
            count = await rc.count_cases(tx, now, departments=scope, **filters)
        return [self.describe(r, viewer, now) for r in rows], count

    async def detail(self, case_id: int, viewer: Viewer) -> dict[str, Any]:
        """One case with its steps and appeals."""
        now = self.tickets.clock()
        async with self.store.read() as tx:
            row = await rc.get_case(tx, case_id)
            if row is None or not self._sees(viewer, row):
                raise ReviewNotFound(f"no case {case_id}", case=case_id)
            steps = await rc.steps_of(tx, case_id)
            appeals = await rc.appeals_of(tx, case_id)
        out = self.describe(row, viewer, now)
        out["steps"] = [
            {
                "at": _iso(s["at"]),
                "actor": s["actor"],
                "role": s["role"],
                "action": s["action"],
                "note": s["note"],
            }
            for s in steps
        ]
        files = [s["detail"].get("attachments") or [] for s in steps if s["action"] == "appeal"]
        out["appeals"] = [
            {
                "attachments": files[i] if i < len(files) else [],
                "reason": a["reason"],
                "evidence": a["evidence"],
                "filed_by": a["filed_by"],
                "filed_at": _iso(a["filed_at"]),
                "decision": a["decision"],
                "decided_by": a["decided_by"],
                "decided_at": _iso(a["decided_at"]),
                "decision_reason": a["decision_reason"],
            }
            for i, a in enumerate(appeals)
        ]
        return out

    # -- acting ----------------------------------------------------------------------

    async def act(
        self,
        case_id: int,
        viewer: Viewer,
        action: CaseAction,
        *,
        note: str,
        evidence: str = "",
        complex_case: bool | None = None,
        attachments: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """Apply one action; the step, the ticket's timeline, the audit line and (uphold)
        the rating's exclusion from the figures commit together. An appeal may carry
        evidence files already stored (`attachments`: name, content_type, size, ref)."""
        note = _text(note, "note", required=False)
        evidence = _text(evidence, "evidence", required=False)
        if attachments and action is not CaseAction.APPEAL:
            raise InvalidField("only an appeal carries evidence files", field="files")
        for _attempt in range(3):
            now = self.tickets.clock()
            try:
                async with self.store.write() as tx:
                    row = await rc.get_case(tx, case_id)
                    if row is None or not self._sees(viewer, row):
                        raise ReviewNotFound(f"no case {case_id}", case=case_id)
                    in_scope = viewer.role is not Role.DEPARTMENT or (
                        row["department"] in viewer.scope
                    )
                    step = CaseStep(
                        action, viewer.role, viewer.username, now, note, in_scope, complex_case
                    )
                    try:
                        after = apply(_case(row), step, self.tickets.calendar)
                    except CaseError as e:
                        if e.code in ("role", "scope"):
                            raise ApiError(403, "forbidden") from e
                        if e.field:
                            raise InvalidField(str(e), field=e.field) from e
                        raise ReviewRefused(str(e), rule=e.code) from e
                    await self._write(tx, row, after, step, evidence, list(attachments))
                break
            except StaleTicket:
                continue
        else:
            raise Conflict("the case is being changed by someone else; try again")
        return await self.detail(case_id, viewer)

    async def _write(
        self,
        tx: Any,
        row: Row,
        after: Case,
        step: CaseStep,
        evidence: str,
        attachments: list[dict[str, Any]],
    ) -> None:
        a, now = step.action, step.at
        await rc.update_case(
            tx,
            row["id"],
            row["version"],
            {
                "status": after.status.value,
                "complex": after.complex_case,
                "appeal": after.appeal.value,
                "rectify_due": after.rectify_due,
                "contacted_at": after.contacted_at,
                "rectified_at": after.rectified_at,
                "closed_at": after.closed_at,
                "updated_at": now,
            },
        )
        detail: dict[str, Any] = {"case": row["id"], "status": after.status.value}
        if a is CaseAction.SET_COMPLEX:
            detail.update(complex=after.complex_case, rectify_due=after.rectify_due.isoformat())
        if a is CaseAction.APPEAL:
            detail["evidence"] = evidence
            if attachments:
                # On the ticket's timeline too: whoever may see the ticket may open them.
                detail["attachments"] = attachments
            await rc.add_appeal(
                tx,
                {
                    "case_id": row["id"],
                    "department": row["department"],
                    "reason": step.note.strip(),
                    "evidence": evidence,
                    "filed_by": step.actor,
                    "filed_at": now,
                    "decision": "open",
                },
            )
        if a in (CaseAction.UPHOLD, CaseAction.REJECT):
            await rc.decide_appeal(
                tx,
                row["id"],
                {
                    "decision": after.appeal.value,
                    "decided_by": step.actor,
                    "decided_at": now,
                    "decision_reason": step.note.strip(),
                },
            )
        if a is CaseAction.UPHOLD:
            # The rating leaves the department's figures, with the reason on record.
            await tx.update_ticket(
                row["ticket_id"],
                row["ticket_version"],
                {"rating_excluded": True, "updated_at": now},
            )
            detail["rating_excluded"] = True
        await rc.add_step(
            tx,
            {
                "case_id": row["id"],
                "at": now,
                "actor": step.actor,
                "role": step.role.value,
                "action": a.value,
                "note": step.note.strip(),
                "detail": detail,
            },
        )
        state = State(row["ticket_state"])
        await tx.add_timeline(
            row["ticket_id"],
            TimelineEntry(
                now,
                step.actor,
                step.role,
                f"review_{a.value}",
                state,
                state,
                step.note.strip(),
                {**detail, "department": row["department"]},
            ),
        )
        await tx.add_audit(
            {
                "at": now,
                "username": step.actor,
                "role": step.role.value,
                "action": f"review_{a.value}",
                "ticket_id": row["ticket_id"],
                "reason": step.note.strip(),
                "detail": detail,
            }
        )

    # -- the followed-up figure ------------------------------------------------------

    async def followed_sql(self, start: datetime, end: datetime) -> dict[str | None, Followed]:
        """ "Named bad reviews followed up" per department, by the SQL aggregate."""
        async with self.store.read() as tx:
            per = await rc.followed_up(tx, start, end)
        return {d: Followed(f, n) for d, (f, n) in per.items()}

    async def followed_pure(self, start: datetime, end: datetime) -> dict[str | None, Followed]:
        """The same figure from each case (drill-down, and the check on the SQL)."""
        async with self.store.read() as tx:
            rows = await rc.list_cases(
                tx, self.tickets.clock(), start=start, end=end, limit=1_000_000
            )
        return followed_up((_case(r) for r in rows), start, end)

    # -- the person ledger -----------------------------------------------------------

    def today(self) -> date:
        """The center's local date."""
        return self.tickets.clock().astimezone(ZoneInfo(self.tickets.timezone)).date()

    async def record_complaint(self, viewer: Viewer, body: dict[str, Any]) -> dict[str, Any]:
        """A supervisor records a complaint against a named staff member."""
        if viewer.role is not Role.SUPERVISOR:
            raise ApiError(403, "forbidden")
        person_id = _text(body.get("person_id"), "person_id", required=True)
        if not PERSON_ID.fullmatch(person_id):
            raise InvalidField("letters, digits, '.', '_' or '-', at most 64", field="person_id")
        person_name = _text(body.get("person_name"), "person_name", required=True)[:100]
        department = str(body.get("department") or "").strip() or None
        if department is not None and department not in self.tickets.tree:
            raise InvalidField(f"unknown department {department!r}", field="department")
        number = _text(body.get("ticket"), "ticket", required=True)
        verdict = _verdict(body.get("verdict"))
        note = _text(body.get("note"), "note", required=False)
        raw_day = str(body.get("occurred_on") or "").strip()
        try:
            occurred = date.fromisoformat(raw_day) if raw_day else self.today()
        except ValueError:
            raise InvalidField("a date YYYY-MM-DD", field="occurred_on") from None
        if occurred > self.today():
            raise InvalidField("the date is in the future", field="occurred_on")
        now = self.tickets.clock()
        async with self.store.write() as tx:
            ticket = await tx.ticket(number=number)
            if ticket is None:
                raise InvalidField(f"no ticket {number}", field="ticket")
            complaint_id = await rc.add_complaint(
                tx,
                {
                    "person_id": person_id,
                    "person_name": person_name,
                    "department": department,
                    "ticket_id": ticket["id"],
                    "occurred_on": occurred,
                    "verdict": verdict.value,
                    "note": note,
                    "recorded_by": viewer.username,
                    "recorded_at": now,
                    "updated_at": now,
                },
            )
            state = State(ticket["state"])
            detail = {"complaint": complaint_id, "person_id": person_id, "verdict": verdict.value}
            await tx.add_timeline(
                ticket["id"],
                TimelineEntry(
                    now,
                    viewer.username,
                    viewer.role,
                    "ledger_complaint",
                    state,
                    state,
                    note,
                    detail,
                ),
            )
            await tx.add_audit(
                {
                    "at": now,
                    "username": viewer.username,
                    "role": viewer.role.value,
                    "action": "ledger_complaint",
                    "ticket_id": ticket["id"],
                    "reason": note,
                    "detail": detail,
                }
            )
        return {"id": complaint_id, "person_id": person_id, "verdict": verdict.value}

    async def set_verdict(
        self, viewer: Viewer, complaint_id: int, verdict_raw: Any, note_raw: Any
    ) -> dict[str, Any]:
        """The verification's outcome changes a complaint's verdict (with a note)."""
        if viewer.role is not Role.SUPERVISOR:
            raise ApiError(403, "forbidden")
        verdict = _verdict(verdict_raw)
        note = _text(note_raw, "note", required=True)
        now = self.tickets.clock()
        async with self.store.write() as tx:
            found = await rc.complaint(tx, complaint_id)
            if found is None:
                raise ReviewNotFound(f"no complaint {complaint_id}", case=complaint_id)
            await rc.set_verdict(
                tx, complaint_id, {"verdict": verdict.value, "note": note, "updated_at": now}
            )
            await tx.add_audit(
                {
                    "at": now,
                    "username": viewer.username,
                    "role": viewer.role.value,
                    "action": "ledger_verdict",
                    "ticket_id": found["ticket_id"],
                    "reason": note,
                    "detail": {
                        "complaint": complaint_id,
                        "from": found["verdict"],
                        "to": verdict.value,
                    },
                }
            )
        return {"id": complaint_id, "verdict": verdict.value}

    async def ledger(self, viewer: Viewer, on: date | None = None) -> dict[str, Any]:
        """Per person: valid complaints in the rolling two years and the consequence."""
        if viewer.role not in MANAGERS:
            raise ApiError(403, "forbidden")
        day = on or self.today()
        async with self.store.read() as tx:
            rows = await rc.complaints(tx, until=day)
        lines = ledger((_complaint(r) for r in rows), day, self.consequences)
        return {
            "on": day.isoformat(),
            "window_start": window_start(day).isoformat(),
            "consequences": [
                {"from": n, "consequence": key} for n, key in self.consequences.rows()
            ],
            "people": [
                {
                    "person_id": p.person_id,
                    "person_name": p.person_name,
                    "department": p.department,
                    "valid": p.valid,
                    "recorded": p.recorded,
                    "consequence": p.consequence,
                }
                for p in lines
            ],
        }

    async def person(
        self, viewer: Viewer, person_id: str, on: date | None = None
    ) -> dict[str, Any]:
        """One person's complaints, each marked whether it counts today."""
        if viewer.role not in MANAGERS:
            raise ApiError(403, "forbidden")
        day = on or self.today()
        lo = window_start(day)
        async with self.store.read() as tx:
            rows = await rc.complaints(tx, person_id=person_id)
        if not rows:
            raise ReviewNotFound(f"no complaints against {person_id}", case=person_id)
        counted = [r for r in rows if r["verdict"] == "valid" and lo <= r["occurred_on"] <= day]
        return {
            "on": day.isoformat(),
            "window_start": lo.isoformat(),
            "person_id": person_id,
            "person_name": rows[0]["person_name"],
            "department": rows[0]["department"],
            "valid": len(counted),
            "consequence": consequence(self.consequences, len(counted)),
            "complaints": [
                {
                    "id": r["id"],
                    "ticket": r["ticket_number"],
                    "occurred_on": r["occurred_on"].isoformat(),
                    "verdict": r["verdict"],
                    "note": r["note"],
                    "department": r["department"],
                    "recorded_by": r["recorded_by"],
                    "counts": r in counted,
                }
                for r in rows
            ],
        }


def _verdict(raw: Any) -> Verdict:
    try:
        return Verdict(str(raw or "pending"))
    except ValueError:
        raise InvalidField("pending, valid or invalid", field="verdict") from None


def _complaint(r: Row) -> Complaint:
    return Complaint(
        r["person_id"], r["person_name"], r["department"], r["occurred_on"], Verdict(r["verdict"])
    )


EVIDENCE_RULES = RESULT_RULES  # photos and PDFs, as a department's result carries


def _evidence(form: Any) -> list[tuple[str, str, bytes]]:
    """The evidence files of an appeal form, each checked by type, size and first bytes."""
    out: list[tuple[str, str, bytes]] = []
    total = 0
    for f in form.getall("files", []):
        if not isinstance(f, FileField) or not f.filename:
            continue
        name, data = f.filename, f.file.read()
        ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        why = EVIDENCE_RULES.rejection(name, len(data), len(out), total)
        if why is not None or not data.startswith(MAGIC.get(ext, (b"\0\0\0\0\0\0",))):
            raise InvalidField(f"{name}: photos or PDF, at most 6 files of 10 MB", field="files")
        out.append((name, CONTENT_TYPES[ext], data))
        total += len(data)
    return out


async def _store_evidence(request: web.Request, form: Any) -> list[dict[str, Any]]:
    files = _evidence(form)
    if not files:
        return []
    root = services(request).files
    if root is None:
        raise InvalidField("this center keeps no files", field="files")
    saved = await FileStore(root.root, EVIDENCE_RULES).save_all(files)
    return [
        {"name": a.name, "content_type": a.content_type, "size": a.size, "ref": a.ref}
        for a in saved
    ]


DESK = web.AppKey("review_desk", ReviewDesk)


def desk_of(request: web.Request) -> ReviewDesk:
    """The center's desk (set by the composition root), or one over the app's services."""
    if DESK in request.app:
        return request.app[DESK]
    svc = services(request)
    return ReviewDesk(svc.store, svc.tickets)


# -- query parsing ------------------------------------------------------------------------


STATUS_FILTERS = ("open", *(s.value for s in Status))


def _period(request: web.Request) -> tuple[date | None, date | None]:
    q = request.query
    try:
        start = date.fromisoformat(q["start"]) if q.get("start") else None
    except ValueError:
        raise field_error("start", "YYYY-MM-DD", locale_of(request)) from None
    try:
        end = date.fromisoformat(q["end"]) if q.get("end") else None
    except ValueError:
        raise field_error("end", "YYYY-MM-DD", locale_of(request)) from None
    if start and end and end <= start:
        raise field_error("end", "after start", locale_of(request))
    return start, end


def _instant(request: web.Request, day: date | None) -> datetime | None:
    if day is None:
        return None
    tz = ZoneInfo(services(request).tickets.timezone)
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _filters(request: web.Request) -> dict[str, Any]:
    q = request.query
    locale = locale_of(request)
    status = q.get("status", "")
    if status and status not in STATUS_FILTERS:
        raise field_error("status", "|".join(STATUS_FILTERS), locale)
    appeal = q.get("appeal", "")
    if appeal and appeal not in {a.value for a in Appeal}:
        raise field_error("appeal", "|".join(a.value for a in Appeal), locale)
    named = q.get("named", "")
    if named not in ("", "1", "0"):
        raise field_error("named", "1 or 0", locale)
    department = q.get("department", "")
    if department and department not in services(request).tickets.tree:
        raise field_error("department", "unknown department", locale)
    start, end = _period(request)
    return {
        "status": status or None,
        "appeal": appeal or None,
        "named": None if named == "" else named == "1",
        "overdue_only": q.get("overdue") == "1",
        "department": department or None,
        "start": _instant(request, start),
        "end": _instant(request, end),
    }


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


async def _viewer(request: web.Request, *roles: Role, unsafe: bool = False) -> Viewer:
    _, viewer = await signed_in(request, unsafe=unsafe)
    require_role(viewer, *roles, locale=locale_of(request))
    return viewer


def _case_id(request: web.Request) -> int:
    try:
        return int(request.match_info["case_id"])
    except ValueError:
        raise ReviewNotFound("no such case") from None


def _action(raw: str, locale: str) -> CaseAction:
    try:
        return CaseAction(raw)
    except ValueError:
        raise field_error("action", "|".join(a.value for a in CaseAction), locale) from None


def _complex_flag(raw: Any) -> bool | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    return str(raw).lower() in ("1", "true", "on", "yes")


def _figure_rows(
    request: web.Request, per: dict[str | None, Followed], locale: str
) -> list[dict[str, Any]]:
    name = services(request).tickets.tree.name
    rows = [
        {
            "department": d,
            "name": name(d, locale) if d else "—",
            "followed": f.followed,
            "total": f.total,
            "rate": None if f.rate is None else round(100 * f.rate, 1),
        }
        for d, f in per.items()
    ]
    return sorted(rows, key=lambda r: (r["rate"] if r["rate"] is not None else 101, r["name"]))


def _default_period(request: web.Request) -> tuple[date, date]:
    tz = ZoneInfo(services(request).tickets.timezone)
    today = services(request).tickets.clock().astimezone(tz).date()
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


# -- JSON API -----------------------------------------------------------------------------


@routes.get("/api/v1/reviews")
async def reviews_api(request: web.Request) -> web.Response:
    """Bad-review cases the viewer may see, overdue first; filters as query parameters."""
    viewer = await _viewer(request, *REVIEW_ROLES)
    page = _page_number(request)
    items, count = await desk_of(request).cases(
        viewer, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **_filters(request)
    )
    return web.json_response({"total": count, "page": page, "cases": items})


@routes.get("/api/v1/reviews/followed")
async def followed_api(request: web.Request) -> web.Response:
    """The "named bad reviews followed up" figure per department for a period."""
    viewer = await _viewer(request, *MANAGERS)
    del viewer
    start, end = _period(request)
    if start is None or end is None:
        start, end = _default_period(request)
    lo, hi = _instant(request, start), _instant(request, end)
    assert lo is not None and hi is not None
    desk = desk_of(request)
    source = request.query.get("source", "sql")
    if source not in ("sql", "pure"):
        raise field_error("source", "sql or pure", locale_of(request))
    per = await (desk.followed_sql(lo, hi) if source == "sql" else desk.followed_pure(lo, hi))
    wanted = request.query.get("department")
    if wanted:
        per = {d: f for d, f in per.items() if d == wanted}
    all_ = total(per)
    return web.json_response(
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "source": source,
            "followed": all_.followed,
            "total": all_.total,
            "rate": all_.rate,
            "departments": _figure_rows(request, per, locale_of(request)),
        }
    )


@routes.get("/api/v1/reviews/{case_id}")
async def review_api(request: web.Request) -> web.Response:
    """One case with its steps and appeals."""
    viewer = await _viewer(request, *REVIEW_ROLES)
    return web.json_response(await desk_of(request).detail(_case_id(request), viewer))


@routes.post("/api/v1/reviews/{case_id}/{action}")
async def review_act_api(request: web.Request) -> web.Response:
    """contact / rectify / close / set_complex / appeal / uphold / reject, with a note."""
    viewer = await _viewer(request, *REVIEW_ROLES, unsafe=True)
    locale = locale_of(request)
    action = _action(request.match_info["action"], locale)
    attachments: list[dict[str, Any]] = []
    if request.content_type == "multipart/form-data":  # an appeal with evidence files
        form = await request.post()
        body: dict[str, Any] = {k: form.get(k) for k in ("note", "evidence", "complex")}
        if action is CaseAction.APPEAL:
            attachments = await _store_evidence(request, form)
        elif _evidence(form):
            raise InvalidField("only an appeal carries evidence files", field="files")
    else:
        body = await json_body(request)
    case = await desk_of(request).act(
        _case_id(request),
        viewer,
        action,
        note=str(body.get("note") or ""),
        evidence=str(body.get("evidence") or ""),
        complex_case=_complex_flag(body.get("complex")),
        attachments=attachments,
    )
    return web.json_response(case)


@routes.get("/api/v1/ledger")
async def ledger_api(request: web.Request) -> web.Response:
    """The person ledger on a day (default today): counts over the rolling two years."""
    viewer = await _viewer(request, *MANAGERS)
    return web.json_response(await desk_of(request).ledger(viewer, _on(request)))


@routes.post("/api/v1/ledger/complaints")
async def complaint_api(request: web.Request) -> web.Response:
    """Record a complaint against a person (supervisors)."""
    viewer = await _viewer(request, Role.SUPERVISOR, unsafe=True)
    body = await json_body(request)
    return web.json_response(await desk_of(request).record_complaint(viewer, body), status=201)


@routes.put("/api/v1/ledger/complaints/{complaint_id}")
async def verdict_api(request: web.Request) -> web.Response:
    """Change a complaint's verdict after verification (supervisors)."""
    viewer = await _viewer(request, Role.SUPERVISOR, unsafe=True)
    body = await json_body(request)
    try:
        complaint_id = int(request.match_info["complaint_id"])
    except ValueError:
        raise ReviewNotFound("no such complaint") from None
    out = await desk_of(request).set_verdict(
        viewer, complaint_id, body.get("verdict"), body.get("note")
    )
    return web.json_response(out)


@routes.get("/api/v1/ledger/{person_id}")
async def person_api(request: web.Request) -> web.Response:
    """One person's complaints."""
    viewer = await _viewer(request, *MANAGERS)
    out = await desk_of(request).person(viewer, request.match_info["person_id"], _on(request))
    return web.json_response(out)


def _on(request: web.Request) -> date | None:
    raw = request.query.get("on")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise field_error("on", "YYYY-MM-DD", locale_of(request)) from None


# -- pages --------------------------------------------------------------------------------


def _redirect(path: str, **query: str) -> web.HTTPFound:
    return web.HTTPFound(path + ("?" + urlencode(query) if query else ""))


@routes.get("/reviews")
async def reviews_page(request: web.Request) -> web.Response:
    """The 3-5-15 list: supervisors see all, a department its own; overdue first."""
    session, viewer = await signed_in(request)
    locale = locale_of(request)
    require_role(viewer, *REVIEW_ROLES, locale=locale)
    desk = desk_of(request)
    filters = _filters(request)
    page = _page_number(request)
    items, count = await desk.cases(
        viewer, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **dict(filters)
    )
    # Headline counts over everything the viewer is responsible for, whatever the filters.
    now_open = await desk.cases(viewer, limit=1, status="open")
    overdue = await desk.cases(viewer, limit=1, status="open", overdue_only=True)
    appeals = await desk.cases(viewer, limit=1, appeal="open")
    start, end = _period(request)
    fig_start, fig_end = (start, end) if start and end else _default_period(request)
    lo, hi = _instant(request, fig_start), _instant(request, fig_end)
    assert lo is not None and hi is not None
    per = await desk.followed_sql(lo, hi)
    if viewer.role is Role.DEPARTMENT:
        per = {d: f for d, f in per.items() if d in viewer.scope}
    q = request.query
    keep = {
        k: q[k]
        for k in ("status", "appeal", "named", "overdue", "department", "start", "end")
        if q.get(k)
    }
    tree = services(request).tickets.tree
    return aiohttp_jinja2.render_template(
        "reviews.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            items=items,
            total=count,
            page=page,
            pages=max(1, (count + PAGE_SIZE - 1) // PAGE_SIZE),
            page_query=lambda p: "?" + urlencode({**keep, "page": p}),
            q=q,
            statuses=list(STATUS_FILTERS),
            appeals=[a.value for a in Appeal if a is not Appeal.NONE],
            departments=[d for d in tree.by_code.values() if d.kind in ("city", "district")]
            if viewer.role is not Role.DEPARTMENT
            else [],
            open_count=now_open[1],
            overdue_count=overdue[1],
            appeal_count=appeals[1],
            figure=total(per),
            figure_rows=_figure_rows(request, per, locale),
            fig_start=fig_start.isoformat(),
            fig_end=fig_end.isoformat(),
            flash=q.get("flash"),
        ),
    )


@routes.get("/reviews/{case_id}")
async def review_page(request: web.Request) -> web.Response:
    """One case: the clock, the steps, the appeals and what the viewer may do now."""
    session, viewer = await signed_in(request)
    require_role(viewer, *REVIEW_ROLES, locale=locale_of(request))
    case = await desk_of(request).detail(_case_id(request), viewer)
    return aiohttp_jinja2.render_template(
        "reviews_case.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            c=case,
            flash=request.query.get("flash"),
            error=request.query.get("error"),
        ),
    )


@routes.post("/reviews/{case_id}")
async def review_form(request: web.Request) -> web.Response:
    """A form post of one case action; a refusal shows on the case page, nothing is lost."""
    _, viewer = await signed_in(request, unsafe=True)
    locale = locale_of(request)
    require_role(viewer, *REVIEW_ROLES, locale=locale)
    case_id = _case_id(request)
    form = await request.post()
    action = _action(str(form.get("action", "")), locale)
    path = f"/reviews/{case_id}"
    try:
        attachments = await _store_evidence(request, form) if action is CaseAction.APPEAL else []
        await desk_of(request).act(
            case_id,
            viewer,
            action,
            note=str(form.get("note", "")),
            evidence=str(form.get("evidence", "")),
            complex_case=_complex_flag(form.get("complex")),
            attachments=attachments,
        )
    except (InvalidField, ReviewRefused) as e:
        key = f"review.err.{e.details.get('field') or e.details.get('rule') or 'order'}"
        raise _redirect(path, error=t(key, locale)) from None
    raise _redirect(
        path, flash=t("review.done", locale, action=t(f"review.a.{action.value}", locale))
    )


@routes.get("/ledger")
async def ledger_page(request: web.Request) -> web.Response:
    """The person ledger with the consequences table and the form to record a complaint."""
    session, viewer = await signed_in(request)
    require_role(viewer, *MANAGERS, locale=locale_of(request))
    data = await desk_of(request).ledger(viewer, _on(request))
    tree = services(request).tickets.tree
    return aiohttp_jinja2.render_template(
        "ledger.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            l=data,
            departments=list(tree.by_code.values()),
            can_record=viewer.role is Role.SUPERVISOR,
            flash=request.query.get("flash"),
            error=request.query.get("error"),
            today=desk_of(request).today().isoformat(),
        ),
    )


@routes.post("/ledger")
async def ledger_form(request: web.Request) -> web.Response:
    """Record a complaint from the form."""
    _, viewer = await signed_in(request, unsafe=True)
    locale = locale_of(request)
    require_role(viewer, Role.SUPERVISOR, locale=locale)
    form = await request.post()
    body = {
        k: str(form.get(k, ""))
        for k in (
            "person_id",
            "person_name",
            "department",
            "ticket",
            "verdict",
            "note",
            "occurred_on",
        )
    }
    try:
        out = await desk_of(request).record_complaint(viewer, body)
    except InvalidField as e:
        field = str(e.details.get("field", ""))
        raise _redirect(
            "/ledger",
            error=t("ledger.err", locale, field=t(f"ledger.f.{field}", locale), detail=str(e)),
        ) from None
    raise _redirect(f"/ledger/{out['person_id']}", flash=t("ledger.recorded", locale))


@routes.get("/ledger/{person_id}")
async def person_page(request: web.Request) -> web.Response:
    """One person's complaints: which count in the window, and the verdicts."""
    session, viewer = await signed_in(request)
    require_role(viewer, *MANAGERS, locale=locale_of(request))
    desk = desk_of(request)
    data = await desk.person(viewer, request.match_info["person_id"], _on(request))
    return aiohttp_jinja2.render_template(
        "ledger_person.html",
        request,
        page_context(
            request,
            user=session.user,
            csrf_token=session.csrf_token,
            p=data,
            table=desk.consequences.rows(),
            can_record=viewer.role is Role.SUPERVISOR,
            flash=request.query.get("flash"),
            error=request.query.get("error"),
        ),
    )


@routes.post("/ledger/{person_id}/verdict")
async def verdict_form(request: web.Request) -> web.Response:
    """Change a complaint's verdict from the person's page."""
    _, viewer = await signed_in(request, unsafe=True)
    locale = locale_of(request)
    require_role(viewer, Role.SUPERVISOR, locale=locale)
    form = await request.post()
    path = f"/ledger/{request.match_info['person_id']}"
    try:
        complaint_id = int(str(form.get("complaint", "")))
    except ValueError:
        raise _redirect(path, error=t("ledger.err", locale, field="complaint", detail="")) from None
    try:
        await desk_of(request).set_verdict(
            viewer, complaint_id, form.get("verdict"), form.get("note")
        )
    except InvalidField as e:
        field = str(e.details.get("field", ""))
        raise _redirect(
            path, error=t("ledger.err", locale, field=t(f"ledger.f.{field}", locale), detail=str(e))
        ) from None
    raise _redirect(path, flash=t("ledger.verdict_saved", locale))
