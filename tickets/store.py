"""The ticket store: all SQL of the platform, on SQLite (aiosqlite) or PostgreSQL (asyncpg).

Writes go through `Store.write()`, a unit of work that commits or rolls back as a whole.
On SQLite one writer at a time takes the database (`BEGIN IMMEDIATE` under an asyncio
lock), which is what SQLite does anyway, minus the busy-waiting.
"""

from __future__ import annotations

import asyncio
import functools
import json
import json.encoder
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Result, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable

from tickets import migrate, sqlite_direct, sqlite_driver
from tickets.model import InboundContact, TimelineEntry
from tickets.sqlite_direct import Fixed, Params, Statement
from tickets.tables import (
    api_keys,
    audit_log,
    calendar_overrides,
    call_marks,
    calls,
    categories,
    channel_bindings,
    channel_cursors,
    citizens,
    contacts,
    departments,
    dispatch_rules,
    dispatches,
    link_codes,
    mail_threads,
    outbox,
    publications,
    ratings,
    sessions,
    ticket_departments,
    ticket_numbers,
    tickets,
    timeline,
    users,
)

Row = dict[str, Any]

_CITIZEN_KEYS = ("phone", "wechat_openid", "telegram_id", "email")


# Statements of the intake path, built once: constructing them per call cost more than
# SQLite took to run them. `Fixed`: in a short write on SQLite they run below SQLAlchemy.
_CONTACTS_BY_KEYS = Fixed(
    select(
        contacts.c.id,
        contacts.c.channel,
        contacts.c.external_id,
        contacts.c.ticket_id,
        tickets.c.number,
    )
    .join(tickets, tickets.c.id == contacts.c.ticket_id)
    # Two IN lists rather than a row-value IN: SQLite scans the whole table for
    # `(channel, external_id) IN (VALUES …)` but searches the unique index for these.
    .where(
        contacts.c.channel.in_(bindparam("channels", expanding=True)),
        contacts.c.external_id.in_(bindparam("external_ids", expanding=True)),
    )
)
# On PostgreSQL one statement, locked like find_citizen (in id order, so two batches do
# not deadlock): another process's contacts of these citizens wait and see our tickets.
_CITIZENS_ANY_KEY = Fixed(
    select(citizens)
    .where(or_(*(citizens.c[k].in_(bindparam(k, expanding=True)) for k in _CITIZEN_KEYS)))
    .order_by(citizens.c.id)
    .with_for_update()
)
# SQLite answers an OR of IN lists over four columns by scanning the whole table (once per
# accepted batch, growing with every citizen): one lookup per kind of key searches its
# unique index instead.
_CITIZENS_OF_KIND = {
    k: Fixed(select(citizens).where(citizens.c[k].in_(bindparam("values", expanding=True))))
    for k in _CITIZEN_KEYS
}


def _next_sequence(mod: Any) -> Any:
    count = bindparam("count", type_=Integer)
    stmt = mod.insert(ticket_numbers).values(day=bindparam("day"), last=count)
    return stmt.on_conflict_do_update(
        index_elements=["day"], set_={"last": ticket_numbers.c.last + count}
    ).returning(ticket_numbers.c.last)


_OPEN_TICKETS_OF = Fixed(
    select(tickets)
    .where(
        tickets.c.citizen_id.in_(bindparam("ids", expanding=True)),
        tickets.c.state.in_(bindparam("states", expanding=True)),
        tickets.c.last_contact_at >= bindparam("since"),
    )
    .order_by(tickets.c.last_contact_at.desc())
)


@functools.cache
def _settle_statement(columns: tuple[str, ...]) -> Fixed:
    return Fixed(
        outbox.update()
        .where(outbox.c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in columns})
    )


# A ticket was responded to by its first action that moves it on (or answers it).
RESPONSE_ACTIONS = (
    "resolve_on_spot",
    "submit_review",
    "dispatch",
    "transfer_110",
    "merge",
    "cancel",
)
# What the figure roll-ups read: writes touching these change a ticket's share.
FIGURE_COLUMNS = frozenset(
    {"lead_department", "district", "channel", "created_at", "due_at", "result_at",
     "informed_at", "rating", "rating_excluded"}
)  # fmt: skip
FIGURE_ACTIONS = frozenset({*RESPONSE_ACTIONS, "approve_extension"})
# A new ticket's figure columns, of those it was not given: no lead department, deadline,
# result, notice or rating yet, and not left out of the ratings. Its share of the figure
# roll-ups is known from what was inserted, without reading it back (`Tx.figures_created`).
_NEW_TICKET_FIGURES: dict[str, Any] = {name: None for name in sorted(FIGURE_COLUMNS)} | {
    "rating_excluded": False
}


def _created_figures(ticket_id: int, values: Mapping[str, Any]) -> Row:
    return {"id": ticket_id, **{k: values.get(k, v) for k, v in _NEW_TICKET_FIGURES.items()}}


DISPATCH_FIGURE_COLUMNS = frozenset({"ticket_id", "hop", "kind", "department", "returned_at"})


@functools.cache
def _save_call_statement(dialect: str, keys: tuple[str, ...]) -> Any:
    # Upserts are costly to build (the `excluded` namespace); each key set is built once.
    mod = postgresql if dialect == "postgresql" else sqlite
    stmt = mod.insert(calls).values({k: bindparam(k) for k in keys})
    return stmt.on_conflict_do_update(
        index_elements=["call_id"], set_={k: stmt.excluded[k] for k in keys if k != "call_id"}
    )


_MANY = {"citizens": citizens, "tickets": tickets, "contacts": contacts}  # `Tx.insert_many`


@functools.cache
def _insert_returning(table_name: str, keys: tuple[str, ...]) -> Fixed:
    table = _MANY[table_name]
    return Fixed(table.insert().returning(table.c.id, *(table.c[k] for k in keys)))


_INSERT_WITH_IDS = {name: Fixed(table.insert()) for name, table in _MANY.items()}
_LAST_ID = {
    name: Fixed(select(func.max(table.c.id).label("last"))) for name, table in _MANY.items()
}


