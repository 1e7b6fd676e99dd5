"""Bad-review cases, their steps and appeals, and the person ledger: the store side.

Every statement here runs inside a unit of work the caller opened (`Store.read()` or
`Store.write()`), so a case's step, its timeline note, the audit line and an upheld
appeal's `tickets.rating_excluded` commit together or not at all. The rules (what may
happen to a case) live above, in `reports.bad_reviews`; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from tickets.store import Row, StaleTicket, Tx
from tickets.tables import (
    citizens,
    ledger_complaints,
    ratings,
    review_appeals,
    review_cases,
    review_steps,
    tickets,
)

__all__ = [
    "BAD_LEVELS",
    "CASE_COLUMNS",
    "StaleCase",
    "add_appeal",
    "add_complaint",
    "add_step",
    "appeals_of",
    "bad_ratings_without_case",
    "complaint",
    "complaints",
    "count_cases",
    "decide_appeal",
    "followed_up",
    "get_case",
    "insert_case",
    "list_cases",
    "set_verdict",
    "steps_of",
    "update_case",
    "valid_counts",
    "warnings_given",
]

BAD_LEVELS = ("dissatisfied", "very_dissatisfied")
FINAL_STATUSES = ("done", "appeal_upheld")

CASE_COLUMNS = (
    *review_cases.c,
    tickets.c.number.label("ticket_number"),
    tickets.c.subject.label("ticket_subject"),
    tickets.c.state.label("ticket_state"),
    tickets.c.version.label("ticket_version"),
    tickets.c.rating_excluded.label("rating_excluded"),
)


class StaleCase(StaleTicket):
    """The case changed between read and write (optimistic lock lost)."""


# -- cases ------------------------------------------------------------------------


async def bad_ratings_without_case(tx: Tx, ticket_id: int | None = None) -> list[Row]:
    """Bad ratings that have no case yet (all, or of one ticket), oldest first.

    `named` is whether the ticket's citizen gave a name: 实名 bad reviews are the ones the
    followed-up figure counts.
    """
    q = (
        select(
            ratings.c.ticket_id,
            ratings.c.level,
            ratings.c.rated_at,
            func.coalesce(ratings.c.department, tickets.c.lead_department).label("department"),
            citizens.c.name.label("citizen_name"),
            tickets.c.state.label("ticket_state"),
        )
        .join(tickets, tickets.c.id == ratings.c.ticket_id)
        .outerjoin(citizens, citizens.c.id == tickets.c.citizen_id)
        .outerjoin(
            review_cases,
            and_(
                review_cases.c.ticket_id == ratings.c.ticket_id,
                review_cases.c.rated_at == ratings.c.rated_at,
            ),
        )
        .where(ratings.c.level.in_(BAD_LEVELS), review_cases.c.id.is_(None))
        .order_by(ratings.c.rated_at, ratings.c.id)
    )
    if ticket_id is not None:
        q = q.where(ratings.c.ticket_id == ticket_id)
    rows = [dict(r) for r in (await tx.conn.execute(q)).mappings()]
    for r in rows:
        r["named"] = bool((r.pop("citizen_name") or "").strip())
    return rows


async def insert_case(tx: Tx, values: Mapping[str, Any]) -> int | None:
    """Open a case; None if the rating already has one (two openers raced)."""
    mod = postgresql if tx.dialect == "postgresql" else sqlite
    stmt = (
        mod.insert(review_cases)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["ticket_id", "rated_at"])
        .returning(review_cases.c.id)
    )
    found = (await tx.conn.execute(stmt)).scalar_one_or_none()
    return None if found is None else int(found)


def _joined() -> Any:
    return select(*CASE_COLUMNS).join(tickets, tickets.c.id == review_cases.c.ticket_id)


async def get_case(tx: Tx, case_id: int) -> Row | None:
    """One case with its ticket's number, subject, state and version."""
    row = (await tx.conn.execute(_joined().where(review_cases.c.id == case_id))).mappings().first()
    return dict(row) if row else None


