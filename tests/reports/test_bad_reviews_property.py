"""Generated cases (hypothesis), with instants on the edges: the SQL "followed up" figure
and the SQL overdue filter give what the pure rules give, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.bad_reviews import Case, Status, case_deadlines, followed_up, step_flags
from tests.conftest import _pg_execute
from tickets import review_cases as rc
from tickets.sla import WorkCalendar
from tickets.store import create_store

CAL = WorkCalendar()
T0 = datetime(2026, 9, 28, 16, tzinfo=UTC)  # local 2026-09-29 00:00, before National Day
PERIOD = (T0, T0 + timedelta(days=30))
DEPTS = ["chengguan", "eco", None]

# Offsets in minutes; 0 lands exactly on a due instant or a period edge.
edge = st.sampled_from([0, -1, 1, -60 * 24, 60 * 24])
offset = st.one_of(edge, st.integers(-5 * 24 * 60, 5 * 24 * 60))

case_rows = st.lists(
    st.fixed_dictionaries(
        {
            "dept": st.sampled_from(DEPTS),
            "named": st.booleans(),
            "complex": st.booleans(),
            "status": st.sampled_from(list(Status)),
            # rated around the period's start and end, or anywhere inside
            "rated": st.one_of(
                st.integers(-3 * 24 * 60, 3 * 24 * 60),
                st.integers(27 * 24 * 60, 33 * 24 * 60),
                st.integers(0, 30 * 24 * 60),
            ),
            "contact": st.one_of(st.none(), offset),  # relative to the contact deadline
            "rectify": st.one_of(st.none(), offset),  # relative to the rectify deadline
        }
    ),
    max_size=25,
)
now_offset = st.one_of(edge, st.integers(-2 * 24 * 60, 45 * 24 * 60))


def _cases(rows: list[dict[str, Any]]) -> list[Case]:
    out = []
    for r in rows:
        rated = T0 + timedelta(minutes=r["rated"])
        d = case_deadlines(CAL, rated, r["complex"])
        contacted = (
            d.contact.due + timedelta(minutes=r["contact"]) if r["contact"] is not None else None
        )
        rectified = (
            d.rectify.due + timedelta(minutes=r["rectify"]) if r["rectify"] is not None else None
        )
        c = Case(r["dept"], "dissatisfied", rated, r["named"], d.contact.due, d.rectify.due)
        closed = (
            rated + timedelta(days=20)
            if r["status"] in (Status.DONE, Status.APPEAL_UPHELD)
            else None
        )
        out.append(
            replace(
                c,
                status=r["status"],
                complex_case=r["complex"],
                contacted_at=contacted,
                rectified_at=rectified,
                closed_at=closed,
            )
        )
    return out


async def _agree(url: str, rows: list[dict[str, Any]], now_minutes: int) -> None:
    store = create_store(url)
    try:
        await store.migrate()
        # One case per rating (ticket, rated_at): generated duplicates are dropped.
        kept = list({c.rated_at: c for c in reversed(_cases(rows))}.values())
        async with store.write() as tx:
            for code in ("chengguan", "eco"):
                await tx.upsert_department(
                    {"code": code, "name_zh": code, "name_en": code, "parent_code": None,
                     "kind": "city", "phone": None, "active": True}
                )  # fmt: skip
            ticket_id = await tx.insert_ticket(
                {"number": "20260929-000001", "state": "supervised", "channel": "phone",
                 "created_at": T0, "updated_at": T0, "last_contact_at": T0}
            )  # fmt: skip
            for c in kept:
                await rc.insert_case(
                    tx,
                    {
                        "ticket_id": ticket_id,
                        "department": c.department,
                        "level": c.level,
                        "rated_at": c.rated_at,
                        "named": c.named,
                        "status": c.status.value,
                        "complex": c.complex_case,
                        "contact_due": c.contact_due,
                        "rectify_due": c.rectify_due,
                        "contacted_at": c.contacted_at,
                        "rectified_at": c.rectified_at,
                        "closed_at": c.closed_at,
                        "opened_at": c.rated_at,
                        "updated_at": c.rated_at,
                    },
                )
        now = T0 + timedelta(minutes=now_minutes)
        async with store.read() as tx:
            sql = await rc.followed_up(tx, *PERIOD)
            over = await rc.list_cases(tx, now, overdue_only=True, limit=1000)
            n_over = await rc.count_cases(tx, now, overdue_only=True)
            everything = await rc.list_cases(tx, now, limit=1000)
        pure = followed_up(kept, *PERIOD)
        assert sql == {d: (f.followed, f.total) for d, f in pure.items()}
        expected = sorted(c.rated_at for c in kept if step_flags(c, now).overdue)
        assert sorted(r["rated_at"] for r in over) == expected
        assert n_over == len(expected)
        # overdue open cases first, closed ones last
        rank = [
            2 if r["status"] in ("done", "appeal_upheld") else 0 if r["rated_at"] in expected else 1
            for r in everything
        ]
        assert rank == sorted(rank)
    finally:
        await store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=case_rows, now_minutes=now_offset)
def test_sql_agrees_with_the_rules_on_sqlite(rows: list[dict[str, Any]], now_minutes: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(_agree(f"sqlite+aiosqlite:///{Path(d) / 'r.db'}", rows, now_minutes))


async def _agree_on_fresh_pg(port: int, rows: list[dict[str, Any]], now_minutes: int) -> None:
    name = f"r_{uuid.uuid4().hex}"
    await _pg_execute(port, f'CREATE DATABASE "{name}"')
    try:
        await _agree(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}", rows, now_minutes)
    finally:
        await _pg_execute(port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=case_rows, now_minutes=now_offset)
def test_sql_agrees_with_the_rules_on_postgresql(
    pg_port: int, rows: list[dict[str, Any]], now_minutes: int
) -> None:
    asyncio.run(_agree_on_fresh_pg(pg_port, rows, now_minutes))
