"""The figures' SQL: per-ticket facts (drill-down, the pure path) and per-group sums (the
ranking at scale), call figures, department classes and score adjustments.

Functions over a `Tx` (one connection); read-only except the class and adjustment writes.
Joins go to grouped derived tables, never to a subquery per row, so a quarter over millions
of tickets is one pass over the period's rows and their timeline/dispatch entries (found by
ticket_id from the period's ticket ids, never by scanning those tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import and_, case, delete, func, literal, not_, or_, select, update

from tickets.store import RESPONSE_ACTIONS, Row, Tx
from tickets.tables import (
    call_marks,
    calls,
    department_classes,
    departments,
    dispatches,
    score_adjustments,
    tickets,
    timeline,
)

t = tickets.c


def seconds(tx: Tx, a: Any, b: Any) -> Any:
    """Seconds from a to b to the millisecond, in this database's dialect (SQLite's
    julianday is a float: without the rounding a reply at exactly 180 s reads as 180.00002)."""
    if tx.dialect == "postgresql":
        return func.round(func.extract("epoch", b - a), 3)
    return func.round((func.julianday(b) - func.julianday(a)) * 86400.0, 3)


def _period(start: datetime, end: datetime) -> Any:
    return and_(t.created_at >= start, t.created_at < end)


def _ids(start: datetime, end: datetime) -> Any:
    # The period's tickets by the created_at index; their timeline and dispatch rows are then
    # found by ticket_id, so the work follows the period, not the table.
    return select(t.id).where(_period(start, end))


def _first_responses(which: Any) -> Any:
    tl = timeline.c
    return (
        select(tl.ticket_id, func.min(tl.at).label("first_response_at"))
        .where(tl.ticket_id.in_(which), tl.action.in_(RESPONSE_ACTIONS))
        .group_by(tl.ticket_id)
        .subquery("fr")
    )


def _extension_counts(which: Any) -> Any:
    tl = timeline.c
    return (
        select(tl.ticket_id, func.count().label("extensions"))
        .where(tl.ticket_id.in_(which), tl.action == "approve_extension")
        .group_by(tl.ticket_id)
        .subquery("ext")
    )


def _hop_counts(which: Any) -> Any:
    d = dispatches.c
    return (
        select(d.ticket_id, (func.count(func.distinct(d.hop)) - 1).label("hops"))
        .where(d.ticket_id.in_(which), d.kind == "lead")
        .group_by(d.ticket_id)
        .subquery("hops")
    )


def _return_counts(which: Any) -> Any:
    d = dispatches.c
    return (
        select(d.ticket_id, func.count().label("returns"))
        .where(d.ticket_id.in_(which), d.returned_at.is_not(None))
        .group_by(d.ticket_id)
        .subquery("ret")
    )


def with_facts(which: Any) -> tuple[Any, Any, Any, Any]:
    """The tickets joined with their first response, extensions and re-dispatch hops, each
    counted over `which` tickets only (ids, or a select of them); and those three parts."""
    fr, ext, hops = _first_responses(which), _extension_counts(which), _hop_counts(which)
    joined = (
        tickets.outerjoin(fr, fr.c.ticket_id == t.id)
        .outerjoin(ext, ext.c.ticket_id == t.id)
        .outerjoin(hops, hops.c.ticket_id == t.id)
    )
    return joined, fr, ext, hops


def fact_columns(fr: Any, ext: Any, hops: Any) -> list[Any]:
    """What a ticket's share of the figures is computed from (with `with_facts`' parts)."""
    return [
        t.id,
        t.lead_department,
        t.district,
        t.channel,
        t.created_at,
        fr.c.first_response_at,
        t.due_at,
        t.result_at,
        t.informed_at,
        t.rating,
        t.rating_excluded,
        func.coalesce(ext.c.extensions, 0).label("extensions"),
        func.coalesce(hops.c.hops, 0).label("hops"),
    ]


async def ticket_facts(
    tx: Tx, start: datetime, end: datetime, department: str | None = None
) -> list[Row]:
    """Per ticket created in [start, end): what the figures are computed from."""
    joined, fr, ext, hops = with_facts(_ids(start, end))
    q = (
        select(t.number, *fact_columns(fr, ext, hops))
        .select_from(joined)
        .where(_period(start, end))
        .order_by(t.id)
    )
    if department is not None:
        q = q.where(t.lead_department == department)
    return await tx.rows(q)


async def returns_in(tx: Tx, start: datetime, end: datetime) -> list[Row]:
    """(ticket_id, department) for each return (退回) of a ticket created in [start, end)."""
    d = dispatches.c
    q = (
        select(d.ticket_id, d.department)
        .where(d.ticket_id.in_(_ids(start, end)), d.returned_at.is_not(None))
        .order_by(d.ticket_id, d.hop)
    )
    return await tx.rows(q)


async def returns_by_department(tx: Tx, start: datetime, end: datetime) -> dict[str, int]:
    """Returns made by each department, of tickets created in [start, end)."""
    d = dispatches.c
    q = (
        select(d.department, func.count().label("n"))
        .where(d.ticket_id.in_(_ids(start, end)), d.returned_at.is_not(None))
        .group_by(d.department)
    )
    return {r.department: int(r.n) for r in await tx.conn.execute(q)}


async def aggregates(
    tx: Tx,
    start: datetime,
    end: datetime,
    at: datetime,
    response_seconds: Mapping[str, float],
    default_response_seconds: float,
    feedback_seconds: float,
    satisfied: Sequence[str],
    group: Literal["department", "district"] = "department",
    live_channels: Sequence[str] = ("phone",),
) -> list[Row]:
    """The figures as sums per lead department (or district), computed by the database.

    Contacts on `live_channels` were answered live, so they count as responded.
    """
    joined, fr, ext, hops = with_facts(_ids(start, end))
    ret = _return_counts(_ids(start, end))
    first = fr.c.first_response_at
    limit = case(
        *((t.channel == ch, float(sec)) for ch, sec in response_seconds.items()),
        else_=float(default_response_seconds),
    )
    one = literal(1)

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, one), else_=0)), 0)

    counted = and_(t.rating.is_not(None), not_(t.rating_excluded))
    # `|| ''` keeps SQLite from walking the whole (lead_department, state) index to get the
    # groups in order, instead of the period's rows by created_at (NULL stays NULL)
    key = (t.lead_department if group == "department" else t.district).concat("")
    q = (
        select(
            key.label("key"),
            func.count().label("tickets"),
            count_if(
                or_(
                    t.channel.in_(list(live_channels)),
                    and_(first.is_not(None), seconds(tx, t.created_at, first) <= limit),
                )
            ).label("response_n"),
            count_if(
                and_(t.due_at.is_not(None), t.result_at.is_not(None), t.result_at <= t.due_at)
            ).label("on_time_n"),
            count_if(
                and_(t.due_at.is_not(None), or_(t.result_at.is_not(None), t.due_at <= at))
            ).label("on_time_d"),
            count_if(
                and_(
                    t.result_at.is_not(None),
                    t.informed_at.is_not(None),
                    seconds(tx, t.result_at, t.informed_at) <= feedback_seconds,
                )
            ).label("feedback_n"),
            count_if(t.result_at.is_not(None)).label("feedback_d"),
            count_if(and_(counted, t.rating.in_(list(satisfied)))).label("satisfied_n"),
            count_if(counted).label("rated"),
            count_if(and_(t.rating.is_not(None), t.rating_excluded)).label("excluded"),
            func.coalesce(
                func.sum(
                    case(
                        (
                            t.result_at.is_not(None),
                            func.round(seconds(tx, t.created_at, t.result_at)),
                        ),
                        else_=0,
                    )
                ),
                0,
            ).label("cycle_seconds"),
            count_if(t.result_at.is_not(None)).label("cycle_n"),
            func.coalesce(func.sum(ext.c.extensions), 0).label("extensions"),
            func.coalesce(func.sum(hops.c.hops), 0).label("hops"),
            func.coalesce(func.sum(ret.c.returns), 0).label("returns"),
        )
        .select_from(joined.outerjoin(ret, ret.c.ticket_id == t.id))
        .where(_period(start, end))
        .group_by(key)
    )
    return await tx.rows(q)


# -- calls -------------------------------------------------------------------------------


def _calls_in(start: datetime, end: datetime) -> Any:
    return and_(calls.c.started_at >= start, calls.c.started_at < end)


async def call_facts(tx: Tx, start: datetime, end: datetime) -> tuple[list[Row], list[Row]]:
    """Calls started in [start, end) and their transfer marks (in the order recorded)."""
    c = calls.c
    rows = await tx.rows(
        select(c.call_id, c.started_at, c.answered_at, c.abandoned, c.queue_wait, c.talk_time)
        .where(_calls_in(start, end))
        .order_by(c.started_at, c.id)
    )
    m = call_marks.c
    marks = await tx.rows(
        select(m.call_id, m.what, m.at, m.detail)
        .join(calls, calls.c.call_id == m.call_id)
        .where(
            _calls_in(start, end),
            m.what.in_(["transfer_requested", "transfer_answered", "transfer_failed"]),
        )
        .order_by(m.call_id, m.id)
    )
    return rows, marks


async def call_aggregates(
    tx: Tx, start: datetime, end: datetime, service_level_seconds: float
) -> dict[str, Any]:
    """The call figures of calls started in [start, end), summed by the database."""
    c = calls.c
    one = literal(1)
    answered = and_(c.answered_at.is_not(None), not_(c.abandoned))
    row = (
        (
            await tx.conn.execute(
                select(
                    func.count().label("offered"),
                    func.coalesce(func.sum(case((answered, one), else_=0)), 0).label("answered"),
                    func.coalesce(func.sum(case((c.abandoned, one), else_=0)), 0).label(
                        "abandoned"
                    ),
                    func.coalesce(
                        func.sum(
                            case(
                                (
                                    and_(
                                        answered,
                                        c.queue_wait.is_not(None),
                                        c.queue_wait <= service_level_seconds,
                                    ),
                                    one,
                                ),
                                else_=0,
                            )
                        ),
                        0,
                    ).label("within"),
                    func.coalesce(
                        func.sum(case((and_(answered, c.queue_wait.is_not(None)), c.queue_wait))), 0
                    ).label("wait_total"),
                    func.coalesce(
                        func.sum(case((and_(answered, c.queue_wait.is_not(None)), one), else_=0)), 0
                    ).label("wait_n"),
                    func.coalesce(
                        func.sum(case((and_(answered, c.talk_time.is_not(None)), c.talk_time))), 0
                    ).label("talk_total"),
                    func.coalesce(
                        func.sum(case((and_(answered, c.talk_time.is_not(None)), one), else_=0)), 0
                    ).label("talk_n"),
                ).where(_calls_in(start, end))
            )
        )
        .mappings()
        .one()
    )
    # Each transfer request paired with the transfer mark right after it on the same call.
    m = call_marks.c
    seq = (
        select(
            m.what,
            m.at,
            m.detail,
            func.lead(m.what).over(partition_by=m.call_id, order_by=m.id).label("next_what"),
            func.lead(m.at).over(partition_by=m.call_id, order_by=m.id).label("next_at"),
        )
        .join(calls, calls.c.call_id == m.call_id)
        .where(
            _calls_in(start, end),
            m.what.in_(["transfer_requested", "transfer_answered", "transfer_failed"]),
        )
        .subquery("seq")
    )
    ok = seq.c.next_what == "transfer_answered"
    to_110 = and_(
        seq.c.what == "transfer_requested",
        or_(seq.c.detail == "110", seq.c.detail.like("110@%")),
    )
    tr = (
        (
            await tx.conn.execute(
                select(
                    func.count().label("n"),
                    func.coalesce(func.sum(case((ok, one), else_=0)), 0).label("ok"),
                    func.coalesce(
                        func.sum(case((ok, seconds(tx, seq.c.at, seq.c.next_at)))), 0
                    ).label("setup_total"),
                ).where(to_110)
            )
        )
        .mappings()
        .one()
    )
    return {
        **dict(row),
        "transfers_110": tr["n"],
        "transfers_ok": tr["ok"],
        "setup_total": tr["setup_total"],
    }


# -- department classes and adjustments ----------------------------------------------------


async def classes(tx: Tx) -> list[Row]:
    """Department classes in their display order."""
    q = select(department_classes).order_by(
        department_classes.c.position, department_classes.c.code
    )
    return await tx.rows(q)


async def put_class(tx: Tx, values: Mapping[str, Any]) -> None:
    """Create or replace a class (code, names, weights, position, who, when)."""
    code = values["code"]
    exists = await tx.conn.scalar(select(func.count()).where(department_classes.c.code == code))
    if exists:
        await tx.conn.execute(
            update(department_classes).where(department_classes.c.code == code).values(values)
        )
    else:
        await tx.conn.execute(department_classes.insert().values(values))


async def delete_class(tx: Tx, code: str) -> None:
    """Remove a class; its departments fall back to the default weights."""
    await tx.conn.execute(
        update(departments).where(departments.c.class_code == code).values(class_code=None)
    )
    await tx.conn.execute(delete(department_classes).where(department_classes.c.code == code))


async def class_assignments(tx: Tx) -> dict[str, str | None]:
    """Each department's class code."""
    q = select(departments.c.code, departments.c.class_code)
    return {r.code: r.class_code for r in await tx.conn.execute(q)}


