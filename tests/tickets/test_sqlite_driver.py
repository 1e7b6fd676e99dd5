"""The SQLite driver's short write transactions: their statements run on the event loop's
thread, the commit still in the driver's thread, BEGIN there only when it must wait for
another process's lock; a failed one leaves the connection as it found it, and what it
wrote is rolled back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, func, select, text

from tickets import sqlite_driver
from tickets import store as store_module
from tickets.store import create_store
from tickets.tables import citizens

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_short_writes_run_on_the_loop_and_commit_in_the_thread(tmp_path: Path) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'short.db'}")
    threads: dict[str, set[str]] = {}

    def where(sql: str) -> None:  # SQLite calls it on the thread running the statement
        threads.setdefault(sql.split()[0], set()).add(threading.current_thread().name)

    def trace(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.driver_connection._conn.set_trace_callback(where)

    event.listen(store.engine.sync_engine, "connect", trace)
    await store.migrate()
    loop_thread = threading.current_thread().name
    threads.clear()
    async with store.write(short=True) as tx:
        await tx.rows(store_module._insert_returning("citizens", ("phone",)),
                      [{"phone": "13800138000", "name": None, "created_at": T0}])  # fmt: skip
        await tx.conn.execute(  # through SQLAlchemy: it joins the transaction
            citizens.insert().values(phone="13800138001", created_at=func.now())
        )
    assert threads["INSERT"] == {loop_thread}
    assert threads["BEGIN"] == {loop_thread}  # nobody else held the lock: no trip
    assert threads["COMMIT"] and loop_thread not in threads["COMMIT"]

    threads.clear()
    with pytest.raises(RuntimeError):
        async with store.write(short=True) as tx:
            await tx.conn.execute(
                citizens.insert().values(phone="13900139000", created_at=func.now())
            )
            raise RuntimeError("the unit of work fails")
    with pytest.raises(RuntimeError):
        async with store.write(short=True) as tx:
            await tx.rows(store_module._insert_returning("citizens", ("phone",)),
                          [{"phone": "13900139001", "name": None, "created_at": T0}])  # fmt: skip
            raise RuntimeError("the unit of work fails")
    assert "ROLLBACK" in threads
    async with store.write() as tx:  # a pooled connection, not short
        await tx.conn.execute(text("UPDATE citizens SET name = 'x'"))
    assert threads["UPDATE"] and loop_thread not in threads["UPDATE"]
    async with store.read() as tx:
        phones = [r[0] for r in await tx.conn.execute(select(citizens.c.phone))]
    assert sorted(phones) == ["13800138000", "13800138001"]  # the failed ones rolled back
    await store.close()


async def test_a_begin_that_must_wait_waits_in_the_driver_thread(tmp_path: Path) -> None:
    """Another process holds the write lock: the loop keeps running while BEGIN waits."""
    path = tmp_path / "locked.db"
    store = create_store(f"sqlite+aiosqlite:///{path}")
    await store.migrate()
    other = sqlite3.connect(path, isolation_level=None)  # as a CLI command's would be
    other.execute("BEGIN IMMEDIATE")

    async def write() -> float:
        async with store.write(short=True) as tx:
            await tx.conn.execute(
                citizens.insert().values(phone="13700137000", created_at=func.now())
            )
        return time.perf_counter()

    writing = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):  # the loop is not held while the writer waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert not writing.done()
    released = time.perf_counter()
    other.rollback()
    other.close()
    assert await asyncio.wait_for(writing, 5) >= released
    assert ticks == 20
    async with store.read() as tx:
        phones = [r[0] for r in await tx.conn.execute(select(citizens.c.phone))]
        timeout = (await tx.conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    assert phones == ["13700137000"]
    assert timeout == sqlite_driver.BUSY_TIMEOUT_MS  # the quick try left it as it was
    await store.close()


async def test_returning_a_connection_costs_no_trip_when_nothing_is_open(tmp_path: Path) -> None:
    """The pool rolls back every connection it takes back: after a commit (or a read that
    rolled back) there is nothing to roll back, and no trip to the driver thread."""
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    await store.migrate()
    trips: list[str] = []
    execute = sqlite_driver.OneTripConnection._execute

    async def counting(self: sqlite_driver.OneTripConnection, fn: object, *a: Any) -> object:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn, *a)  # type: ignore[arg-type]

    async with store.write(short=True):  # connections are opened once: the short writes'
        pass
    async with store.read():  # and the pool's
        pass
    sqlite_driver.OneTripConnection._execute = counting  # type: ignore[method-assign]
    try:
        async with store.write(short=True) as tx:
            await tx.conn.execute(
                citizens.insert().values(phone="13600136000", created_at=func.now())
            )
        assert trips == ["commit"]  # BEGIN ran at once; the pool's rollback was not needed
        trips.clear()
        async with store.read() as tx:
            await tx.conn.execute(select(citizens.c.id))
        # BEGIN, the SELECT, and the rollback that ends the read's snapshot; not the pool's
        assert trips == ["run", "run", "rollback"]
    finally:
        sqlite_driver.OneTripConnection._execute = execute  # type: ignore[method-assign]
    await store.close()


async def test_the_kept_connection_survives_failed_and_cancelled_short_writes(
    tmp_path: Path,
) -> None:
    """Short writes share one kept connection: one that fails on a constraint, or whose
    task is cancelled mid-way, rolls back whole and leaves it ready for the next."""
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}")
    await store.migrate()
    insert = store_module._insert_returning("citizens", ("phone",))

    def row(phone: str) -> dict[str, Any]:
        return {"phone": phone, "name": None, "created_at": T0}

    with pytest.raises(exc.IntegrityError):
        async with store.write(short=True) as tx:
            await tx.rows(insert, [row("1"), row("2")])
            await tx.rows(insert, [row("2")])  # the second "2" breaks the unique key
    started = asyncio.Event()

    async def stuck() -> None:
        async with store.write(short=True) as tx:
            await tx.rows(insert, [row("3")])
            started.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(stuck())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with store.write(short=True) as tx:
        await tx.rows(insert, [row("4")])
        await tx.conn.execute(citizens.insert().values(phone="5", created_at=func.now()))
    async with store.write(short=True) as tx:
        await tx.rows(insert, [row("6")])
    async with store.read() as tx:
        phones = sorted(r["phone"] for r in await tx.rows(select(citizens)))
    assert phones == ["4", "5", "6"]
    await store.close()


async def test_inserts_wait_for_the_commit_and_run_in_its_trip(tmp_path: Path) -> None:
    """In a short write, inserts nothing reads back are bound on the loop and run in the
    driver thread with the commit; the ids given out are those SQLite would give."""
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'later.db'}")
    threads: dict[str, set[str]] = {}

    def where(sql: str) -> None:
        threads.setdefault(sql.split()[0], set()).add(threading.current_thread().name)

    def trace(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.driver_connection._conn.set_trace_callback(where)

    event.listen(store.engine.sync_engine, "connect", trace)
    await store.migrate()
    async with store.write() as tx:  # one row there already
        await tx.conn.execute(citizens.insert().values(id=1, phone="0", created_at=T0))
    loop_thread = threading.current_thread().name
    threads.clear()
    async with store.write(short=True) as tx:
        first = await tx.insert_many("citizens", [{"phone": "1", "created_at": T0}], ["phone"])
        more = await tx.insert_many(
            "citizens", [{"phone": p, "created_at": T0} for p in "23"], ["phone"]
        )
        assert tx.later  # nothing has run yet
    assert loop_thread not in threads["INSERT"] and loop_thread not in threads["COMMIT"]
    assert [r["id"] for r in first + more] == [2, 3, 4]
    async with store.read() as tx:
        stored = await tx.rows(select(citizens.c.id, citizens.c.phone).order_by(citizens.c.id))
    assert [(r["id"], r["phone"]) for r in stored] == [(1, "0"), (2, "1"), (3, "2"), (4, "3")]
    await store.close()


async def test_what_reads_the_tables_sees_the_inserts_waiting_for_the_commit(
    tmp_path: Path,
) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'seen.db'}")
    await store.migrate()
    async with store.write(short=True) as tx:
        await tx.insert_many("citizens", [{"phone": "1", "created_at": T0}], ["phone"])
        # a fixed statement on the table runs them first
        found = await tx.rows(store_module._CITIZENS_OF_KIND["phone"], {"values": ["1"]})
        assert [r["phone"] for r in found] == ["1"] and not tx.later
        await tx.insert_many("citizens", [{"phone": "2", "created_at": T0}], ["phone"])
        # any statement through SQLAlchemy too; and the ids are counted afresh after it
        n = (await tx.conn.execute(select(func.count()).select_from(citizens))).scalar_one()
        assert n == 2
        await tx.conn.execute(citizens.insert().values(id=10, phone="x", created_at=T0))
        [row] = await tx.insert_many("citizens", [{"phone": "3", "created_at": T0}], ["phone"])
        assert row["id"] == 11
    async with store.read() as tx:
        assert len(await tx.rows(select(citizens))) == 4
    await store.close()


async def test_an_insert_failing_at_the_commit_rolls_back_the_whole_write(tmp_path: Path) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'failing.db'}")
    await store.migrate()
    with pytest.raises(exc.IntegrityError):
        async with store.write(short=True) as tx:
            await tx.insert_many("citizens", [{"phone": "1", "created_at": T0}], ["phone"])
            await tx.insert_many("citizens", [{"phone": "1", "created_at": T0}], ["phone"])
            assert len(tx.later) == 2  # the unique phone is broken only at the commit
    async with store.write(short=True) as tx:
        [row] = await tx.insert_many("citizens", [{"phone": "2", "created_at": T0}], ["phone"])
    assert row["id"] == 1  # the failed write left nothing, and the kept connection works
    async with store.read() as tx:
        assert [r["phone"] for r in await tx.rows(select(citizens))] == ["2"]
    await store.close()
