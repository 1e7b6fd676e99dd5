"""Figure roll-ups: each ticket's share of the figures' numerators and denominators, summed
per (local day created, lead department, district, channel) in `figure_rollups`.

Kept in step in the same transaction as every ticket change: the `Tx` notes a ticket's share
before its first figure-relevant write (`before_change`) and, at commit, `settle` adds the
difference between its share after and before. `contribution` is that share, a pure function
of the ticket row and its few timeline/dispatch facts; `rebuild` recounts everything in SQL
(after a migration, or when the limits change), and the tests hold the two together.

One figure moves with the clock alone: an order due and still without a result joins the
on-time denominator when its deadline passes. The roll-up counts only due orders with a
result; `unsettled_due` counts the rest at read time from the tickets table (a partial
index holds only those rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Column,
    Date,
    MetaData,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from tickets.figure_queries import fact_columns, with_facts
from tickets.model import RatingLevel
from tickets.sqlite_direct import Fixed
from tickets.store import RESPONSE_ACTIONS, Row, Tx
from tickets.tables import dispatches, figure_rollup_rules, figure_rollups, tickets, timeline

# The center's days are Beijing days (UTC+8, no daylight saving). A period that does not
# start or end on one is still exact: its partial days are summed from the tickets.
OFFSET = timedelta(hours=8)
LEVELS = tuple(level.value for level in RatingLevel)
COUNTS = (
    "tickets",
    "responded",
    "on_time_n",
    "on_time_d",
    "feedback_n",
    "feedback_d",
    *LEVELS,
    "excluded",
    "cycle_seconds",
    "cycle_n",
    "extensions",
    "hops",
    "returns",
    "returns_made",
)
# Contacts answered live count as responded at once (their response is the call's).
LIVE_CHANNELS = ("phone",)
Key = tuple[date, str, str, str]
Share = dict[Key, dict[str, int]]
t = tickets.c


@dataclass(frozen=True)
class RollupRules:
    """The limits the roll-up's response and feedback counts were taken under."""

    response_seconds: Mapping[str, float]
    default_response_seconds: float
    feedback_seconds: float

    def same(self, other: RollupRules) -> bool:
        return (
            dict(self.response_seconds) == dict(other.response_seconds)
            and self.default_response_seconds == other.default_response_seconds
            and self.feedback_seconds == other.feedback_seconds
        )


def local_day(at: datetime) -> date:
    """The center's day an instant falls on."""
    return (at.astimezone(UTC) + OFFSET).date()


def day_start(day: date) -> datetime:
    """The instant the center's day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - OFFSET


def _seconds(a: datetime, b: datetime) -> float:
    # to the millisecond, as the figures measure it
    return round((b - a).total_seconds(), 3)


def contribution(row: Mapping[str, Any], returned_by: Sequence[str], rules: RollupRules) -> Share:
    """One ticket's share of the roll-up (the twin of `reports.figures.membership`)."""
    created: datetime = row["created_at"]
    channel = str(row["channel"])
    first: datetime | None = row["first_response_at"]
    due: datetime | None = row["due_at"]
    result: datetime | None = row["result_at"]
    informed: datetime | None = row["informed_at"]
    rating: str | None = row["rating"] or None
    excluded = bool(row["rating_excluded"])
    limit = rules.response_seconds.get(channel, rules.default_response_seconds)
    c = dict.fromkeys(COUNTS, 0)
    c["tickets"] = 1
    c["responded"] = int(
        channel in LIVE_CHANNELS or (first is not None and _seconds(created, first) <= limit)
    )
    if due is not None and result is not None:
        c["on_time_d"] = 1
        c["on_time_n"] = int(result <= due)
    if result is not None:
        c["feedback_d"] = 1
        c["feedback_n"] = int(
            informed is not None and _seconds(result, informed) <= rules.feedback_seconds
        )
        c["cycle_seconds"] = round((result - created).total_seconds())
        c["cycle_n"] = 1
    if rating is not None:
        if excluded:
            c["excluded"] = 1
        else:
            c[RatingLevel(rating).value] = 1
    c["extensions"] = int(row["extensions"] or 0)
    c["hops"] = int(row["hops"] or 0)
    c["returns"] = len(returned_by)
    day = local_day(created)
    district = row["district"] or ""
    share: Share = {(day, row["lead_department"] or "", district, channel): c}
    for dept in returned_by:
        key = (day, dept or "", district, channel)
        counts = share.setdefault(key, dict.fromkeys(COUNTS, 0))
        counts["returns_made"] += 1
    return share


