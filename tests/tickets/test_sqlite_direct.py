"""Fixed statements run below SQLAlchemy give exactly what SQLAlchemy's execution gives:
the same rows stored (byte for byte in SQLite) and the same values read back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, select

from hotline.demo import load_reference_data
from reports.service import FigureService
from tests.fakes.clock import FakeClock
from tickets import figure_rollups, sqlite_direct
from tickets import store as store_module
from tickets.bus import InProcessBus
from tickets.model import Attachment, Channel, CitizenIdentity, InboundContact, Location
from tickets.policy import TicketRules
from tickets.service import TicketService
from tickets.store import Store, create_store

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def _center(path: Path, direct: bool) -> tuple[Store, TicketService, FakeClock]:
    store = create_store(f"sqlite+aiosqlite:///{path}")
    store.direct_sql = direct
    await store.migrate()
    clock = FakeClock(T0)
    svc = TicketService(
        store=store, bus=InProcessBus(), rules=TicketRules(), forgery_key=b"k" * 32, clock=clock
    )
    await load_reference_data(svc)
    return store, svc, clock


def _contacts(round_: int) -> list[InboundContact]:
    """A mixed burst: new and known citizens, online and phone, repeats within the burst."""
    at = T0 + timedelta(minutes=round_)
    out = []
    for n in range(12):
        who = n % 5  # citizens come back in later rounds and within one
        if n % 3 == 0:
            channel, citizen = Channel.WECHAT, CitizenIdentity(wechat_openid=f"oW{who}")
        elif n % 3 == 1:
            channel, citizen = Channel.PHONE, CitizenIdentity(name="李四", phone=f"1380013800{who}")
        else:
            channel, citizen = Channel.MAILBOX, CitizenIdentity(email=f"c{who}@example.cn")
        out.append(
            InboundContact(
                channel=channel,
                external_id=f"r{round_}-{n}",
                citizen=citizen,
                text=f"第{round_}轮 {n}:路灯不亮,已经三天了 \u2028 'quoted' \"x\"",
                received_at=at,
                attachments=(Attachment(f"{n}.jpg", "image/jpeg", 1000 + n, f"media-{n}"),)
                if n % 4 == 0
                else (),
                location=Location(39.9, 116.4, "东城区") if n % 4 == 1 else None,
                category="complaint" if n % 2 else None,
                consent_publish=bool(n % 2),
            )
        )
    out.append(out[0])  # the platform's retry, inside the same burst
    return out


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as SQLite stores them (text, integers, exact bytes)."""
    db = sqlite3.connect(path)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            n: db.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall()
            for n in sorted(names)
            if n != "alembic_version"
        }
    finally:
        db.close()


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[list[tuple[Store, TicketService, FakeClock]]]:
    centers = [
        await _center(tmp_path / "direct.db", True),
        await _center(tmp_path / "sqlalchemy.db", False),
    ]
    yield centers
    for store, *_ in centers:
        await store.close()


async def test_the_intake_stores_and_answers_the_same_either_way(
    pair: list[tuple[Store, TicketService, FakeClock]], tmp_path: Path
) -> None:
    results = []
    for store, svc, clock in pair:
        await FigureService(store).rebuild_rollups(T0)  # the intake keeps them up: run those too
        got = []
        for r in range(3):
            clock.now = T0 + timedelta(minutes=r)
            got.append(await asyncio.gather(*(svc.accept(c) for c in _contacts(r))))
        results.append(got)
    assert results[0] == results[1]
    assert any(a.joined_existing for burst in results[0] for a in burst)
    assert any(a.duplicate for burst in results[0] for a in burst)
    direct, plain = _dump(tmp_path / "direct.db"), _dump(tmp_path / "sqlalchemy.db")
    assert direct == plain
    assert len(direct["contacts"]) == 36 and direct["figure_rollups"]


