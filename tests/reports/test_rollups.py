"""Figure roll-ups on SQLite and PostgreSQL: a rebuilt roll-up gives the pure figures for any
period (whole days from the roll-up, partial ones from the tickets), and a random run of
ticket changes through the service leaves the maintained roll-up equal to a recount."""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.figures import Rules
from reports.service import FigureService
from tests.conftest import _pg_execute
from tests.fakes.clock import FakeClock
from tests.reports.test_figures import AT, T0, _fill, _random_rows, _reports_agree, _same
from tests.reports.test_figures import ticket_rows as ticket_rows
from tests.sql_seen import statements_seen
from tickets import figure_rollups as fr
from tickets.lifecycle import Action, LifecycleError
from tickets.model import (
    Channel,
    CitizenIdentity,
    InboundContact,
    RatingLevel,
    Role,
    State,
    TimelineEntry,
)
from tickets.privacy import Viewer
from tickets.service import TicketError, TicketService
from tickets.store import Store, create_store
from tickets.tables import departments, figure_rollups

AGENT = Viewer("agent01", Role.AGENT)
SUP = Viewer("supervisor", Role.SUPERVISOR)
DEPTS = ["chengguan", "eco", "housing"]


async def _periods_agree(service: FigureService, spans: list[tuple[datetime, datetime]]) -> None:
    for start, end in spans:
        _same(await service.pure(start, end, AT), await service.sql(start, end, AT))
        _same(
            (await service.report(start, end, AT, path="pure")).districts,
            (await service.report(start, end, AT, path="sql")).districts,
        )
        await _reports_agree(service, start, end)


def _spans(rng: random.Random) -> list[tuple[datetime, datetime]]:
    """The whole range, local-day aligned periods, and periods cut anywhere."""
    day0 = fr.day_start(fr.local_day(T0))
    spans = [(T0, T0 + timedelta(days=81)), (day0, day0 + timedelta(days=30))]
    for _ in range(3):
        a = T0 + timedelta(seconds=rng.randint(-86400, 60 * 86400))
        spans.append((a, a + timedelta(seconds=rng.randint(3600, 40 * 86400))))
    first = fr.day_start(fr.local_day(T0) + timedelta(days=rng.randint(0, 40)))
    spans.append((first, first + timedelta(days=rng.randint(1, 30))))
    return spans


async def _rebuilt_agrees(url: str, rows: list[dict[str, Any]], seed: int) -> None:
    store = create_store(url)
    try:
        await store.migrate()
        await _fill(store, rows)
        service = FigureService(store)
        await service.rebuild_rollups(AT)
        await _periods_agree(service, _spans(random.Random(seed)))
        # other limits than the roll-up's: summed from the tickets, still the same figures
        strict = FigureService(store, Rules(feedback_hours=1))
        _same(
            await strict.pure(T0, T0 + timedelta(days=81), AT),
            await strict.sql(T0, T0 + timedelta(days=81), AT),
        )
    finally:
        await store.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ticket_rows, seed=st.integers(0, 10_000))