def add(into: Share, share: Share, sign: int = 1) -> None:
    """`into` += sign × `share`."""
    for key, counts in share.items():
        target = into.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name, value in counts.items():
            target[name] += sign * value


# -- reading a ticket's facts ---------------------------------------------------------------


# Built once: every write transaction that changes tickets runs these, and building the
# facts query (three grouped subqueries) cost more than running it on a small batch.
_IDS: Any = bindparam("ids", expanding=True)


def _facts_query() -> Any:
    joined, fr, ext, hops = with_facts(_IDS)
    return select(*fact_columns(fr, ext, hops)).select_from(joined).where(t.id.in_(_IDS))


_FACTS = Fixed(_facts_query())
_RETURNED = Fixed(
    select(dispatches.c.ticket_id, dispatches.c.department)
    .where(dispatches.c.ticket_id.in_(_IDS), dispatches.c.returned_at.is_not(None))
    .order_by(dispatches.c.ticket_id, dispatches.c.hop)
)
_RULES = Fixed(select(figure_rollup_rules).where(figure_rollup_rules.c.id == 1))


def _adding(ins: Any) -> Any:
    """An insert into the roll-up that adds to a row already there."""
    return ins.on_conflict_do_update(
        index_elements=["day", "department", "district", "channel"],
        set_={name: figure_rollups.c[name] + ins.excluded[name] for name in COUNTS},
    )


_UPSERT = {
    "sqlite": Fixed(_adding(sqlite.insert(figure_rollups))),
    "postgresql": Fixed(_adding(postgresql.insert(figure_rollups))),
}


async def _facts(tx: Tx, ids: Sequence[int]) -> tuple[list[Row], dict[int, list[str]]]:
    params = {"ids": list(ids)}
    rows = await tx.rows(_FACTS, params)
    returned: dict[int, list[str]] = {}
    for r in await tx.rows(_RETURNED, params):
        returned.setdefault(int(r["ticket_id"]), []).append(r["department"])
    return rows, returned


async def shares(tx: Tx, ids: Iterable[int], rules: RollupRules) -> dict[int, Share]:
    """Each ticket's current share (a ticket not there has none)."""
    out: dict[int, Share] = {}
    todo = sorted(set(ids))
    for i in range(0, len(todo), 500):
        rows, returned = await _facts(tx, todo[i : i + 500])
        for r in rows:
            out[int(r["id"])] = contribution(r, returned.get(int(r["id"]), []), rules)
    return out


# -- keeping the roll-up in step -------------------------------------------------------------


async def rules_of(tx: Tx) -> RollupRules | None:
    """The limits the roll-up was built under; None if it was never built."""
    found = await tx.rows(_RULES)
    if not found:
        return None
    r = found[0]
    return RollupRules(
        {str(k): float(v) for k, v in dict(r["response_seconds"]).items()},
        float(r["default_response_seconds"]),
        float(r["feedback_seconds"]),
    )


async def _keeping(tx: Tx) -> RollupRules | None:
    """The roll-up's limits, read once per transaction; None while it was never built."""
    if tx.figure_rules is False:
        tx.figure_rules = await rules_of(tx) or None
    rules = tx.figure_rules
    return rules if isinstance(rules, RollupRules) else None


async def before_change(tx: Tx, ticket_ids: Iterable[int]) -> None:
    """Note the share of tickets about to change (once per transaction). Nothing to keep
    while the roll-up was never built."""
    rules = await _keeping(tx)
    if rules is None:
        return
    ids = list(ticket_ids)
    for i in ids:  # changed after it was created: its share after is to be read
        tx.figure_created.pop(i, None)
    ids = [i for i in ids if i not in tx.figure_before]
    if ids:
        tx.figure_before.update(await shares(tx, ids, rules))
        tx.figure_before.update((i, {}) for i in ids if i not in tx.figure_before)


