"""Figures a director can defend: hand-computed goldens, and pure and SQL paths agreeing."""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.figures import (
    HUZHOU_WEIGHTS,
    DepartmentFigures,
    Rules,
    TicketFacts,
    by_department,
    figures,
    rank,
    rate,
    service_index,
)
from reports.service import FigureService
from tests.conftest import _pg_execute
from tickets.model import RatingLevel
from tickets.store import Store, create_store
from tickets.tables import call_marks, calls, departments, dispatches, tickets, timeline

T0 = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
AT = datetime(2026, 12, 31, 0, 0, tzinfo=UTC)
DEPTS = ["chengguan", "eco", "housing", "health"]
DISTRICTS = ["wuxing", "nanxun"]


def test_huzhou_formula_with_the_published_rates() -> None:
    rates = {"response": 0.97, "on_time": 0.94, "feedback": 0.94, "satisfaction": 0.75}
    assert service_index(rates, HUZHOU_WEIGHTS) == 83.05


def test_hand_made_timelines() -> None:
    h = timedelta(hours=1)
    facts = [
        # WeChat, answered in 2 min (limit 3), on time, told in 2 h, very satisfied
        TicketFacts("cg", "wechat", T0, T0 + timedelta(minutes=2), T0 + 120 * h, T0 + 50 * h,
                    T0 + 52 * h, RatingLevel.VERY_SATISFIED),
        # WeChat, answered in 10 min: late; result after the deadline; told in 30 h: late
        TicketFacts("cg", "wechat", T0, T0 + timedelta(minutes=10), T0 + 120 * h, T0 + 130 * h,
                    T0 + 160 * h, RatingLevel.DISSATISFIED, returned_by=("eco",)),
        # letter answered in 20 h (limit 24); still running, deadline passed: counts late
        TicketFacts("cg", "mailbox", T0, T0 + 20 * h, T0 + 100 * h, None, None, None,
                    extensions=1),
        # letter not yet answered, not yet due: not in on-time, not responded
        TicketFacts("cg", "mailbox", T0, None, AT + 10 * h, None, None, None),
        # basically satisfied counts as satisfied by default
        TicketFacts("cg", "wechat", T0, T0 + timedelta(seconds=30), None, T0 + 5 * h,
                    T0 + 6 * h, RatingLevel.BASICALLY_SATISFIED),
    ]  # fmt: skip
    f = figures(facts, AT)
    assert f.tickets == 5
    assert f.response == (3, 5)
    assert f.on_time == (1, 3)
    assert f.feedback == (2, 3)
    assert f.satisfaction == (2, 3)
    assert (f.returns, f.extensions) == (1, 1)
    expected = 100 * (0.15 * 3 / 5 + 0.15 * 1 / 3 + 0.10 * 2 / 3 + 0.60 * 2 / 3)
    assert f.index == round(expected, 2) == 60.67
    strict = Rules(satisfied=frozenset({RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED}))
    assert figures(facts, AT, strict).satisfaction == (1, 3)
    assert rate((0, 0)) is None and figures([], AT).index is None


def _dept(name: str, index: float, follow_ups: int) -> DepartmentFigures:
    return DepartmentFigures(name, follow_ups, (1, 1), (1, 1), (1, 1), (0, follow_ups), 0, 0, index)


def test_ranking_needs_ten_follow_ups_and_flags_the_bottom_three() -> None:
    per = {d.department: d for d in [
        _dept("a", 90, 12), _dept("b", 80, 10), _dept("c", 70, 30), _dept("d", 60, 11),
        _dept("e", 95, 9), _dept("f", 50, 10),
    ]}  # fmt: skip
    r = rank(per)
    assert [d.department for d in r.ranked] == ["a", "b", "c", "d", "f"]
    assert r.bottom == ("c", "d", "f") and r.too_few == ("e",)


# -- pure and SQL agree ---------------------------------------------------------------

ticket_rows = st.lists(
    st.fixed_dictionaries(
        {
            "dept": st.sampled_from([*DEPTS, None]),
            "channel": st.sampled_from(["phone", "wechat", "mailbox", "web", "telegram", "sms"]),
            "created": st.integers(0, 80 * 24 * 3600),
            "response": st.none() | st.integers(0, 48 * 3600),
            "due": st.none() | st.integers(-5 * 24 * 3600, 40 * 24 * 3600),
            "result": st.none() | st.integers(0, 40 * 24 * 3600),
            "informed": st.none() | st.integers(0, 3 * 24 * 3600),
            "rating": st.none() | st.sampled_from(list(RatingLevel)),
            "returns": st.lists(st.sampled_from(DEPTS), max_size=2),
            "extensions": st.integers(0, 2),
            "district": st.sampled_from([*DISTRICTS, None]),
            "excluded": st.booleans(),
            "hops": st.integers(1, 3),
        }
    ),
    min_size=1,
    max_size=40,
)


