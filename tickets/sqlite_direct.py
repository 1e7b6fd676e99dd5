"""Fixed statements of the short write transactions, run straight on SQLite's connection.

SQLAlchemy's async execution costs ~100 µs of the event loop a statement (its execution
context, result object and a greenlet switch each way), while SQLite runs the intake's
small indexed statements in 2–20 µs; an accepted batch runs about a dozen. A statement
built once at import is wrapped in `Fixed`: SQLAlchemy compiles it (the same SQL text and
the same bind and result processing its own execution uses), once per set of parameter
names, and inside a short write (`Store.write(short=True)`, where the connection already
runs statements on the loop) `Tx.rows` hands it to sqlite3 directly. Everywhere else, and
always on PostgreSQL, the same statement goes through SQLAlchemy. An insert that gives
nothing back can also be bound now and run later (`Fixed.later`, `run_all`): the short
write runs those in its commit's trip to the driver thread.
`tests/tickets/test_sqlite_direct.py` holds the two paths to the same rows and results.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.util import find_tables

Row = dict[str, Any]
Statement = tuple[str, list[Any]]  # SQL text and its bound values
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Processor = Callable[[Any], Any] | None

# SQLite refuses statements with more bound values than this (its compile-time default
# since 3.32); a multi-row insert is cut into statements below it.
_MAX_VARIABLES = 32_766
_POSTCOMPILE = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True)
class _Slot:
    """One `?` of the compiled SQL: where its value comes from, and how it is bound."""

    name: str
    const: bool  # a value fixed in the statement (`x + 1`, a literal list) — not a parameter
    value: Any
    expanding: bool  # an IN list: one `?` per element
    bind: Processor


@dataclass(frozen=True)
class _Plan:
    """The statement compiled for one set of parameter names."""

    sql: str  # with `__[POSTCOMPILE_name]` where an IN list is spread
    slots: tuple[_Slot, ...]
    values: str  # one row's `VALUES` group of a multi-row insert ("" if not an insert)
    per_row: tuple[tuple[str, Processor], ...]  # run for many rows: each slot's name, bind
    returns: bool  # the statement gives rows back
    results: tuple[Processor, ...]  # per result column, in order

    def sql_for(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and its positional values for one set of parameters."""
        sql = self.sql
        out: list[Any] = []
        spread: dict[str, int] = {}
        for s in self.slots:
            value = s.value if s.const else params[s.name]
            if s.expanding:
                items = list(value)
                spread[s.name] = len(items)
                out.extend(items if s.bind is None else [s.bind(v) for v in items])
            else:
                out.append(value if s.bind is None else s.bind(value))
        if spread:
            sql = _POSTCOMPILE.sub(lambda m: ", ".join("?" * spread[m.group(1)]), sql)
        return sql, out

    def row_values(self, row: Mapping[str, Any]) -> list[Any]:
        """One row's values of a statement run for many rows (each slot a parameter)."""
        return [row[name] if bind is None else bind(row[name]) for name, bind in self.per_row]

    def inserts(self, rows: Sequence[Mapping[str, Any]]) -> Iterator[Statement]:
        """A multi-row insert's statements: all rows in one, unless that passes SQLite's
        limit on bound values (one statement is also one release of the GIL while SQLite
        works, where running it per row would take the GIL back after every row)."""
        per = max(1, _MAX_VARIABLES // max(1, len(self.slots)))
        for i in range(0, len(rows), per):
            page = rows[i : i + per]
            sql = self.sql.replace(self.values, ", ".join([self.values] * len(page)), 1)
            yield sql, [v for r in page for v in self.row_values(r)]

    def rows_of(self, cur: sqlite3.Cursor) -> list[Row]:
        """The cursor's rows as dicts, each value through its column's result processing."""
        if not self.returns:
            return []
        names = [d[0] for d in cur.description]
        procs = self.results
        out = []
        for r in cur.fetchall():
            values = [v if p is None else p(v) for p, v in zip(procs, r, strict=True)]
            out.append(dict(zip(names, values, strict=True)))
        return out


class Fixed:
    """A statement built once, runnable below SQLAlchemy on SQLite (see the module doc)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[tuple[str, ...], bool], _Plan] = {}
        # every table it reads or writes: a statement waiting for the commit on one of
        # them runs first (`Tx.rows`)
        found = find_tables(statement, check_columns=True, include_crud=True)  # type: ignore[arg-type]
        self.tables = frozenset(t.name for t in found if isinstance(t, Table))

    def run(self, db: sqlite3.Connection, dialect: Dialect, params: Params = None) -> list[Row]:
        """Execute on `db` (in the caller's transaction) and return the rows it gives back."""
        if params is None or isinstance(params, Mapping):
            one = params or {}
            plan = self._plan(dialect, tuple(sorted(one)), many=False)
            sql, values = plan.sql_for(one)
            return plan.rows_of(_execute(db, sql, values))
        rows = list(params)
        if not rows:
            return []
        plan = self._plan(dialect, tuple(sorted(rows[0])), many=True)
        if not plan.values:  # an update: SQLite runs it once per row, in C
            return _execute_many(db, plan.sql, [plan.row_values(r) for r in rows])
        out: list[Row] = []
        for sql, values in plan.inserts(rows):
            out.extend(plan.rows_of(_execute(db, sql, values)))
        return out

    def later(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> list[Statement]:
        """The statements inserting `rows`, bound now, to run at the commit (`run_all`)."""
        if not rows:
            return []
        plan = self._plan(dialect, tuple(sorted(rows[0])), many=True)
        if not plan.values or plan.returns:
            raise ValueError("only an insert that gives nothing back can wait for the commit")
        return list(plan.inserts(rows))

    def _plan(self, dialect: Dialect, names: tuple[str, ...], many: bool) -> _Plan:
        plan = self._plans.get((names, many))
        if plan is None:
            plan = self._plans[names, many] = _compile(self.statement, dialect, names, many)
        return plan


def _compile(statement: Executable, dialect: Dialect, names: tuple[str, ...], many: bool) -> _Plan:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
    if compiled.positional is False or dialect.paramstyle != "qmark":
        raise ValueError("sqlite_direct needs SQLite's qmark parameters")
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        raise ValueError("columns with Python-side defaults are not supported here")
    slots = []
    for name in compiled.positiontup or ():
        b = compiled.binds[name]
        if b.literal_execute:
            raise ValueError(f"literal-execute parameter {name} is not supported here")
        const = name not in names
        if const and b.callable is not None:
            raise ValueError(f"callable parameter {name} is not supported here")
        if many and (const or b.expanding):
            raise ValueError(f"{name}: a statement run for many rows binds only its parameters")
        impl = b.type.dialect_impl(dialect)
        bind = impl.bind_processor(dialect)
        slots.append(_Slot(name, const, b.value, b.expanding, bind))
    sql: str = compiled.string
    values = ""
    if many and statement.is_insert:
        group = f"({', '.join('?' * len(slots))})"
        if sql.count(f"VALUES {group}") != 1:
            raise ValueError("a multi-row insert must bind each column once, by name")
        values = group
    columns = compiled.returning or (
        statement.selected_columns if isinstance(statement, Select) else ()
    )
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    per_row = tuple((s.name, s.bind) for s in slots) if many else ()
    return _Plan(sql, tuple(slots), values, per_row, bool(columns), results)


def run_all(db: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """Run statements bound earlier (`Fixed.later`), in order."""
    for sql, values in statements:
        _execute(db, sql, values)


def _execute(db: sqlite3.Connection, sql: str, values: list[Any]) -> sqlite3.Cursor:
    try:
        return db.execute(sql, values)
    except sqlite3.Error as e:
        raise _wrapped(sql, values, e) from e


def _execute_many(db: sqlite3.Connection, sql: str, rows: list[list[Any]]) -> list[Row]:
    try:
        db.executemany(sql, rows)
    except sqlite3.Error as e:
        raise _wrapped(sql, rows, e) from e
    return []


def _wrapped(sql: str, values: Any, e: sqlite3.Error) -> Exception:
    # The error SQLAlchemy would have raised (IntegrityError, OperationalError, …), so
    # callers catch the same thing whichever path ran the statement.
    return exc.DBAPIError.instance(sql, values, e, sqlite3.Error)