async def created(tx: Tx, rows: Sequence[Row]) -> None:
    """Note tickets just created: they had no share, and until something changes them
    in this transaction their share is that of the row as inserted (no timeline, no
    dispatch yet), so settling them reads nothing."""
    if await _keeping(tx) is None:
        return
    for r in rows:
        tx.figure_before.setdefault(int(r["id"]), {})
        tx.figure_created[int(r["id"])] = r


def _as_created(row: Row) -> Row:
    return {**row, "first_response_at": None, "extensions": 0, "hops": 0}


async def settle(tx: Tx) -> None:
    """Add each changed ticket's (share after − share before) to the roll-up."""
    rules = tx.figure_rules
    if not tx.figure_before or not isinstance(rules, RollupRules):
        return
    delta: Share = {}
    for share in tx.figure_before.values():
        add(delta, share, -1)
    for r in tx.figure_created.values():
        add(delta, contribution(_as_created(r), (), rules))
    changed = [i for i in tx.figure_before if i not in tx.figure_created]
    for share in (await shares(tx, changed, rules)).values():
        add(delta, share)
    tx.figure_before.clear()
    tx.figure_created.clear()
    await _upsert(tx, delta)


async def _upsert(tx: Tx, delta: Share) -> None:
    rows = [
        {"day": k[0], "department": k[1], "district": k[2], "channel": k[3], **counts}
        for k, counts in sorted(delta.items())
        if any(counts.values())
    ]
    if not rows:
        return
    stmt = _UPSERT[tx.dialect]
    for i in range(0, len(rows), 1000):
        await tx.insert_later(stmt, rows[i : i + 1000])


# -- rebuilding from scratch -----------------------------------------------------------------


def _day_sql(tx: Tx) -> Any:
    if tx.dialect == "postgresql":
        return cast(
            func.timezone(literal_column("'UTC'"), t.created_at)
            + literal_column("interval '8 hours'"),
            Date,
        )
    return func.date(t.created_at, "+8 hours")


def _seconds_sql(tx: Tx, a: Any, b: Any) -> Any:
    if tx.dialect == "postgresql":
        return func.round(func.extract("epoch", b - a), 3)
    return func.round((func.julianday(b) - func.julianday(a)) * 86400.0, 3)


def _in_period(lo: datetime, hi: datetime) -> Any:
    return and_(t.created_at >= lo, t.created_at < hi)