async def _fill(store: Store, rows: list[dict[str, Any]]) -> None:
    async with store.write() as tx:
        for code in DEPTS:
            await tx.conn.execute(departments.insert().values(code=code, name_zh=code, kind="city"))
        for code in DISTRICTS:
            await tx.conn.execute(
                departments.insert().values(code=code, name_zh=code, kind="district")
            )
        for i, r in enumerate(rows, 1):
            created = T0 + timedelta(seconds=r["created"])
            due = created + timedelta(seconds=r["due"]) if r["due"] is not None else None
            result = created + timedelta(seconds=r["result"]) if r["result"] is not None else None
            informed = (
                result + timedelta(seconds=r["informed"])
                if result is not None and r["informed"] is not None
                else None
            )
            await tx.conn.execute(
                tickets.insert().values(
                    id=i, number=f"20261001-{i:06d}", state="received", channel=r["channel"],
                    lead_department=r["dept"], created_at=created, updated_at=created,
                    last_contact_at=created, due_at=due, result_at=result, informed_at=informed,
                    rating=r["rating"].value if r["rating"] else None,
                    district=r["district"], rating_excluded=r["excluded"],
                )
            )  # fmt: skip
            entries = [("accept", created)]
            if r["response"] is not None:
                entries.append(("edit", created + timedelta(seconds=1)))  # not a response
                entries.append(("dispatch", created + timedelta(seconds=r["response"])))
            entries += [("approve_extension", created + timedelta(days=1))] * r["extensions"]
            for action, at in entries:
                await tx.conn.execute(
                    timeline.insert().values(
                        ticket_id=i, at=at, actor="x", role="agent", action=action,
                        to_state="received", payload={},
                    )
                )  # fmt: skip
            # a lead on each hop (the returns first), and a co-handler that never counts
            returned = list(r["returns"])
            for hop in range(1, max(r["hops"], len(returned)) + 1):
                who = returned[hop - 1] if hop <= len(returned) else r["dept"] or "eco"
                await tx.conn.execute(
                    dispatches.insert().values(
                        ticket_id=i, hop=hop, department=who, kind="lead",
                        dispatched_at=created, dispatched_by="x", code="C",
                        returned_at=created + timedelta(hours=1) if hop <= len(returned) else None,
                    )
                )  # fmt: skip
                await tx.conn.execute(
                    dispatches.insert().values(
                        ticket_id=i, hop=hop, department="housing" if who != "housing" else "eco",
                        kind="co", dispatched_at=created, dispatched_by="x", code="C",
                    )
                )  # fmt: skip


async def _fill_calls(store: Store, seed: int, n: int) -> None:
    """Random calls: answered fast or slow, abandoned, transfers to 110 and elsewhere."""
    rng = random.Random(seed)
    async with store.write() as tx:
        for i in range(n):
            start = T0 + timedelta(seconds=rng.randint(0, 80 * 86400))
            abandoned = rng.random() < 0.2
            wait = rng.choice([None, round(rng.uniform(0, 40), 3)])
            answered = None if abandoned else start + timedelta(seconds=wait or 0)
            cid = f"call-{seed}-{i}"
            await tx.conn.execute(
                calls.insert().values(
                    call_id=cid, direction="inbound", started_at=start, answered_at=answered,
                    queue_wait=wait, talk_time=None if abandoned else rng.choice(
                        [None, round(rng.uniform(10, 600), 3)]), abandoned=abandoned, record={},
                )
            )  # fmt: skip
            at = start + timedelta(seconds=60)
            for _ in range(rng.randint(0, 2) if not abandoned else 0):
                line = rng.choice(["110", "110@transfer-110", "8001", "12369"])
                at += timedelta(seconds=rng.randint(1, 30))
                await tx.conn.execute(
                    call_marks.insert().values(call_id=cid, at=at, what="transfer_requested",
                                               detail=line)
                )  # fmt: skip
                outcome = rng.choice(["transfer_answered", "transfer_failed", None])
                at += timedelta(seconds=rng.randint(1, 20), milliseconds=rng.randint(0, 999))
                if outcome:
                    await tx.conn.execute(
                        call_marks.insert().values(call_id=cid, at=at, what=outcome, detail="")
                    )
                await tx.conn.execute(
                    call_marks.insert().values(call_id=cid, at=at, what="answered", detail="")
                )


