"""Store reads for hotspots and the leaders' briefing: a period's texts, volumes and open matters.

Two small writes keep work from being done twice: the record of briefings already put in the
outbox (one row per period), and each complete day's hotspot counts (`hotspot_days`).

Each function takes a `Tx` from `Store.read()` and runs SQLAlchemy Core that works the same on
SQLite and PostgreSQL. Periods are half-open `[start, end)` in UTC; local days are made by the
caller as boundaries, so no database needs to know the city's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, literal, select

from tickets.model import State, Urgency
from tickets.store import Row, Tx
from tickets.tables import briefing_runs, contacts, hotspot_days, tickets

# Orders a department holds and can be late with (what the deadline watch looks at).
OPEN_FOR_DEADLINE = (State.DISPATCHED.value, State.HANDLING.value)
# Not counted as a citizen's matter: folded into another order.
NOT_COUNTED = (State.MERGED.value,)


async def period_texts(tx: Tx, start: datetime, end: datetime) -> list[Row]:
    """Per ticket created in [start, end): id, category, district and all its text.

    The text is the subject, the description and every contact the citizen sent on it
    (a follow-up message adds words the first one did not have).
    """
    t = tickets.c
    q = (
        select(t.id, t.created_at, t.category, t.district, t.subject, t.description)
        .where(t.created_at >= start, t.created_at < end, t.state.not_in(NOT_COUNTED))
        .order_by(t.id)
    )
    rows = await tx.rows(q)
    extra = (
        select(contacts.c.ticket_id, contacts.c.text)
        .join(tickets, tickets.c.id == contacts.c.ticket_id)
        .where(t.created_at >= start, t.created_at < end, t.state.not_in(NOT_COUNTED))
        .order_by(contacts.c.id)
    )
    said: dict[int, list[str]] = {}
    for r in (await tx.conn.execute(extra)).mappings():
        said.setdefault(r["ticket_id"], []).append(r["text"] or "")
    for row in rows:
        parts = [row["subject"] or "", row["description"] or ""]
        parts += [s for s in said.get(row["id"], []) if s and s not in parts]
        row["text"] = "\n".join(p for p in parts if p)
    return rows


async def volumes(tx: Tx, bounds: Sequence[datetime]) -> list[Row]:
    """Tickets per (bucket, channel) for consecutive periods `bounds[i] … bounds[i+1]`.

    One scan of the created-at index with the bucket computed by a CASE over the boundaries,
    so local days (any time zone, daylight saving included) need no date functions.
    """
    if len(bounds) < 2:
        return []
    t = tickets.c
    bucket = case(
        *((t.created_at < b, literal(i)) for i, b in enumerate(bounds[1:])),
        else_=literal(len(bounds) - 1),
    ).label("bucket")
    q = (
        select(bucket, t.channel, func.count().label("tickets"))
        .where(t.created_at >= bounds[0], t.created_at < bounds[-1], t.state.not_in(NOT_COUNTED))
        .group_by(bucket, t.channel)
    )
    return await tx.rows(q)


async def category_counts(tx: Tx, start: datetime, end: datetime) -> list[Row]:
    """Tickets per category created in [start, end) (None: not yet categorised)."""
    t = tickets.c
    q = (
        select(t.category, func.count().label("tickets"))
        .where(t.created_at >= start, t.created_at < end, t.state.not_in(NOT_COUNTED))
        .group_by(t.category)
        .order_by(func.count().desc(), t.category)
    )
    return await tx.rows(q)


async def urgent_tickets(tx: Tx, start: datetime, end: datetime, limit: int = 20) -> list[Row]:
    """Urgent orders created in [start, end), newest first, with their total count."""
    t = tickets.c
    where = (
        t.created_at >= start,
        t.created_at < end,
        t.urgency == Urgency.URGENT.value,
        t.state.not_in(NOT_COUNTED),
    )
    q = (
        select(
            t.number, t.created_at, t.state, t.subject, t.category, t.district,
            t.lead_department, t.due_at, func.count().over().label("total"),
        )
        .where(*where)
        .order_by(t.created_at.desc(), t.id.desc())
        .limit(limit)
    )  # fmt: skip
    return await tx.rows(q)


async def overdue_orders(tx: Tx, at: datetime, limit: int = 20) -> list[Row]:
    """Orders still with a department and past their deadline at `at`, longest overdue first.

    Each row also carries `total`, the count of all such orders.
    """
    t = tickets.c
    q = (
        select(
            t.number, t.state, t.subject, t.category, t.district, t.lead_department,
            t.due_at, t.urgency, func.count().over().label("total"),
        )
        .where(t.state.in_(OPEN_FOR_DEADLINE), t.due_at.is_not(None), t.due_at <= at)
        .order_by(t.due_at, t.id)
        .limit(limit)
    )  # fmt: skip
    return await tx.rows(q)


async def first_ticket_at(tx: Tx) -> datetime | None:
    """When the record begins (windows before it are unknown, not zero)."""
    value = (await tx.conn.execute(select(func.min(tickets.c.created_at)))).scalar_one_or_none()
    return value if isinstance(value, datetime) or value is None else None


async def briefing_done(tx: Tx, period_key: str) -> bool:
    """Whether the briefing of this period is already in the outbox."""
    q = select(briefing_runs.c.period_key).where(briefing_runs.c.period_key == period_key)
    return (await tx.conn.execute(q)).first() is not None


async def record_briefing(tx: Tx, period_key: str, at: datetime, messages: int) -> None:
    """Remember that the briefing of this period is in the outbox (a repeat is a no-op)."""
    stmt = (
        tx._insert(briefing_runs)
        .values(period_key=period_key, generated_at=at, messages=messages)
        .on_conflict_do_nothing(index_elements=["period_key"])
    )
    await tx.conn.execute(stmt)


DONE = "*"  # the kind of the row that marks a day as counted (its count: the day's tickets)


async def counted_days(tx: Tx, days: Sequence[str]) -> set[str]:
    """Which of these local days (YYYY-MM-DD) have their hotspot counts stored."""
    if not days:
        return set()
    h = hotspot_days.c
    q = select(h.day).where(h.day.in_(list(days)), h.kind == DONE)
    return {r[0] for r in (await tx.conn.execute(q)).all()}


async def day_counts(tx: Tx, days: Sequence[str]) -> list[Row]:
    """The stored counts of these days: (day, kind, value, district, count)."""
    if not days:
        return []
    h = hotspot_days.c
    q = select(h.day, h.kind, h.value, h.district, h.count).where(
        h.day.in_(list(days)), h.kind != DONE
    )
    return await tx.rows(q)


async def store_day_counts(tx: Tx, day: str, rows: Sequence[dict[str, object]], total: int) -> None:
    """Keep one complete day's counts; a day another process stored first is left as it is."""
    if await counted_days(tx, [day]):
        return
    values = [{"day": day, **r} for r in rows]
    values.append({"day": day, "kind": DONE, "value": DONE, "district": DONE, "count": total})
    for i in range(0, len(values), 2000):
        stmt = tx._insert(hotspot_days).on_conflict_do_nothing(
            index_elements=["day", "kind", "value", "district"]
        )
        await tx.conn.execute(stmt, values[i : i + 2000])