async def _rebuild_ids(
    tx: Tx, lo: int, hi: int, rules: RollupRules, staged: Table | None = None
) -> None:
    """Add the tickets with ids in [lo, hi) to the roll-up (or their rows to `staged`, to be
    summed into it at the end). Ranges of ids, not of days: a
    range reads its timeline and dispatch rows through their ticket_id indexes, while the
    tickets of a span of days may be anywhere in those tables (which would be read whole
    for every span)."""
    tl, d = timeline.c, dispatches.c
    fr = (
        select(tl.ticket_id, func.min(tl.at).label("first"))
        .where(tl.ticket_id >= lo, tl.ticket_id < hi, tl.action.in_(RESPONSE_ACTIONS))
        .group_by(tl.ticket_id)
        .subquery("fr")
    )
    ext = (
        select(tl.ticket_id, func.count().label("n"))
        .where(tl.ticket_id >= lo, tl.ticket_id < hi, tl.action == "approve_extension")
        .group_by(tl.ticket_id)
        .subquery("ext")
    )
    hops = (
        select(d.ticket_id, (func.count(func.distinct(d.hop)) - 1).label("n"))
        .where(d.ticket_id >= lo, d.ticket_id < hi, d.kind == "lead")
        .group_by(d.ticket_id)
        .subquery("hops")
    )
    ret = (
        select(d.ticket_id, func.count().label("n"))
        .where(d.ticket_id >= lo, d.ticket_id < hi, d.returned_at.is_not(None))
        .group_by(d.ticket_id)
        .subquery("ret")
    )
    one = literal(1)

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, one), else_=0)), 0)

    limit = case(
        *((t.channel == ch, float(sec)) for ch, sec in rules.response_seconds.items()),
        else_=float(rules.default_response_seconds),
    )
    first = fr.c.first
    counted = and_(t.rating.is_not(None), not_(t.rating_excluded))
    day = _day_sql(tx)
    # '' inline, not bound: PostgreSQL must see the grouped expressions as the selected ones
    dept = func.coalesce(t.lead_department, literal_column("''"))
    district = func.coalesce(t.district, literal_column("''"))
    has_result = t.result_at.is_not(None)
    columns = {
        "tickets": func.count(),
        "responded": count_if(
            or_(
                t.channel.in_(LIVE_CHANNELS),
                and_(first.is_not(None), _seconds_sql(tx, t.created_at, first) <= limit),
            )
        ),
        "on_time_n": count_if(and_(t.due_at.is_not(None), has_result, t.result_at <= t.due_at)),
        "on_time_d": count_if(and_(t.due_at.is_not(None), has_result)),
        "feedback_n": count_if(
            and_(
                has_result,
                t.informed_at.is_not(None),
                _seconds_sql(tx, t.result_at, t.informed_at) <= rules.feedback_seconds,
            )
        ),
        "feedback_d": count_if(has_result),
        **{level: count_if(and_(counted, t.rating == level)) for level in LEVELS},
        "excluded": count_if(and_(t.rating.is_not(None), t.rating_excluded)),
        "cycle_seconds": func.coalesce(
            func.sum(
                case((has_result, func.round(_seconds_sql(tx, t.created_at, t.result_at))), else_=0)
            ),
            0,
        ),
        "cycle_n": count_if(has_result),
        "extensions": func.coalesce(func.sum(ext.c.n), 0),
        "hops": func.coalesce(func.sum(hops.c.n), 0),
        "returns": func.coalesce(func.sum(ret.c.n), 0),
        "returns_made": literal(0),
    }
    q = (
        select(
            day.label("day"),
            dept.label("department"),
            district.label("district"),
            t.channel,
            *(v.label(k) for k, v in columns.items()),
        )
        .select_from(
            tickets.outerjoin(fr, fr.c.ticket_id == t.id)
            .outerjoin(ext, ext.c.ticket_id == t.id)
            .outerjoin(hops, hops.c.ticket_id == t.id)
            .outerjoin(ret, ret.c.ticket_id == t.id)
        )
        .where(t.id >= lo, t.id < hi)
        .group_by(day, dept, district, t.channel)
    )
    names = ["day", "department", "district", "channel", *columns]
    if staged is not None:
        await tx.conn.execute(staged.insert().from_select(names, q))
    else:
        # a day's tickets may lie in several ranges: each adds its part
        mod: Any = postgresql if tx.dialect == "postgresql" else sqlite
        await tx.conn.execute(_adding(mod.insert(figure_rollups).from_select(names, q)))
    # returns made, counted against the department that made them
    returner = func.coalesce(d.department, literal_column("''"))
    made = (
        select(
            day.label("day"),
            returner.label("department"),
            district.label("district"),
            t.channel,
            func.count().label("n"),
        )
        .select_from(dispatches.join(tickets, tickets.c.id == d.ticket_id))
        .where(d.ticket_id >= lo, d.ticket_id < hi, d.returned_at.is_not(None))
        .group_by(day, returner, district, t.channel)
    )
    delta: Share = {}
    for r in (await tx.conn.execute(made)).mappings():
        counts = dict.fromkeys(COUNTS, 0)
        counts["returns_made"] = int(r["n"])
        day_value = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
        delta[(day_value, r["department"], r["district"], r["channel"])] = counts
    if staged is not None and delta:
        rows = [
            {"day": k[0], "department": k[1], "district": k[2], "channel": k[3], **c}
            for k, c in delta.items()
        ]
        await tx.conn.execute(staged.insert(), rows)
    elif staged is None:
        await _upsert(tx, delta)