async def _reports_agree(service: FigureService, start: datetime, end: datetime) -> None:
    pure = await service.report(start, end, AT, path="pure")
    sql = await service.report(start, end, AT, path="sql")
    _same(pure.departments, sql.departments)
    _same(pure.districts, sql.districts)
    assert pure.center == sql.center
    for name in (
        "offered",
        "answered",
        "abandoned",
        "service_level",
        "transfers_110",
        "transfers_110_ok",
    ):
        assert getattr(pure.calls, name) == getattr(sql.calls, name), name
    for name in ("wait", "handle", "setup"):
        p, q = getattr(pure.calls, name), getattr(sql.calls, name)
        assert p[1] == q[1] and abs(p[0] - q[0]) < 0.01, name  # float sums, any order
    assert (pure.calls.asa, pure.calls.aht, pure.calls.setup_avg) == (
        sql.calls.asa,
        sql.calls.aht,
        sql.calls.setup_avg,
    )


def _same(a: dict[str | None, DepartmentFigures], b: dict[str | None, DepartmentFigures]) -> None:
    assert a.keys() == b.keys()
    for dept in a:
        assert a[dept] == b[dept], dept


async def _agree(
    url: str, rows: list[dict[str, Any]], seed: int = 0
) -> dict[str | None, DepartmentFigures]:
    store = create_store(url)
    try:
        await store.migrate()
        await _fill(store, rows)
        await _fill_calls(store, seed, 12)
        service = FigureService(store)
        start, end = T0, T0 + timedelta(days=81)
        pure, sql = await service.pure(start, end, AT), await service.sql(start, end, AT)
        _same(pure, sql)
        await _reports_agree(service, start, end)
        # and the pure path is what the facts give, ticket by ticket
        assert pure == by_department(await service.facts(start, end), AT)
        return pure
    finally:
        await store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ticket_rows, seed=st.integers(0, 10_000))
def test_pure_and_sql_agree_on_sqlite(rows: list[dict[str, Any]], seed: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(_agree(f"sqlite+aiosqlite:///{Path(d) / 'f.db'}", rows, seed))


async def _agree_on_fresh_pg(port: int, rows: list[dict[str, Any]], seed: int) -> None:
    name = f"f_{uuid.uuid4().hex}"
    await _pg_execute(port, f'CREATE DATABASE "{name}"')
    try:
        await _agree(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}", rows, seed)
    finally:
        await _pg_execute(port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ticket_rows, seed=st.integers(0, 10_000))
def test_pure_and_sql_agree_on_postgresql(
    pg_port: int, rows: list[dict[str, Any]], seed: int
) -> None:
    asyncio.run(_agree_on_fresh_pg(pg_port, rows, seed))


def _random_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "dept": rng.choice([*DEPTS, None]),
            "channel": rng.choice(["phone", "wechat", "mailbox", "web"]),
            "created": rng.randint(0, 80 * 24 * 3600),
            "response": rng.choice([None, rng.randint(0, 48 * 3600)]),
            "due": rng.choice([None, rng.randint(-5 * 86400, 40 * 86400)]),
            "result": rng.choice([None, rng.randint(0, 40 * 86400)]),
            "informed": rng.choice([None, rng.randint(0, 3 * 86400)]),
            "rating": rng.choice([None, *RatingLevel]),
            "returns": rng.sample(DEPTS, rng.randint(0, 2)),
            "extensions": rng.randint(0, 1),
            "district": rng.choice([*DISTRICTS, None]),
            "excluded": rng.random() < 0.1,
            "hops": rng.randint(1, 3),
        }
        for _ in range(n)
    ]


async def test_a_large_random_set_agrees_on_both_databases(store: Store) -> None:
    rows = _random_rows(600, seed=8)
    await _fill(store, rows)
    await _fill_calls(store, 8, 300)
    service = FigureService(store)
    start, end = T0, T0 + timedelta(days=81)
    pure = await service.pure(start, end, AT)
    _same(pure, await service.sql(start, end, AT))
    assert sum(f.tickets for f in pure.values()) == 600
    await _reports_agree(service, start, end)


async def test_limits_reached_exactly_count_on_both_databases(store: Store) -> None:
    # a WeChat reply at exactly 180 s and a citizen told exactly 24 h after the result are in
    # time; SQLite's float julianday must not push them over by a few microseconds
    base: dict[str, Any] = {
        "dept": "eco", "channel": "wechat", "due": None, "rating": None, "returns": [],
        "extensions": 0, "district": None, "excluded": False, "hops": 1,
    }  # fmt: skip
    rows = [
        {**base, "created": 3600 * k + 17, "response": 180, "result": 86_400 + k,
         "informed": 24 * 3600}
        for k in range(50)
    ] + [{**base, "created": 5, "response": 181, "result": 100,
          "informed": 24 * 3600 + 1}]  # fmt: skip
    await _fill(store, rows)
    service = FigureService(store)
    start, end = T0, T0 + timedelta(days=81)
    sql = await service.sql(start, end, AT)
    assert sql["eco"].response == (50, 51) and sql["eco"].feedback == (50, 51)
    _same(await service.pure(start, end, AT), sql)