async def test_reads_give_the_same_values_and_types(
    pair: list[tuple[Store, TicketService, FakeClock]],
) -> None:
    store, svc, clock = pair[0]
    await FigureService(store).rebuild_rollups(T0)
    accepted = await asyncio.gather(*(svc.accept(c) for c in _contacts(0)))
    ids = sorted({a.ticket_id for a in accepted})
    async with store.write() as tx:
        await tx.add_dispatch(
            {"ticket_id": ids[1], "hop": 1, "department": "housing", "kind": "lead",
             "dispatched_at": T0, "dispatched_by": "agent01", "code": "C", "returned_at": T0}
        )  # fmt: skip
    asked: list[tuple[sqlite_direct.Fixed, dict[str, Any]]] = [
        (figure_rollups._FACTS, {"ids": ids}),
        (figure_rollups._RETURNED, {"ids": ids}),
        (figure_rollups._RULES, {}),
        (
            store_module._CONTACTS_BY_KEYS,
            {"channels": ["wechat", "phone"], "external_ids": ["r0-0", "r0-1", "nope"]},
        ),
        (store_module._CITIZENS_OF_KIND["wechat_openid"], {"values": ["oW0", "oW3", "oX"]}),
        (store_module._CITIZENS_OF_KIND["email"], {"values": ["c2@example.cn"]}),
        (
            store_module._OPEN_TICKETS_OF,
            {"ids": [1, 2, 3], "states": ["received", "dispatched"], "since": T0},
        ),
    ]
    async with store.write(short=True) as tx:
        assert tx.direct is not None
        for fixed, params in asked:
            below = await tx.rows(fixed, params)
            through = store_module._rows(await tx.conn.execute(fixed.statement, params))
            # an empty IN list is spelled differently: without ORDER BY the order may differ
            below, through = sorted(below, key=repr), sorted(through, key=repr)
            assert below == through, fixed.statement
            assert [[type(v) for v in r.values()] for r in below] == [
                [type(v) for v in r.values()] for r in through
            ]
            assert below or fixed is store_module._OPEN_TICKETS_OF, fixed.statement


async def test_a_broken_constraint_raises_what_sqlalchemy_raises(tmp_path: Path) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await store.migrate()
    row = {"day": "20261123", "count": 1}
    try:
        with pytest.raises(exc.IntegrityError):
            async with store.write(short=True) as tx:
                await tx.rows(store_module._insert_returning("citizens", ("phone",)),
                              [{"phone": "1", "name": None, "created_at": T0}] * 2)  # fmt: skip
        async with store.write(short=True) as tx:
            assert await tx.rows(store_module._NEXT_SEQUENCE["sqlite"], row) == [{"last": 1}]
            assert await tx.rows(store_module._NEXT_SEQUENCE["sqlite"], row) == [{"last": 2}]
        async with store.read() as tx:
            assert await tx.rows(select(store_module.citizens)) == []  # rolled back whole
    finally:
        await store.close()


async def test_a_large_insert_is_cut_below_sqlites_variable_limit(tmp_path: Path) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await store.migrate()
    rows = [{"phone": f"1{n:010d}", "name": f"n{n}", "created_at": T0} for n in range(12_000)]
    try:
        async with store.write(short=True) as tx:
            back = await tx.insert_many("citizens", rows, keys=["phone"])
        assert sorted(r["phone"] for r in back) == [r["phone"] for r in rows]
        assert len({r["id"] for r in back}) == 12_000
    finally:
        await store.close()


def test_what_it_cannot_run_exactly_is_refused_when_compiled() -> None:
    from sqlalchemy.dialects import sqlite

    t = Table("t", MetaData(), Column("id", Integer, primary_key=True),
              Column("made", String, default=lambda: "python-side"))  # fmt: skip
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, made TEXT)")
    dialect = sqlite.dialect(paramstyle="qmark")
    with pytest.raises(ValueError, match="Python-side defaults"):
        sqlite_direct.Fixed(t.insert()).run(db, dialect, {"id": 1})
    literal = select(t).where(t.c.id.in_([1, 2]))
    assert sqlite_direct.Fixed(literal).run(db, dialect) == []
    db.execute("INSERT INTO t VALUES (2, 'x')")
    assert sqlite_direct.Fixed(literal).run(db, dialect) == [{"id": 2, "made": "x"}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(json_values)
def test_the_stores_json_text_is_json_dumps(value: Any) -> None:
    assert store_module._json_text(value) == json.dumps(value)
