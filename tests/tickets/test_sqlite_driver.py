"""The SQLite driver's short write transactions: their statements run on the event loop's
thread, the commit still in the driver's thread, BEGIN there only when it must wait for
another process's lock; a failed one leaves the connection as it found it, and what it
wrote is rolled back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tickets import sqlite_driver
from tickets.store import create_store
from tickets.tables import citizens


async def test_short_writes_run_on_the_loop_and_commit_in_the_thread(tmp_path: Path) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'short.db'}")
    await store.migrate()
    threads: dict[str, set[str]] = {}
    run = sqlite_driver.OneTripCursor._run

    async def spying(self: sqlite_driver.OneTripCursor, sql: str, work: object) -> None:
        def where() -> None:
            threads.setdefault(sql.split()[0], set()).add(threading.current_thread().name)
            work()  # type: ignore[operator]

        await run(self, sql, where)

    sqlite_driver.OneTripCursor._run = spying  # type: ignore[method-assign]
    loop_thread = threading.current_thread().name
    try:
        async with store.write(short=True) as tx:
            await tx.conn.execute(
                citizens.insert().values(phone="13800138000", created_at=func.now())
            )
        assert threads["INSERT"] == {loop_thread}
        assert threads["BEGIN"] == {loop_thread}  # nobody else held the lock: no trip

        threads.clear()
        with pytest.raises(RuntimeError):
            async with store.write(short=True) as tx:
                await tx.conn.execute(
                    citizens.insert().values(phone="13900139000", created_at=func.now())
                )
                raise RuntimeError("the unit of work fails")
        async with store.write() as tx:  # the same pooled connection, not short any more
            await tx.conn.execute(text("UPDATE citizens SET name = 'x'"))
        assert threads["UPDATE"] and loop_thread not in threads["UPDATE"]
    finally:
        sqlite_driver.OneTripCursor._run = run  # type: ignore[method-assign]
    async with store.read() as tx:
        phones = [r[0] for r in await tx.conn.execute(select(citizens.c.phone))]
    assert phones == ["13800138000"]  # the failed one rolled back
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

    async def counting(self: sqlite_driver.OneTripConnection, fn: object) -> object:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn)  # type: ignore[arg-type]

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
