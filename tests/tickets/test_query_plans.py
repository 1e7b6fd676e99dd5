"""The intake's lookups search an index on SQLite, never scan a table that grows with
every contact (a scan per accepted batch is invisible in a small test database and
ruinous at millions of contacts)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tickets import figure_rollups
from tickets import store as store_module
from tickets.sqlite_direct import Fixed
from tickets.store import create_store

LOOKUPS: list[tuple[str, Fixed, dict[str, Any]]] = [
    (
        "contacts by (channel, external id)",
        store_module._CONTACTS_BY_KEYS,
        {"channels": ["sms", "wechat"], "external_ids": ["a", "b", "c"]},
    ),
    *(
        (f"citizens by {kind}", fixed, {"values": ["x", "y"]})
        for kind, fixed in store_module._CITIZENS_OF_KIND.items()
    ),
    (
        "open tickets of citizens",
        store_module._OPEN_TICKETS_OF,
        {"ids": [1, 2], "states": ["received"], "since": datetime(2026, 11, 23, tzinfo=UTC)},
    ),
    ("ticket facts for the roll-ups", figure_rollups._FACTS, {"ids": [1, 2]}),
    ("returned dispatches", figure_rollups._RETURNED, {"ids": [1, 2]}),
]


@pytest.mark.parametrize(("what", "fixed", "params"), LOOKUPS, ids=[w for w, *_ in LOOKUPS])
async def test_the_intake_lookup_searches_an_index(
    tmp_path: Path, what: str, fixed: Fixed, params: dict[str, Any]
) -> None:
    store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    await store.migrate()
    try:
        async with store.write(short=True) as tx:
            assert tx.direct is not None
            plan = fixed._plan(tx.conn.dialect, tuple(sorted(params)), many=False)
            sql, values = plan.sql_for(params)
            steps = [r[-1] for r in tx.direct.execute("EXPLAIN QUERY PLAN " + sql, values)]
    finally:
        await store.close()
    assert not [s for s in steps if s.startswith("SCAN")], steps
    assert [s for s in steps if s.startswith("SEARCH")], steps
    if fixed is store_module._CONTACTS_BY_KEYS:
        assert any("(channel=? AND external_id=?)" in s for s in steps), steps