# PostgreSQL keeps every version of a row updated in one transaction until it ends, and a
# rebuild adds range after range into the same days' rows (a day's ids need not be
# contiguous): there the ranges' rows are gathered here and summed once at the end.
_ranges = Table(
    "figure_rollup_ranges",
    MetaData(),
    *(Column(c.name, c.type) for c in figure_rollups.c),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


async def rebuild(tx: Tx, rules: RollupRules, at: datetime, chunk: int = 200_000) -> int:
    """Recount the whole roll-up under `rules` from the tickets, `chunk` ticket ids at a
    time; returns the rows written."""
    if tx.dialect == "postgresql":
        # changes committing meanwhile wait, and then add their difference to the recount
        await tx.conn.execute(text("LOCK TABLE figure_rollups IN SHARE ROW EXCLUSIVE MODE"))
    await tx.conn.execute(delete(figure_rollups))
    await tx.conn.execute(delete(figure_rollup_rules))
    span = (await tx.conn.execute(select(func.min(t.id), func.max(t.id)))).one()
    if span[0] is not None:
        staged = _ranges if tx.dialect == "postgresql" else None
        if staged is not None:
            await tx.conn.run_sync(lambda conn: staged.create(conn))
        for lo in range(int(span[0]), int(span[1]) + 1, chunk):
            await _rebuild_ids(tx, lo, lo + chunk, rules, staged)
        if staged is not None:
            keys = [staged.c.day, staged.c.department, staged.c.district, staged.c.channel]
            summed = select(*keys, *(func.sum(staged.c[name]) for name in COUNTS)).group_by(*keys)
            names = ["day", "department", "district", "channel", *COUNTS]
            await tx.conn.execute(figure_rollups.insert().from_select(names, summed))
            await tx.conn.run_sync(lambda conn: staged.drop(conn))
    await tx.conn.execute(
        figure_rollup_rules.insert().values(
            id=1,
            response_seconds=dict(rules.response_seconds),
            default_response_seconds=rules.default_response_seconds,
            feedback_seconds=rules.feedback_seconds,
            built_at=at,
        )
    )
    tx.figure_rules = rules
    tx.figure_before.clear()
    tx.figure_created.clear()
    return int(await tx.conn.scalar(select(func.count()).select_from(figure_rollups)) or 0)


# -- reading ----------------------------------------------------------------------------------


async def table(tx: Tx) -> Share:
    """The whole roll-up, rows of all zeros left out (for checks against a rebuild)."""
    out: Share = {}
    for r in (await tx.conn.execute(select(figure_rollups))).mappings():
        counts = {name: int(r[name]) for name in COUNTS}
        if any(counts.values()):
            out[(r["day"], r["department"], r["district"], r["channel"])] = counts
    return out


async def sums(
    tx: Tx, first: date, last: date, group: Literal["department", "district"]
) -> dict[str | None, dict[str, int]]:
    """The roll-up's sums per department (or district) over the days [first, last)."""
    r = figure_rollups.c
    key = r.department if group == "department" else r.district
    q = (
        select(key.label("key"), *(func.sum(r[name]).label(name) for name in COUNTS))
        .where(r.day >= first, r.day < last)
        .group_by(key)
    )
    return {
        row["key"] or None: {name: int(row[name] or 0) for name in COUNTS}
        for row in (await tx.conn.execute(q)).mappings()
    }


async def unsettled_due(
    tx: Tx, lo: datetime, hi: datetime, at: datetime, group: Literal["department", "district"]
) -> dict[str | None, int]:
    """Orders created in [lo, hi), due by `at` and still without a result, per group."""
    key = t.lead_department if group == "department" else t.district
    q = (
        select(key.label("key"), func.count().label("n"))
        .where(
            _in_period(lo, hi),
            t.result_at.is_(None),
            t.due_at.is_not(None),
            t.due_at <= at,
        )
        .group_by(key)
    )
    return {row.key or None: int(row.n) for row in await tx.conn.execute(q)}


async def any_created(tx: Tx, lo: datetime, hi: datetime) -> bool:
    """Whether any ticket was created in [lo, hi)."""
    q = select(t.id).where(_in_period(lo, hi)).limit(1)
    return (await tx.conn.execute(q)).first() is not None