_NEXT_SEQUENCE = {
    "sqlite": Fixed(_next_sequence(sqlite)),
    "postgresql": Fixed(_next_sequence(postgresql)),
}
# Built once (every accepted batch runs them; building a statement costs about as much as
# running a small one): messages once per dedupe key, and timeline rows.
_OUTBOX_ONCE = {
    mod.dialect.name: Fixed(
        mod.insert(outbox).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    for mod in (sqlite, postgresql)
}
_TIMELINE_ROWS = Fixed(timeline.insert())


class StaleTicket(Exception):
    """The ticket changed between read and write (optimistic lock lost)."""


def _rows(result: Result[Any]) -> list[Row]:
    # All rows at once, zipped with the names: iterating mappings costs a Python call per
    # row to fetch and another to copy (a third of a 30-row RETURNING insert's time).
    names = list(result.keys())
    return [dict(zip(names, r, strict=True)) for r in result.all()]


def _timeline_values(ticket_id: int, e: TimelineEntry) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "at": e.at,
        "actor": e.actor,
        "role": e.role.value,
        "action": e.action,
        "from_state": e.from_state.value if e.from_state else None,
        "to_state": e.to_state.value,
        "reason": e.reason,
        "payload": e.payload,
    }


class Tx:
    """One unit of work on one connection; every SQL statement lives in this class."""

    def __init__(self, conn: AsyncConnection, direct: sqlite3.Connection | None = None) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name
        # SQLite's own connection, when this is a short write: `Fixed` statements run on it
        self.direct = direct
        # there, inserts bound already that wait for the commit (`insert_later`), the
        # tables they write, and the next id of tables whose ids are counted here
        self.later: list[Statement] = []
        self._later_tables: set[str] = set()
        self._next_ids: dict[str, int] = {}
        # figure roll-ups: each changed ticket's share before the change, and the limits
        # the roll-up counts under (False: not read yet); settled at commit
        self.figure_before: dict[int, Any] = {}
        self.figure_rules: Any = False
        # tickets created in this unit of work and not changed since: their rows as inserted
        self.figure_created: dict[int, Row] = {}

    async def figures_change(self, ticket_ids: Iterable[int]) -> None:
        """Tickets whose figures this unit of work is about to change."""
        from tickets import figure_rollups  # it is built on this module

        await figure_rollups.before_change(self, ticket_ids)

    async def figures_created(self, rows: Sequence[Row]) -> None:
        """Tickets this unit of work just created, as inserted (id and `FIGURE_COLUMNS`)."""
        from tickets import figure_rollups

        await figure_rollups.created(self, rows)

    async def settle_figures(self) -> None:
        """Bring the figure roll-ups in step with this unit of work's ticket changes."""
        if self.figure_before:
            from tickets import figure_rollups

            await figure_rollups.settle(self)

    @property
    def conn(self) -> AsyncConnection:
        """SQLAlchemy's connection. What waits for the commit runs first (a statement
        through it may read or change those rows), and ids are counted afresh after it."""
        self.run_later_now()
        self._next_ids.clear()
        return self._conn

    async def rows(self, stmt: Fixed | Executable, params: Params = None) -> list[Row]:
        """Run one statement; the rows it gives back (none for one that gives none)."""
        if isinstance(stmt, Fixed):
            if self.direct is not None:
                if self._later_tables & stmt.tables:
                    self.run_later_now()
                return stmt.run(self.direct, self._conn.dialect, params)
            stmt = stmt.statement
        result = await self.conn.execute(stmt, params)
        return _rows(result) if result.returns_rows else []

    async def insert_later(self, stmt: Fixed, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows that give nothing back. In SQLite's short writes they are bound now
        and run in the commit's trip to the driver thread, where SQLite's own work goes on
        beside the event loop's; a statement on their tables runs them first."""
        if self.direct is None:
            await self.rows(stmt, rows)
        elif rows:
            self.later.extend(stmt.later(self._conn.dialect, rows))
            self._later_tables |= stmt.tables

    def run_later_now(self) -> None:
        """Run the inserts waiting for the commit, here and now."""
        if self.later:
            assert self.direct is not None
            later, self.later = self.later, []
            self._later_tables.clear()
            sqlite_direct.run_all(self.direct, later)

    def _insert(self, table: Any) -> Any:
        mod = postgresql if self.dialect == "postgresql" else sqlite
        return mod.insert(table)

    # -- contacts and citizens -------------------------------------------------------

    async def claim_contact(self, c: InboundContact, accepted_at: datetime) -> int | None:
        """Insert the contact unless (channel, external_id) exists; None means duplicate.

        ON CONFLICT DO NOTHING makes a concurrent duplicate wait for the first
        transaction and then see its row, so two deliveries never make two contacts.
        """
        stmt = (
            self._insert(contacts)
            .values(
                channel=c.channel.value,
                external_id=c.external_id,
                text=c.text,
                identity={k: v for k, v in vars(c.citizen).items() if v},
                attachments=[vars(a) for a in c.attachments],
                location=vars(c.location) if c.location else None,
                received_at=c.received_at,
                accepted_at=accepted_at,
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(contacts.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one_or_none()

    async def contact_by_external_id(self, channel: str, external_id: str) -> Row | None:
        q = select(contacts).where(
            contacts.c.channel == channel, contacts.c.external_id == external_id
        )
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def set_contact_attachments(
        self, contact_id: int, attachments: Sequence[Mapping[str, Any]]
    ) -> None:
        """The contact's files, as they are now (a fetched file replaced its placeholder)."""
        await self.conn.execute(
            contacts.update()
            .where(contacts.c.id == contact_id)
            .values(attachments=[dict(a) for a in attachments])
        )

    async def contacts_with_file_refs(
        self, channel: str, ref_prefix: str, since: datetime
    ) -> list[Row]:
        """Contacts of `channel` since `since` with a file whose ref starts with `ref_prefix`."""
        q = (
            select(contacts.c.id, contacts.c.external_id, contacts.c.attachments)
            .where(contacts.c.channel == channel, contacts.c.received_at >= since)
            .where(cast(contacts.c.attachments, Text).contains(ref_prefix, autoescape=True))
            .order_by(contacts.c.id)
        )
        rows = await self.rows(q)
        return [
            r
            for r in rows
            if any(str(a.get("ref", "")).startswith(ref_prefix) for a in r["attachments"])
        ]

    async def link_contact(self, contact_id: int, ticket_id: int, citizen_id: int | None) -> None:
        await self.conn.execute(
            contacts.update()
            .where(contacts.c.id == contact_id)
            .values(ticket_id=ticket_id, citizen_id=citizen_id)
        )

    async def find_citizen(self, keys: Sequence[tuple[str, str]]) -> Row | None:
        """The citizen known by any of the identity keys, strongest key first.

        On PostgreSQL the row stays locked (FOR UPDATE) until the unit of work ends, so
        concurrent contacts of one citizen are threaded one after the other and see each
        other's tickets, as on SQLite, where there is only one writer anyway.
        """
        for kind, value in keys:
            q = select(citizens).where(citizens.c[kind] == value)
            if self.dialect == "postgresql":
                q = q.with_for_update()
            row = (await self.conn.execute(q)).mappings().first()
            if row:
                return dict(row)
        return None

    async def insert_citizen(self, values: Mapping[str, Any]) -> int:
        """Insert a citizen; if a concurrent unit of work just made one with one of the
        same identity keys, wait for it and return that one (locked, like find_citizen)."""
        stmt = (
            self._insert(citizens)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(citizens.c.id)
        )
        new_id = (await self.conn.execute(stmt)).scalar_one_or_none()
        if new_id is not None:
            return int(new_id)
        keys = [(k, str(values[k])) for k in _CITIZEN_KEYS if values.get(k)]
        found = await self.find_citizen(keys)
        if found is None:  # the conflicting insert rolled back between our two statements
            return await self.insert_citizen(values)
        return int(found["id"])

    async def update_citizen(self, citizen_id: int, values: Mapping[str, Any]) -> None:
        if values:
            await self.conn.execute(
                citizens.update().where(citizens.c.id == citizen_id).values(**values)
            )

    async def citizen_key_taken(self, kind: str, value: str) -> bool:
        q = select(citizens.c.id).where(citizens.c[kind] == value)
        return (await self.conn.execute(q)).first() is not None

    async def get_citizen(self, citizen_id: int) -> Row | None:
        row = (
            (await self.conn.execute(select(citizens).where(citizens.c.id == citizen_id)))
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def contacts_of(self, ticket_id: int) -> list[Row]:
        q = select(contacts).where(contacts.c.ticket_id == ticket_id).order_by(contacts.c.id)
        return await self.rows(q)

    async def move_contacts(self, contact_ids: Sequence[int], ticket_id: int) -> None:
        await self.conn.execute(
            contacts.update().where(contacts.c.id.in_(contact_ids)).values(ticket_id=ticket_id)
        )

    # -- tickets ---------------------------------------------------------------------

    async def next_ticket_sequence(self, day: str, count: int = 1) -> int:
        """Reserve `count` numbers of `day` (YYYYMMDD); returns the last one reserved.

        The row lock serializes concurrent accepts, so numbers never repeat.
        """
        rows = await self.rows(_NEXT_SEQUENCE[self.dialect], {"day": day, "count": count})
        return int(rows[0]["last"])

    async def insert_ticket(self, values: Mapping[str, Any]) -> int:
        stmt = tickets.insert().values(**values).returning(tickets.c.id)
        ticket_id = int((await self.conn.execute(stmt)).scalar_one())
        await self.figures_created([_created_figures(ticket_id, values)])
        return ticket_id

    async def update_ticket(
        self, ticket_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> None:
        """Write `values` if nobody changed the ticket since it was read at `expected_version`."""
        if FIGURE_COLUMNS.intersection(values):
            await self.figures_change([ticket_id])
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.version == expected_version)
            .values(**values, version=expected_version + 1)
        )
        result = await self.conn.execute(stmt)
        if result.rowcount != 1:
            raise StaleTicket(f"ticket {ticket_id} changed concurrently")

    async def touch_ticket(self, ticket_id: int, at: datetime) -> None:
        await self.conn.execute(
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .values(last_contact_at=at, updated_at=at, version=tickets.c.version + 1)
        )

    async def ticket(
        self, *, number: str | None = None, ticket_id: int | None = None
    ) -> Row | None:
        q = select(tickets)
        q = q.where(tickets.c.number == number) if number else q.where(tickets.c.id == ticket_id)
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def open_ticket_of_citizen(
        self, citizen_id: int, since: datetime, open_states: Sequence[str]
    ) -> list[Row]:
        """Open tickets of a citizen with a contact since `since`, newest first (threading)."""
        q = (
            select(tickets)
            .where(
                tickets.c.citizen_id == citizen_id,
                tickets.c.state.in_(open_states),
                tickets.c.last_contact_at >= since,
            )
            .order_by(tickets.c.last_contact_at.desc())
            .limit(20)
        )
        return await self.rows(q)

    async def set_ticket_departments(
        self, ticket_id: int, lead: str | None, co: Sequence[str]
    ) -> None:
        await self.conn.execute(
            ticket_departments.delete().where(ticket_departments.c.ticket_id == ticket_id)
        )
        rows = ([{"ticket_id": ticket_id, "department": lead, "role": "lead"}] if lead else []) + [
            {"ticket_id": ticket_id, "department": d, "role": "co"} for d in co if d != lead
        ]
        if rows:
            await self.conn.execute(ticket_departments.insert(), rows)

    async def ticket_departments(self, ticket_id: int) -> list[Row]:
        q = select(ticket_departments).where(ticket_departments.c.ticket_id == ticket_id)
        return await self.rows(q)

    async def list_tickets(
        self,
        *,
        states: Sequence[str] = (),
        department_scope: Sequence[str] | None = None,
        channel: str | None = None,
        category: str | None = None,
        district: str | None = None,
        search: str | None = None,
        overdue_at: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        """Tickets matching the filters, newest first, with the total count."""
        conds: list[ColumnElement[bool]] = []
        if states:
            conds.append(tickets.c.state.in_(states))
        if channel:
            conds.append(tickets.c.channel == channel)
        if category:
            conds.append(
                or_(
                    tickets.c.category == category,
                    tickets.c.category.in_(
                        select(categories.c.code).where(categories.c.parent_code == category)
                    ),
                )
            )
        if district:
            conds.append(tickets.c.district == district)
        if search:
            like = f"%{search}%"
            conds.append(
                or_(
                    tickets.c.number.like(like),
                    tickets.c.subject.like(like),
                    tickets.c.description.like(like),
                )
            )
        if overdue_at is not None:
            # Overdue means still owed: a result already given (late or not) or a ticket
            # closed, merged or cancelled is no longer chased.
            conds.append(
                and_(
                    tickets.c.due_at.is_not(None),
                    tickets.c.due_at < overdue_at,
                    tickets.c.result_at.is_(None),
                    tickets.c.state.not_in(("closed", "merged", "cancelled")),
                )
            )
        if department_scope is not None:
            conds.append(
                tickets.c.id.in_(
                    select(ticket_departments.c.ticket_id).where(
                        ticket_departments.c.department.in_(department_scope)
                    )
                )
            )
        where = and_(*conds) if conds else text("1=1")
        total = int(
            (
                await self.conn.execute(select(func.count()).select_from(tickets).where(where))
            ).scalar_one()
        )
        q: Select[Any] = (
            select(tickets).where(where).order_by(tickets.c.id.desc()).limit(limit).offset(offset)
        )
        return await self.rows(q), total

    async def count_provisional(self, open_states: Sequence[str]) -> int:
        q = select(func.count()).where(
            tickets.c.deadline_provisional.is_(True), tickets.c.state.in_(open_states)
        )
        return int((await self.conn.execute(q)).scalar_one())

    async def tickets_with_running_deadlines(
        self, open_states: Sequence[str], day_start: datetime, day_end: datetime
    ) -> list[Row]:
        """Open tickets whose deadline is provisional or whose clock runs over the given day."""
        q = select(tickets).where(
            tickets.c.state.in_(open_states),
            tickets.c.dispatched_at.is_not(None),
            or_(
                tickets.c.deadline_provisional.is_(True),
                and_(tickets.c.dispatched_at < day_end, tickets.c.due_at >= day_start),
            ),
        )
        return await self.rows(q)

    # -- bulk intake (one statement per step for a whole batch of contacts) ----------

    async def contacts_by_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Row]:
        """Contacts already accepted, by (channel, external_id), with their ticket number."""
        if not keys:
            return {}
        params = {
            "channels": sorted({c for c, _ in keys}),
            "external_ids": sorted({e for _, e in keys}),
        }
        rows = await self.rows(_CONTACTS_BY_KEYS, params)
        wanted = set(keys)  # the two lists also match other channels' ids: keep the asked
        by_key = {(r["channel"], r["external_id"]): r for r in rows}
        return {k: r for k, r in by_key.items() if k in wanted}

    async def citizens_by_keys(self, pairs: Sequence[tuple[str, str]]) -> list[Row]:
        """Every citizen holding any of the (kind, value) identity keys."""
        if not pairs:
            return []
        by_kind: dict[str, set[str]] = {k: set() for k in _CITIZEN_KEYS}
        for kind, value in pairs:
            by_kind[kind].add(value)
        if self.dialect == "postgresql":
            return await self.rows(_CITIZENS_ANY_KEY, {k: sorted(v) for k, v in by_kind.items()})
        found: dict[int, Row] = {}
        for kind, values in by_kind.items():
            if values:
                for r in await self.rows(_CITIZENS_OF_KIND[kind], {"values": sorted(values)}):
                    found.setdefault(r["id"], r)
        return [found[i] for i in sorted(found)]

    async def insert_many(
        self, table_name: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
    ) -> list[Row]:
        """Insert rows of one table in as few statements as the driver allows.

        Returns the new ids with the `keys` columns, so the caller can match them to its
        rows (asking for RETURNING in parameter order would make SQLite go row by row).
        In SQLite's short writes the ids are given here, as SQLite would give them (the
        largest so far, plus one: nobody else writes while this transaction holds the
        lock), and the insert waits for the commit (`insert_later`).
        """
        if not rows:
            return []
        if self.direct is not None:
            first = self._next_ids.get(table_name)
            if first is None:
                first = int((await self.rows(_LAST_ID[table_name]))[0]["last"] or 0) + 1
            rows = [{**r, "id": first + n} for n, r in enumerate(rows)]
            self._next_ids[table_name] = first + len(rows)
            await self.insert_later(_INSERT_WITH_IDS[table_name], rows)
            inserted = [{"id": r["id"], **{k: r.get(k) for k in keys}} for r in rows]
        else:
            inserted = await self.rows(_insert_returning(table_name, tuple(keys)), rows)
        if table_name == "tickets":
            values = {r["number"]: r for r in rows}
            await self.figures_created(
                [_created_figures(r["id"], values[r["number"]]) for r in inserted]
            )
        return inserted

    async def open_tickets_of_citizens(
        self, citizen_ids: Sequence[int], since: datetime, open_states: Sequence[str]
    ) -> list[Row]:
        """Open tickets of these citizens with a contact since `since`, newest first."""
        if not citizen_ids:
            return []
        params = {"ids": sorted(set(citizen_ids)), "states": list(open_states), "since": since}
        return await self.rows(_OPEN_TICKETS_OF, params)

    async def add_timeline_many(self, entries: Sequence[tuple[int, TimelineEntry]]) -> None:
        """Timeline entries of several tickets in one statement."""
        if entries:
            await self.figures_change(t for t, e in entries if e.action in FIGURE_ACTIONS)
            await self.insert_later(_TIMELINE_ROWS, [_timeline_values(t, e) for t, e in entries])

    async def touch_tickets(self, ticket_ids: Sequence[int], at: datetime) -> None:
        """A new contact arrived on each of these tickets."""
        if ticket_ids:
            await self.conn.execute(
                tickets.update()
                .where(tickets.c.id.in_(sorted(set(ticket_ids))))
                .values(last_contact_at=at, updated_at=at, version=tickets.c.version + 1)
            )

    # -- timeline, dispatches, ratings -------------------------------------------------

    async def add_timeline(self, ticket_id: int, e: TimelineEntry) -> None:
        if e.action in FIGURE_ACTIONS:
            await self.figures_change([ticket_id])
        await self.conn.execute(timeline.insert().values(**_timeline_values(ticket_id, e)))

    async def timeline_of(self, ticket_id: int) -> list[Row]:
        q = select(timeline).where(timeline.c.ticket_id == ticket_id).order_by(timeline.c.id)
        return await self.rows(q)

    async def copy_timeline(self, from_ticket: int, to_ticket: int, note: str) -> None:
        """Copy one ticket's timeline onto another (merge keeps both histories)."""
        await self.figures_change([to_ticket])
        for row in await self.timeline_of(from_ticket):
            payload = dict(row["payload"] or {})
            payload["merged_from"] = note
            await self.conn.execute(
                timeline.insert().values(
                    ticket_id=to_ticket,
                    at=row["at"],
                    actor=row["actor"],
                    role=row["role"],
                    action=row["action"],
                    from_state=row["from_state"],
                    to_state=row["to_state"],
                    reason=row["reason"],
                    payload=payload,
                )
            )

    async def next_hop(self, ticket_id: int) -> int:
        q = select(func.coalesce(func.max(dispatches.c.hop), 0)).where(
            dispatches.c.ticket_id == ticket_id
        )
        return int((await self.conn.execute(q)).scalar_one()) + 1

    async def add_dispatch(self, values: Mapping[str, Any]) -> None:
        await self.figures_change([int(values["ticket_id"])])
        await self.conn.execute(dispatches.insert().values(**values))

    async def open_dispatch(self, ticket_id: int, department: str) -> Row | None:
        """The latest unsigned, unreturned dispatch of the ticket to `department`."""
        q = (
            select(dispatches)
            .where(
                dispatches.c.ticket_id == ticket_id,
                dispatches.c.department == department,
                dispatches.c.signed_at.is_(None),
                dispatches.c.returned_at.is_(None),
            )
            .order_by(dispatches.c.hop.desc())
        )
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def update_dispatch(self, dispatch_id: int, values: Mapping[str, Any]) -> None:
        if DISPATCH_FIGURE_COLUMNS.intersection(values):
            owner = select(dispatches.c.ticket_id).where(dispatches.c.id == dispatch_id)
            await self.figures_change(int(i) for i in await self.conn.scalars(owner))
        await self.conn.execute(
            dispatches.update().where(dispatches.c.id == dispatch_id).values(**values)
        )

    async def dispatches_of(self, ticket_id: int) -> list[Row]:
        q = (
            select(dispatches)
            .where(dispatches.c.ticket_id == ticket_id)
            .order_by(dispatches.c.hop, dispatches.c.id)
        )
        return await self.rows(q)

    async def dispatch_by_code(self, number: str, code: str) -> Row | None:
        q = (
            select(dispatches, tickets.c.number)
            .join(tickets, tickets.c.id == dispatches.c.ticket_id)
            .where(tickets.c.number == number, dispatches.c.code == code)
        )
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def add_rating(self, values: Mapping[str, Any]) -> None:
        await self.conn.execute(ratings.insert().values(**values))

    async def ratings_of(self, ticket_id: int) -> list[Row]:
        q = select(ratings).where(ratings.c.ticket_id == ticket_id).order_by(ratings.c.id)
        return await self.rows(q)

    # -- reference data --------------------------------------------------------------

    async def departments(self) -> list[Row]:
        q = select(departments).order_by(departments.c.code)
        return await self.rows(q)

    async def categories(self) -> list[Row]:
        q = select(categories).order_by(categories.c.sort, categories.c.code)
        return await self.rows(q)

    async def upsert_department(self, values: Mapping[str, Any]) -> None:
        stmt = self._insert(departments).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["code"], set_={k: v for k, v in values.items() if k != "code"}
        )
        await self.conn.execute(stmt)

    async def upsert_category(self, values: Mapping[str, Any]) -> None:
        stmt = self._insert(categories).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["code"], set_={k: v for k, v in values.items() if k != "code"}
        )
        await self.conn.execute(stmt)

    async def calendar_overrides(self) -> list[Row]:
        q = select(calendar_overrides).order_by(calendar_overrides.c.day)
        return await self.rows(q)

    async def upsert_calendar_override(
        self, day: date, is_workday: bool, name: str, at: datetime
    ) -> None:
        values = {"day": day, "is_workday": is_workday, "name": name, "created_at": at}
        stmt = self._insert(calendar_overrides).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"is_workday": is_workday, "name": name}
        )
        await self.conn.execute(stmt)

    # -- outbox ----------------------------------------------------------------------

    async def enqueue_outbound(self, values: Mapping[str, Any]) -> int | None:
        """Add a message unless one with the same dedupe key exists (None then)."""
        stmt = (
            self._insert(outbox)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(outbox.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one_or_none()

    async def enqueue_outbound_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add messages in one statement; those whose dedupe key exists are left out."""
        if rows:
            await self.insert_later(_OUTBOX_ONCE[self.dialect], rows)

    async def claim_outbound(
        self, now: datetime, lease_until: datetime, limit: int, channels: Sequence[str] | None
    ) -> list[Row]:
        """Due messages, leased to the caller until `lease_until` so nobody else sends them."""
        q = (
            select(outbox)
            .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
            .where(outbox.c.channel.in_(channels) if channels is not None else text("1=1"))
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = await self.rows(q)
        if rows:
            await self.conn.execute(
                outbox.update()
                .where(outbox.c.id.in_([r["id"] for r in rows]))
                .values(next_attempt_at=lease_until, attempts=outbox.c.attempts + 1)
            )
        return rows

    async def settle_outbound(self, settled: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Messages sent, to retry or dead: one statement per shape of settlement."""
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for message_id, values in settled:
            shapes.setdefault(tuple(sorted(values)), []).append({"b_id": message_id, **values})
        for columns, rows in shapes.items():
            await self.rows(_settle_statement(columns), rows)

    async def outbound(
        self, *, status: str | None = None, ticket_id: int | None = None
    ) -> list[Row]:
        q = select(outbox).order_by(outbox.c.id)
        if status:
            q = q.where(outbox.c.status == status)
        if ticket_id is not None:
            q = q.where(outbox.c.ticket_id == ticket_id)
        return await self.rows(q)

    # -- calls -----------------------------------------------------------------------

    async def save_call(self, values: Mapping[str, Any]) -> None:
        """Insert or update a call by its Asterisk call id (later facts win)."""
        stmt = _save_call_statement(self.dialect, tuple(sorted(values)))
        await self.conn.execute(stmt, dict(values))

    async def update_call(self, call_id: str, values: Mapping[str, Any]) -> bool:
        result = await self.conn.execute(
            calls.update().where(calls.c.call_id == call_id).values(**values)
        )
        return bool(result.rowcount)

    async def add_call_marks(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.conn.execute(call_marks.insert(), [dict(r) for r in rows])

    async def call(self, call_id: str) -> Row | None:
        row = (
            (await self.conn.execute(select(calls).where(calls.c.call_id == call_id)))
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def call_marks_of(self, call_id: str) -> list[Row]:
        q = select(call_marks).where(call_marks.c.call_id == call_id).order_by(call_marks.c.id)
        return await self.rows(q)

    async def calls_between(self, start: datetime, end: datetime) -> list[Row]:
        q = select(calls).where(calls.c.started_at >= start, calls.c.started_at < end)
        return await self.rows(q.order_by(calls.c.id))

    async def calls_of_ticket(self, ticket_id: int) -> list[Row]:
        q = select(calls).where(calls.c.ticket_id == ticket_id).order_by(calls.c.id)
        return await self.rows(q)

    async def missed_calls(self, done: bool = False) -> list[Row]:
        """Abandoned calls waiting for (or given) a callback."""
        q = select(calls).where(calls.c.abandoned.is_(True), calls.c.callback_due_at.is_not(None))
        q = q.where(
            calls.c.callback_done_at.is_not(None) if done else calls.c.callback_done_at.is_(None)
        )
        return await self.rows(q.order_by(calls.c.callback_due_at))

    async def tickets_of_citizen(self, citizen_id: int, limit: int = 5) -> list[Row]:
        q = (
            select(tickets)
            .where(tickets.c.citizen_id == citizen_id)
            .order_by(tickets.c.id.desc())
            .limit(limit)
        )
        return await self.rows(q)

    async def user_by_extension(self, extension: str) -> Row | None:
        row = (
            (await self.conn.execute(select(users).where(users.c.extension == extension)))
            .mappings()
            .first()
        )
        return dict(row) if row else None

    # -- figures: see tickets/figure_queries.py ------------------------------------------

    # -- dispatch rules --------------------------------------------------------------

    async def dispatch_rules(self) -> list[Row]:
        q = select(dispatch_rules).where(dispatch_rules.c.active.is_(True))
        return await self.rows(q.order_by(dispatch_rules.c.id))

    async def replace_dispatch_rules(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """The admins' whole table at once (what the rules page saves)."""
        await self.conn.execute(dispatch_rules.delete())
        if rows:
            await self.conn.execute(dispatch_rules.insert(), [dict(r) for r in rows])

    # -- deadline watch --------------------------------------------------------------

    async def deadline_candidates(self, now: datetime) -> list[Row]:
        """Open orders past their sign deadline or their warning line."""
        t = tickets.c
        q = select(tickets).where(
            t.state.in_(("dispatched", "handling")),
            or_(
                and_(t.state == "dispatched", t.sign_due_at <= now),
                t.warn_at <= now,
                t.due_at <= now,
            ),
        )
        return await self.rows(q)

    async def warnings_given(self, ticket_ids: Sequence[int]) -> dict[int, set[str]]:
        """The deadline warnings already on these tickets' timelines."""
        if not ticket_ids:
            return {}
        q = select(timeline.c.ticket_id, timeline.c.payload).where(
            timeline.c.ticket_id.in_(list(ticket_ids)), timeline.c.action == "deadline_warning"
        )
        out: dict[int, set[str]] = {}
        for r in (await self.conn.execute(q)).mappings():
            out.setdefault(r["ticket_id"], set()).add(str((r["payload"] or {}).get("kind")))
        return out

    # -- accounts, sessions, keys, audit -----------------------------------------------

    async def insert_user(self, values: Mapping[str, Any]) -> int:
        stmt = users.insert().values(**values).returning(users.c.id)
        return int((await self.conn.execute(stmt)).scalar_one())

    async def user(self, *, username: str | None = None, user_id: int | None = None) -> Row | None:
        q = select(users)
        q = q.where(users.c.username == username) if username else q.where(users.c.id == user_id)
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def list_users(self) -> list[Row]:
        return await self.rows(select(users).order_by(users.c.id))

    async def update_user(self, user_id: int, values: Mapping[str, Any]) -> None:
        await self.conn.execute(users.update().where(users.c.id == user_id).values(**values))

    async def insert_session(self, values: Mapping[str, Any]) -> None:
        await self.conn.execute(sessions.insert().values(**values))

    async def session(self, token_hash: str) -> Row | None:
        q = select(sessions).where(sessions.c.token_hash == token_hash)
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def delete_session(self, token_hash: str) -> None:
        await self.conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))

    async def insert_api_key(self, values: Mapping[str, Any]) -> None:
        await self.conn.execute(api_keys.insert().values(**values))

    async def api_key(self, key_hash: str) -> Row | None:
        q = select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def add_audit(self, values: Mapping[str, Any]) -> None:
        await self.conn.execute(audit_log.insert().values(**values))

    async def audit_entries(self, ticket_id: int | None = None, limit: int = 200) -> list[Row]:
        q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if ticket_id is not None:
            q = q.where(audit_log.c.ticket_id == ticket_id)
        return await self.rows(q)

    # -- mayor's mailbox: IMAP cursors, mail threads, query codes, publications ---------

    async def channel_cursor(self, name: str) -> dict[str, Any] | None:
        """A channel's durable position (e.g. IMAP UIDVALIDITY and last UID)."""
        q = select(channel_cursors.c.value).where(channel_cursors.c.name == name)
        value = (await self.conn.execute(q)).scalar_one_or_none()
        return dict(value) if value is not None else None

    async def put_channel_cursor(self, name: str, value: Mapping[str, Any], at: datetime) -> None:
        stmt = self._insert(channel_cursors).values(name=name, value=dict(value), updated_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": dict(value), "updated_at": at}
        )
        await self.conn.execute(stmt)

    async def add_mail_thread(
        self, message_id: str, ticket_id: int, direction: str, at: datetime
    ) -> None:
        """Remember which ticket a Message-ID belongs to (once; a repeat changes nothing)."""
        stmt = (
            self._insert(mail_threads)
            .values(message_id=message_id, ticket_id=ticket_id, direction=direction, at=at)
            .on_conflict_do_nothing(index_elements=["message_id"])
        )
        await self.conn.execute(stmt)

    async def ticket_of_messages(self, message_ids: Sequence[str]) -> Row | None:
        """The ticket one of these Message-IDs belongs to (the latest known), if any."""
        if not message_ids:
            return None
        q = (
            select(tickets)
            .join(mail_threads, mail_threads.c.ticket_id == tickets.c.id)
            .where(mail_threads.c.message_id.in_(list(message_ids)))
            .order_by(mail_threads.c.at.desc())
            .limit(1)
        )
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def mail_threads_of(self, ticket_id: int) -> list[Row]:
        q = (
            select(mail_threads)
            .where(mail_threads.c.ticket_id == ticket_id)
            .order_by(mail_threads.c.at, mail_threads.c.message_id)
        )
        return await self.rows(q)

    async def set_query_code(self, ticket_id: int, code: str) -> str:
        """Give the ticket this query code unless it has one; returns the one it has."""
        await self.conn.execute(
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.query_code.is_(None))
            .values(query_code=code)
        )
        q = select(tickets.c.query_code).where(tickets.c.id == ticket_id)
        return str((await self.conn.execute(q)).scalar_one())

    async def upsert_publication(self, values: Mapping[str, Any]) -> None:
        stmt = self._insert(publications).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["ticket_id"],
            set_={k: v for k, v in values.items() if k != "ticket_id"},
        )
        await self.conn.execute(stmt)

    async def list_publications(
        self,
        *,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        """Published letters, newest first, by category (or its children) and time range."""
        conds: list[ColumnElement[bool]] = []
        if category:
            conds.append(
                or_(
                    publications.c.category == category,
                    publications.c.category.in_(
                        select(categories.c.code).where(categories.c.parent_code == category)
                    ),
                )
            )
        if since is not None:
            conds.append(publications.c.published_at >= since)
        if until is not None:
            conds.append(publications.c.published_at < until)
        where = and_(*conds) if conds else text("1=1")
        total = int(
            (
                await self.conn.execute(select(func.count()).select_from(publications).where(where))
            ).scalar_one()
        )
        q = (
            select(publications, tickets.c.number)
            .join(tickets, tickets.c.id == publications.c.ticket_id)
            .where(where)
            .order_by(publications.c.published_at.desc(), publications.c.ticket_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return await self.rows(q), total

    # -- end of mayor's mailbox ---------------------------------------------------------

    # -- messaging channels: WeChat and Telegram (issue 6) --------------------------------

    async def user_by_telegram_id(self, telegram_id: str) -> Row | None:
        """The staff member whose account carries this Telegram user id."""
        q = select(users).where(users.c.telegram_id == telegram_id)
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def insert_link_code(self, values: Mapping[str, Any]) -> None:
        await self.conn.execute(link_codes.insert().values(**values))

    async def use_link_code(self, code: str, channel: str, now: datetime) -> Row | None:
        """Spend a one-time code: the row if it was unused and unexpired, else None."""
        stmt = (
            link_codes.update()
            .where(
                link_codes.c.code == code,
                link_codes.c.channel == channel,
                link_codes.c.used_at.is_(None),
                link_codes.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(link_codes.c.code, link_codes.c.department, link_codes.c.created_by)
        )
        row = (await self.conn.execute(stmt)).mappings().first()
        return dict(row) if row else None

    async def bind_chat(self, values: Mapping[str, Any]) -> None:
        """Bind a chat to a department (a chat moved to another department is rebound)."""
        stmt = self._insert(channel_bindings).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={k: v for k, v in values.items() if k not in ("channel", "chat_id")},
        )
        await self.conn.execute(stmt)

    async def chat_bindings(
        self, channel: str, departments: Sequence[str] | None = None
    ) -> list[Row]:
        """Chats bound on `channel`, optionally only those of some departments."""
        q = select(channel_bindings).where(channel_bindings.c.channel == channel)
        if departments is not None:
            q = q.where(channel_bindings.c.department.in_(list(departments)))
        q = q.order_by(channel_bindings.c.department, channel_bindings.c.chat_id)
        return await self.rows(q)

    async def last_contacts_from(
        self, channel: str, kind: str, values: Sequence[str]
    ) -> dict[str, datetime]:
        """When each citizen known by (kind, value) last wrote on `channel` (48-hour
        windows); citizens who never wrote there are left out."""
        who = citizens.c[kind]
        q = (
            select(who, func.max(contacts.c.received_at))
            .join(citizens, citizens.c.id == contacts.c.citizen_id)
            .where(who.in_(sorted(set(values))), contacts.c.channel == channel)
            .group_by(who)
        )
        return {str(v): at for v, at in (await self.conn.execute(q)).all() if at is not None}

    # -- end of messaging channels -------------------------------------------------------

    async def ping(self) -> None:
        await self.conn.execute(text("SELECT 1"))


class Store:
    """Owns the engine; hands out read and write units of work."""

    def __init__(self, engine: AsyncEngine, *, direct_sql: bool = True) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # short writes on SQLite run their `Fixed` statements below SQLAlchemy (off: every
        # statement goes through SQLAlchemy, and its echo log shows them all)
        self.direct_sql = direct_sql
        self._write_lock = asyncio.Lock()
        # the connection short writes run on (SQLite, `direct_sql`), kept between them
        self._writer: tuple[AsyncConnection, sqlite_driver.OneTripConnection] | None = None

    @asynccontextmanager
    async def write(self, *, short: bool = False) -> AsyncIterator[Tx]:
        """A transaction that commits when the block ends and rolls back on error.

        `short`: a handful of small indexed statements (the intake, the outbox), which
        SQLite then runs on the event loop, without a thread hop each: on the kept
        connection with the `Fixed` ones below SQLAlchemy (`_short_write`), or, with
        `direct_sql` off, through SQLAlchemy (`sqlite_driver.OneTripConnection`).
        """
        if self.is_sqlite and short and self.direct_sql:
            async with self._write_lock, self._short_write() as tx:
                yield tx
        elif self.is_sqlite:
            async with self._write_lock, self.engine.connect() as conn:
                await conn.execution_options(hotline_write=True)
                driver = (await conn.get_raw_connection()).driver_connection if short else None
                inline = driver if isinstance(driver, sqlite_driver.OneTripConnection) else None
                if inline is not None:
                    inline.inline = True
                try:
                    async with conn.begin():
                        tx = Tx(conn)
                        yield tx
                        await tx.settle_figures()
                finally:
                    if inline is not None:
                        inline.inline = False
        else:
            async with self.engine.begin() as conn:
                tx = Tx(conn)
                yield tx
                await tx.settle_figures()

    @asynccontextmanager
    async def _short_write(self) -> AsyncIterator[Tx]:
        """A short write on the kept connection, begun and ended on SQLite's own connection.

        Taking a connection from the pool and beginning and committing through
        SQLAlchemy cost ~400 µs of the event loop a transaction; this ~60 µs, with the
        same single trip to the driver thread, for the commit, which also runs the
        inserts that waited for it (`Tx.insert_later`): SQLite's own work on them goes on
        in that thread while the loop serves others. A statement that goes through
        SQLAlchemy meanwhile joins the transaction (`_sqlite_begin`), and SQLAlchemy then
        ends it.
        """
        if self._writer is None or self._writer[0].invalidated:
            conn = await self.engine.connect()
            await conn.execution_options(hotline_write=True)
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, sqlite_driver.OneTripConnection)
            driver.inline = True
            self._writer = (conn, driver)
        conn, driver = self._writer
        db = driver._conn
        await driver.begin_immediate()
        try:
            tx = Tx(conn, db)
            yield tx
            await tx.settle_figures()
            if conn.in_transaction():
                await tx.conn.commit()  # it runs what waits for the commit first
            else:
                later = tx.later  # run with the commit, in its trip to the driver thread
                await driver.commit_after(lambda: sqlite_direct.run_all(db, later))
        except BaseException:
            try:
                await (conn.rollback() if conn.in_transaction() else driver.rollback())
            finally:
                if conn.invalidated or driver.in_transaction:  # not to be trusted again
                    self._writer = None
                    await conn.close()
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A read-only connection (on SQLite WAL, readers never wait for the writer)."""
        async with self.engine.connect() as conn:
            yield Tx(conn)
            await conn.rollback()

    async def migrate(self) -> None:
        """Bring the schema to head."""
        async with self._write_lock:
            await migrate.upgrade(self.engine)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer[0].close()
            self._writer = None
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
    # Our own BEGIN (below) instead of the driver's implicit one, so writes start IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before we answer "accepted", even across a power cut.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={sqlite_driver.BUSY_TIMEOUT_MS}")
    # Reads through a shared memory map and a 16 MB page cache per connection (SQLite's
    # default is 2 MB): the intake's index lookups stay out of read() calls as tables grow.
    cur.execute("PRAGMA mmap_size=268435456")
    cur.execute("PRAGMA cache_size=-16384")
    cur.close()


def _sqlite_begin(conn: SyncConnection) -> None:
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite_driver.OneTripConnection) and driver.in_transaction:
        return  # a short write began it (`Store._short_write`): SQLAlchemy joins it
    # Writers take the write lock at BEGIN, so two writers never deadlock on an upgrade.
    write = conn.get_execution_options().get("hotline_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# json.dumps' own C encoder, made once: json.dumps makes one per call, which costs twice
# what encoding a contact's small payloads does (five JSON values a contact).
_JSON_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None,  # no check for circular values: rows carry plain data
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,  # type: ignore[attr-defined]
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )  # fmt: skip
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


def _json_text(value: Any) -> str:
    """The text json.dumps gives, made faster (the store's JSON columns)."""
    if value is None:
        return "null"
    if _JSON_ENCODE is None or isinstance(value, str):
        return json.dumps(value)
    return "".join(_JSON_ENCODE(value, 0))


def create_store(url: str, *, echo: bool = False) -> Store:
    """A store for a SQLAlchemy URL (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://…``)."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ":memory:"
        engine = create_async_engine(
            url,
            echo=echo,
            async_creator=lambda: sqlite_driver.connect(path),
            json_serializer=_json_text,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        engine = create_async_engine(
            url, echo=echo, pool_size=10, max_overflow=10, json_serializer=_json_text
        )
    return Store(engine, direct_sql=not echo)