async def assign_class(tx: Tx, department: str, class_code: str | None) -> bool:
    """Put a department in a class (None: no class); False if there is no such department."""
    res = await tx.conn.execute(
        update(departments).where(departments.c.code == department).values(class_code=class_code)
    )
    return bool(res.rowcount)


async def add_adjustment(tx: Tx, values: Mapping[str, Any]) -> int:
    """Record a deduction, bonus or veto item."""
    res = await tx.conn.execute(
        score_adjustments.insert().values(values).returning(score_adjustments.c.id)
    )
    return int(res.scalar_one())


async def adjustments(tx: Tx, first: date, last: date) -> list[Row]:
    """Adjustments whose day lies in [first, last)."""
    a = score_adjustments.c
    q = select(score_adjustments).where(a.day >= first, a.day < last).order_by(a.day, a.id)
    return await tx.rows(q)


async def timeline_entries(
    tx: Tx, ticket_ids: Sequence[int], actions: Sequence[str]
) -> dict[int, list[Row]]:
    """The timeline entries of `actions` on each ticket, oldest first (drill-down)."""
    tl = timeline.c
    out: dict[int, list[Row]] = {}
    ids = list(ticket_ids)
    for i in range(0, len(ids), 500):
        q = (
            select(tl.ticket_id, tl.at, tl.action, tl.actor, tl.role, tl.to_state, tl.reason)
            .where(tl.ticket_id.in_(ids[i : i + 500]), tl.action.in_(list(actions)))
            .order_by(tl.ticket_id, tl.id)
        )
        for r in (await tx.conn.execute(q)).mappings():
            out.setdefault(int(r["ticket_id"]), []).append(dict(r))
    return out