async def update_case(
    tx: Tx, case_id: int, expected_version: int, values: Mapping[str, Any]
) -> None:
    """Write `values` if nobody changed the case since it was read at `expected_version`."""
    stmt = (
        review_cases.update()
        .where(review_cases.c.id == case_id, review_cases.c.version == expected_version)
        .values(**values, version=expected_version + 1)
    )
    if (await tx.conn.execute(stmt)).rowcount != 1:
        raise StaleCase(f"case {case_id} changed concurrently")


def _overdue(now: datetime) -> Any:
    """SQL twin of `reports.bad_reviews.step_flags(...).overdue`."""
    c = review_cases.c
    contact_late = or_(
        and_(c.contacted_at.is_(None), c.contact_due <= now), c.contacted_at > c.contact_due
    )
    rectify_late = or_(
        and_(c.rectified_at.is_(None), c.rectify_due <= now), c.rectified_at > c.rectify_due
    )
    upheld_late = or_(c.contacted_at > c.contact_due, c.rectified_at > c.rectify_due)
    return case(
        (c.status == "appeal_upheld", func.coalesce(upheld_late, literal(False))),
        else_=or_(contact_late, rectify_late),
    )


def _filtered(
    q: Any,
    *,
    departments: Collection[str] | None,
    status: str | None,
    appeal: str | None,
    named: bool | None,
    overdue_only: bool,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> Any:
    c = review_cases.c
    if departments is not None:
        q = q.where(c.department.in_(list(departments)))
    if status == "open":
        q = q.where(c.status.not_in(FINAL_STATUSES))
    elif status:
        q = q.where(c.status == status)
    if appeal:
        q = q.where(c.appeal == appeal)
    if named is not None:
        q = q.where(c.named.is_(named))
    if overdue_only:
        q = q.where(_overdue(now))
    if start is not None:
        q = q.where(c.rated_at >= start)
    if end is not None:
        q = q.where(c.rated_at < end)
    return q


async def list_cases(
    tx: Tx,
    now: datetime,
    *,
    departments: Collection[str] | None = None,
    status: str | None = None,
    appeal: str | None = None,
    named: bool | None = None,
    overdue_only: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Row]:
    """Cases matching the filters: overdue open ones first, then open, then closed; within
    each group the nearest contact deadline first. `departments=None` means all."""
    c = review_cases.c
    q = _filtered(
        _joined(),
        departments=departments,
        status=status,
        appeal=appeal,
        named=named,
        overdue_only=overdue_only,
        start=start,
        end=end,
        now=now,
    )
    final = c.status.in_(FINAL_STATUSES)
    rank = case((final, 2), (_overdue(now), 0), else_=1)
    q = q.order_by(rank, c.contact_due, c.id).limit(limit).offset(offset)
    return [dict(r) for r in (await tx.conn.execute(q)).mappings()]


async def count_cases(
    tx: Tx,
    now: datetime,
    *,
    departments: Collection[str] | None = None,
    status: str | None = None,
    appeal: str | None = None,
    named: bool | None = None,
    overdue_only: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """How many cases `list_cases` would page through."""
    q = _filtered(
        select(func.count()).select_from(review_cases),
        departments=departments,
        status=status,
        appeal=appeal,
        named=named,
        overdue_only=overdue_only,
        start=start,
        end=end,
        now=now,
    )
    return int((await tx.conn.execute(q)).scalar_one())


async def followed_up(tx: Tx, start: datetime, end: datetime) -> dict[str | None, tuple[int, int]]:
    """Per department (contacted, all) over named cases rated in [start, end), leaving out
    cases closed as 申诉成立: the SQL twin of `reports.bad_reviews.followed_up`."""
    c = review_cases.c
    q = (
        select(c.department, func.count(c.contacted_at), func.count())
        .where(
            c.named.is_(True),
            c.status != "appeal_upheld",
            c.rated_at >= start,
            c.rated_at < end,
        )
        .group_by(c.department)
    )
    return {d: (int(f), int(t)) for d, f, t in (await tx.conn.execute(q)).all()}


# -- steps and appeals ------------------------------------------------------------------


async def add_step(tx: Tx, values: Mapping[str, Any]) -> None:
    """Record who did which step when, and why."""
    await tx.conn.execute(review_steps.insert().values(**values))


async def steps_of(tx: Tx, case_id: int) -> list[Row]:
    """A case's steps in order."""
    q = select(review_steps).where(review_steps.c.case_id == case_id).order_by(review_steps.c.id)
    return [dict(r) for r in (await tx.conn.execute(q)).mappings()]


async def warnings_given(tx: Tx, case_ids: Collection[int]) -> dict[int, set[str]]:
    """The step warnings already given, per case (recorded as steps of action "warning")."""
    if not case_ids:
        return {}
    q = select(review_steps.c.case_id, review_steps.c.detail).where(
        review_steps.c.case_id.in_(list(case_ids)), review_steps.c.action == "warning"
    )
    out: dict[int, set[str]] = {}
    for case_id, detail in (await tx.conn.execute(q)).all():
        out.setdefault(int(case_id), set()).add(str(detail.get("kind")))
    return out


async def add_appeal(tx: Tx, values: Mapping[str, Any]) -> int:
    """File an appeal (申诉)."""
    stmt = review_appeals.insert().values(**values).returning(review_appeals.c.id)
    return int((await tx.conn.execute(stmt)).scalar_one())


async def decide_appeal(tx: Tx, case_id: int, values: Mapping[str, Any]) -> None:
    """Record the re-check (复核) of the case's open appeal."""
    stmt = (
        review_appeals.update()
        .where(review_appeals.c.case_id == case_id, review_appeals.c.decision == "open")
        .values(**values)
    )
    if (await tx.conn.execute(stmt)).rowcount != 1:
        raise StaleCase(f"case {case_id} has no open appeal")


async def appeals_of(tx: Tx, case_id: int) -> list[Row]:
    """A case's appeals in order."""
    q = (
        select(review_appeals)
        .where(review_appeals.c.case_id == case_id)
        .order_by(review_appeals.c.id)
    )
    return [dict(r) for r in (await tx.conn.execute(q)).mappings()]


# -- the person ledger --------------------------------------------------------------------


async def add_complaint(tx: Tx, values: Mapping[str, Any]) -> int:
    """Record a complaint against a person."""
    stmt = ledger_complaints.insert().values(**values).returning(ledger_complaints.c.id)
    return int((await tx.conn.execute(stmt)).scalar_one())


async def set_verdict(tx: Tx, complaint_id: int, values: Mapping[str, Any]) -> bool:
    """Change a complaint's verdict after verification; False if there is no such complaint."""
    stmt = ledger_complaints.update().where(ledger_complaints.c.id == complaint_id).values(**values)
    return bool((await tx.conn.execute(stmt)).rowcount == 1)


def _complaint_query() -> Any:
    return select(ledger_complaints, tickets.c.number.label("ticket_number")).join(
        tickets, tickets.c.id == ledger_complaints.c.ticket_id
    )


async def complaint(tx: Tx, complaint_id: int) -> Row | None:
    """One complaint with its ticket number."""
    q = _complaint_query().where(ledger_complaints.c.id == complaint_id)
    row = (await tx.conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def complaints(
    tx: Tx, *, person_id: str | None = None, until: date | None = None
) -> list[Row]:
    """Recorded complaints (of one person, or all), newest first."""
    q = _complaint_query()
    if person_id is not None:
        q = q.where(ledger_complaints.c.person_id == person_id)
    if until is not None:
        q = q.where(ledger_complaints.c.occurred_on <= until)
    q = q.order_by(ledger_complaints.c.occurred_on.desc(), ledger_complaints.c.id.desc())
    return [dict(r) for r in (await tx.conn.execute(q)).mappings()]


async def valid_counts(tx: Tx, first: date, last: date) -> dict[str, int]:
    """Valid complaints per person with a date in [first, last]: the SQL twin of
    `reports.ledger.counts` for the window `first = window_start(last)`."""
    c = ledger_complaints.c
    q = (
        select(c.person_id, func.count())
        .where(c.verdict == "valid", c.occurred_on >= first, c.occurred_on <= last)
        .group_by(c.person_id)
    )
    return {str(p): int(n) for p, n in (await tx.conn.execute(q)).all()}
