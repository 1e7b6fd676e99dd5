"""The intake's lookups search an index on SQLite, never scan a table that grows with
every contact (a scan per accepted batch is invisible in a small test database and
ruinous at millions of contacts)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import Select

from tickets import store as store_module
from tickets.store import create_store


def _sql(stmt: Select, **params: object) -> str:
    compiled = stmt.params(**params).compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


async def test_the_dedupe_lookup_searches_the_unique_index(tmp_path: Path) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    await store.migrate()
    try:
        sql = _sql(
            store_module._CONTACTS_BY_KEYS.statement,
            channels=["sms", "wechat"],
            external_ids=["a", "b", "c"],
        )
        async with store.read() as tx:
            plan = [r[-1] for r in await tx.conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
        contacts_steps = [p for p in plan if " contacts" in p]
        assert contacts_steps, plan
        assert all(p.startswith("SEARCH") for p in contacts_steps), plan
        assert any("(channel=? AND external_id=?)" in p for p in contacts_steps), plan
    finally:
        await store.close()
