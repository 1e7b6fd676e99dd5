"""aiosqlite connections that run each statement in one trip to the driver thread.

aiosqlite runs SQLite in its own thread; SQLAlchemy's adapter asks that thread for a
cursor, then to execute, then to fetch, then to close: four round trips per statement,
which cost far more than SQLite's own work (measured ~400 µs per statement against ~2 µs
inside the thread). Here execute does all of it in one trip and keeps the outcome, so
fetch and close are answered on the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterable
from typing import Any

import aiosqlite

# Statements that may wait (for a lock, a disk): never run on the event loop (a BEGIN only
# when it would have to wait: see `_begin_at_once`).
_WAITS = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "VACUUM", "ANALYZE")
# How long a statement waits for another process's lock before "database is locked".
BUSY_TIMEOUT_MS = 10_000


class OneTripCursor(aiosqlite.Cursor):
    """A cursor whose execute also fetches every row and closes the SQLite cursor."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._rows: list[Any] = []
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    def _keep(self, cur: sqlite3.Cursor) -> None:
        self._description = cur.description
        self._rows = cur.fetchall() if cur.description else []
        self._rowcount = cur.rowcount
        self._lastrowid = cur.lastrowid
        cur.close()

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        """Execute, fetch and close in the driver thread (or at once: see `inline`)."""
        params = [] if parameters is None else parameters

        def run() -> None:
            self._keep(self._conn._conn.execute(sql, params))  # type: ignore[arg-type]

        await self._run(sql, run)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        """executemany in one trip."""

        def run() -> None:
            self._keep(self._conn._conn.executemany(sql, parameters))  # type: ignore[arg-type]

        await self._run(sql, run)
        return self

    async def _run(self, sql: str, run: Callable[[], None]) -> None:
        conn = self._conn
        if isinstance(conn, OneTripConnection) and conn.inline:
            if not sql.startswith(_WAITS):
                run()
                return
            if sql.startswith("BEGIN") and _begin_at_once(conn._conn, run):
                return
        await conn._execute(run)  # type: ignore[no-untyped-call]

    async def fetchone(self) -> Any:
        """The next kept row."""
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next kept rows."""
        n = size or self.arraysize
        out, self._rows = self._rows[:n], self._rows[n:]
        return out

    async def fetchall(self) -> list[Any]:
        """Every kept row."""
        out, self._rows = self._rows, []
        return out

    async def close(self) -> None:
        """Nothing left open in the driver thread."""
        self._rows = []

    def __await__(self) -> Generator[Any, None, OneTripCursor]:
        return self._itself().__await__()

    async def _itself(self) -> OneTripCursor:
        return self

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass


def _begin_at_once(db: sqlite3.Connection, begin: Callable[[], None]) -> bool:
    """Run `begin` on this thread if no other process holds the lock it takes; False if one
    does (nothing was begun: it is to wait in the driver thread instead).

    Within the process one writer at a time holds the store's write lock, so the wait
    is for another process only (a CLI command, a second server) and almost never
    happens; a trip to the thread costs ~150 µs of the loop every time.
    """
    db.execute("PRAGMA busy_timeout=0")
    try:
        begin()
    except sqlite3.OperationalError as e:
        if e.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            return False
        raise
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip per statement.

    `inline`: the statements of a short write transaction run at once on the event loop
    instead. Each is a few microseconds of SQLite work, while a trip to the driver thread
    and back costs ~150 µs here; a dozen of them made a one-contact commit take 15 ms.
    What can wait stays in the thread: a BEGIN that must wait for another process's
    write lock, and the commit (its fsync, and the WAL checkpoint that may follow).
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self.inline = False
        # A connection dropped unclosed must not keep the process alive at exit: its worker
        # thread waits on its queue forever when the finalizer cannot stop it.
        self._thread.daemon = True

    @property
    def in_transaction(self) -> bool:
        """SQLite's own connection has a transaction open."""
        return self._connection is not None and self._connection.in_transaction

    async def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE: at once, or in the driver thread if it must wait for a lock."""
        db = self._conn

        def begin() -> None:
            db.execute("BEGIN IMMEDIATE")

        if not _begin_at_once(db, begin):
            await self._execute(begin)  # type: ignore[no-untyped-call]

    async def commit_after(self, work: Callable[[], None]) -> None:
        """Run `work` (statements of the open transaction) and commit, in one trip."""
        db = self._conn

        def run() -> None:
            work()
            db.commit()

        await self._execute(run)  # type: ignore[no-untyped-call]

    async def rollback(self) -> None:
        """Roll back, without a trip when there is nothing to roll back: the pool does this
        each time it takes a connection back, after a commit as after a read."""
        if not self.in_transaction:
            return
        await super().rollback()

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        """A cursor made on the event loop; its SQLite cursor lives only inside execute.

        Like aiosqlite's own, the result can be awaited or used with ``async with``.
        """
        return OneTripCursor(self)


async def connect(path: str) -> OneTripConnection:
    """Open a database file the way SQLAlchemy's aiosqlite dialect would."""
    conn = OneTripConnection(
        # Prepared statements kept: 1024, not the default 128. A batch's IN lists and
        # multi-row inserts have one SQL text per size, so the intake alone cycles through
        # hundreds, and a statement prepared again costs more than running it.
        lambda: sqlite3.connect(path, check_same_thread=False, cached_statements=1024),
        iter_chunk_size=64,
    )
    await conn
    return conn
