"""The SQLite driver's short write transactions: their statements run on the event loop's
thread, BEGIN and the commit still in the driver's thread; a failed one leaves the
connection as it found it, and what it wrote is rolled back."""

from __future__ import annotations

import threading
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
        assert loop_thread not in threads["BEGIN"]  # it may wait for another writer

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
