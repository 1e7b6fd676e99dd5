"""What SQL a store runs: on PostgreSQL as SQLAlchemy executes it, on SQLite as SQLite
itself sees it (short writes run their fixed statements below SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tickets.store import Store


@contextmanager
def statements_seen(store: Store) -> Iterator[list[str]]:
    """The statements run by connections taken from the pool while the block runs."""
    seen: list[str] = []
    engine = store.engine.sync_engine
    if not store.is_sqlite:

        def note(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", note)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", note)
        return

    def trace(dbapi_conn: Any, *rest: Any) -> None:
        dbapi_conn.driver_connection._conn.set_trace_callback(seen.append)

    def untrace(dbapi_conn: Any, *rest: Any) -> None:
        dbapi_conn.driver_connection._conn.set_trace_callback(None)

    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