def test_rebuilt_rollup_gives_the_pure_figures_on_sqlite(
    rows: list[dict[str, Any]], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(_rebuilt_agrees(f"sqlite+aiosqlite:///{Path(d) / 'r.db'}", rows, seed))


async def _rebuilt_agrees_on_fresh_pg(port: int, rows: list[dict[str, Any]], seed: int) -> None:
    name = f"r_{uuid.uuid4().hex}"
    await _pg_execute(port, f'CREATE DATABASE "{name}"')
    try:
        await _rebuilt_agrees(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}", rows, seed)
    finally:
        await _pg_execute(port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ticket_rows, seed=st.integers(0, 10_000))
def test_rebuilt_rollup_gives_the_pure_figures_on_postgresql(
    pg_port: int, rows: list[dict[str, Any]], seed: int
) -> None:
    asyncio.run(_rebuilt_agrees_on_fresh_pg(pg_port, rows, seed))


async def test_a_large_random_set_through_the_rollup(store: Store) -> None:
    await _fill(store, _random_rows(500, seed=11))
    service = FigureService(store)
    written = await service.rebuild_rollups(AT)
    assert written > 0
    await _periods_agree(service, _spans(random.Random(11)))


async def _table(store: Store) -> fr.Share:
    async with store.read() as tx:
        return await fr.table(tx)


def _dept(service: TicketService, code: str) -> Viewer:
    return Viewer(f"{code}-user", Role.DEPARTMENT, code, service.scope_of(code))


async def _random_changes(
    service: TicketService, clock: FakeClock, rng: random.Random, steps: int
) -> int:
    """Accept contacts and walk random tickets through random actions; returns how many
    actions were taken (the lifecycle refuses the ones that do not apply)."""
    numbers: list[str] = []
    done = 0
    for _ in range(steps):
        clock.advance(minutes=rng.randint(1, 400))
        if not numbers or rng.random() < 0.25:
            contact = InboundContact(
                channel=rng.choice([Channel.PHONE, Channel.WECHAT, Channel.WEB]),
                external_id=f"c-{uuid.uuid4().hex[:10]}",
                citizen=CitizenIdentity(name="张三", phone=f"1380013{rng.randint(0, 9999):04d}"),
                text=rng.choice(["小区门口夜间施工噪声扰民。", "路灯坏了,晚上很黑。"]),
                received_at=clock(),
            )
            numbers.append((await service.accept(contact)).ticket_number)
            continue
        number = rng.choice(numbers)
        async with service.store.read() as tx:
            row = await tx.ticket(number=number)
        assert row is not None
        dept = rng.choice(DEPTS)
        # the department acting is the one leading the order, mostly
        d = _dept(service, row["lead_department"] or dept if rng.random() < 0.9 else dept)
        choices = [
            (AGENT, Action.DISPATCH, {"department": dept}),
            (d, Action.SIGN, {}),
            (d, Action.RETURN, {"reason_code": "not_our_jurisdiction"}),
            (SUP, Action.ACCEPT_RETURN, {}),
            (d, Action.REQUEST_EXTENSION, {"days": 3}),
            (SUP, Action.APPROVE_EXTENSION, {}),
            (d, Action.SUBMIT_RESULT, {"result": "已处理。"}),
            (AGENT, Action.INFORM_CITIZEN, {}),
            (AGENT, Action.RECORD_RATING, {"rating": rng.choice(list(RatingLevel)).value}),
            (AGENT, Action.RESOLVE_ON_SPOT, {"result": "已当场答复。"}),
            (AGENT, Action.CANCEL, {}),
            (SUP, Action.REDISPATCH, {"department": dept}),
        ]
        rng.shuffle(choices)
        # the first of the shuffled actions the order's state allows
        for viewer, action, payload in choices:
            try:
                await service.act(number, viewer, action, reason="核实", payload=payload)
            except (LifecycleError, TicketError):
                continue
            done += 1
            break
        if rng.random() < 0.05:
            # an appeal upheld takes a rating out (what the review desk writes)
            async with service.store.write() as tx:
                row = await tx.ticket(number=number)
                assert row is not None
                if row["rating"]:
                    await tx.update_ticket(row["id"], row["version"], {"rating_excluded": True})
    return done


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_changes_keep_the_rollup_equal_to_a_recount(
    service: TicketService, clock: FakeClock, seed: int
) -> None:
    figures = FigureService(service.store)
    assert await figures.rebuild_rollups(clock()) == 0
    rng = random.Random(seed)
    for _ in range(3):
        done = await _random_changes(service, clock, rng, 70)
        assert done > 10
        kept = await _table(service.store)
        await figures.rebuild_rollups(clock())
        assert kept == await _table(service.store)
    assert sum(c["tickets"] for c in kept.values()) > 20
    # the run reached every kind of change the roll-up counts
    for name in ("responded", "on_time_d", "feedback_n", "cycle_n", "returns", "hops"):
        assert sum(c[name] for c in kept.values()) > 0, name
    assert sum(c[level.value] for c in kept.values() for level in RatingLevel) > 0
    assert sum(c["returns_made"] for c in kept.values()) == sum(c["returns"] for c in kept.values())
    first = fr.day_start(fr.local_day(clock()) - timedelta(days=40))
    start, end, at = first, fr.day_start(fr.local_day(clock()) + timedelta(days=1)), clock()
    pure = await figures.report(start, end, at, path="pure")
    sql = await figures.report(start, end, at, path="sql")
    _same(pure.departments, sql.departments)
    _same(pure.districts, sql.districts)
    assert pure.center == sql.center


async def test_a_write_that_fails_leaves_the_rollup_alone(
    service: TicketService, clock: FakeClock
) -> None:
    figures = FigureService(service.store)
    await figures.rebuild_rollups(clock())
    contact = InboundContact(
        channel=Channel.WECHAT,
        external_id="c-rollback",
        citizen=CitizenIdentity(name="李四", phone="13900139000"),
        text="路灯坏了。",
        received_at=clock(),
    )
    number = (await service.accept(contact)).ticket_number
    before = await _table(service.store)
    assert sum(c["tickets"] for c in before.values()) == 1
    with pytest.raises(RuntimeError):
        async with service.store.write() as tx:
            row = await tx.ticket(number=number)
            assert row is not None
            await tx.update_ticket(row["id"], row["version"], {"rating": "satisfied"})
            raise RuntimeError("refused")
    assert await _table(service.store) == before


async def test_the_rollup_serves_only_the_limits_it_was_built_under(store: Store) -> None:
    service, strict = FigureService(store), FigureService(store, Rules(feedback_hours=1))
    assert not await service.rollups_built()
    await service.rebuild_rollups(AT)
    assert await service.rollups_built() and not await strict.rollups_built()
    await strict.rebuild_rollups(AT)
    assert await strict.rollups_built() and not await service.rollups_built()


async def test_rollup_rows_are_keyed_by_the_centers_day(store: Store) -> None:
    # 23:30 UTC is 07:30 the next morning in Beijing
    late = datetime(2026, 10, 3, 23, 30, tzinfo=UTC)
    assert fr.local_day(late) == date(2026, 10, 4)
    assert fr.day_start(date(2026, 10, 4)) == datetime(2026, 10, 3, 16, 0, tzinfo=UTC)
    rows = _random_rows(1, seed=3)
    rows[0].update(created=int((late - T0).total_seconds()), returns=[], dept="eco")
    await _fill(store, rows)
    await FigureService(store).rebuild_rollups(AT)
    async with store.read() as tx:
        days = [r.day for r in await tx.conn.execute(figure_rollups.select())]
    assert days == [date(2026, 10, 4)]


async def test_a_rebuild_range_by_range_adds_up_to_the_whole(store: Store) -> None:
    rows = _random_rows(40, seed=11)
    for i, row in enumerate(rows[:10]):  # ten orders of one roll-up row, ids apart
        row.update(dept="eco", district=None, channel="wechat", created=86400 + 60 * i)
    await _fill(store, rows)
    service = FigureService(store)
    await service.rebuild_rollups(AT)
    whole = await _table(store)
    for chunk in (1, 7):
        async with store.write() as tx:
            await fr.rebuild(tx, service.rollup_rules(), AT, chunk=chunk)
        assert await _table(store) == whole
    assert sum(c["tickets"] for c in whole.values()) == 40
    assert max(c["tickets"] for c in whole.values()) >= 10
    assert await service.rollups_built()


def _new_ticket(n: int, at: datetime, **values: Any) -> dict[str, Any]:
    return {
        "number": f"20261001-{n:06d}", "state": "received", "channel": "wechat",
        "created_at": at, "updated_at": at, "last_contact_at": at, **values,
    }  # fmt: skip


async def test_tickets_made_and_changed_in_one_transaction_are_counted_as_they_end(
    store: Store,
) -> None:
    """A ticket's share is taken from its row as inserted only while nothing else in the
    transaction touched it: one led and due, one responded to, one dispatched, one left
    alone, all created and changed in one unit of work."""
    figures = FigureService(store)
    await figures.rebuild_rollups(AT)
    at = T0 + timedelta(hours=3)
    async with store.write(short=True) as tx:
        for code in DEPTS:
            await tx.conn.execute(departments.insert().values(code=code, name_zh=code, kind="city"))
        made = await tx.insert_many(
            "tickets", [_new_ticket(n, at, district=None) for n in range(1, 5)], keys=["number"]
        )
        ids = sorted(int(r["id"]) for r in made)
        await tx.update_ticket(ids[0], 1, {"lead_department": "eco", "due_at": at, "result_at": at})
        entry = TimelineEntry(
            at=at + timedelta(seconds=30), actor="agent01", role=Role.AGENT,
            action="dispatch", from_state=None, to_state=State.DISPATCHED,
        )  # fmt: skip
        await tx.add_timeline_many([(ids[1], entry)])
        for hop in (1, 2):  # dispatched, then dispatched again
            await tx.add_dispatch(
                {"ticket_id": ids[2], "hop": hop, "department": "housing", "kind": "lead",
                 "dispatched_at": at, "dispatched_by": "agent01", "code": "C"}
            )  # fmt: skip
    kept = await _table(store)
    await figures.rebuild_rollups(AT)
    assert kept == await _table(store)
    assert sum(c["tickets"] for c in kept.values()) == 4
    assert sum(c["on_time_d"] for c in kept.values()) == 1
    assert sum(c["responded"] for c in kept.values()) == 1
    assert sum(c["hops"] for c in kept.values()) == 1


async def test_new_tickets_are_settled_without_being_read_back(store: Store) -> None:
    """The roll-up share of a ticket just created comes from its inserted row: accepting a
    batch reads no ticket facts and no returns (two statements on every accepted batch)."""
    await FigureService(store).rebuild_rollups(AT)
    with statements_seen(store) as seen:
        async with store.write(short=True) as tx:
            await tx.insert_many(
                "tickets", [_new_ticket(n, T0, district=None) for n in range(1, 4)], ["number"]
            )
    assert not [s for s in seen if s.lstrip().startswith("SELECT tickets.id")]
    assert not [s for s in seen if "FROM dispatches" in s]
    assert [s for s in seen if s.startswith("INSERT INTO figure_rollups")]
    assert sum(c["tickets"] for c in (await _table(store)).values()) == 3
