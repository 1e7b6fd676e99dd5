"""Figures at scale: the quarterly ranking and today's figures over N tickets, on SQLite and
PostgreSQL, each beside one bare `SELECT lead_department, count(*) … GROUP BY` over the same
table in the same run.

    python -m bench.figures [--tickets 200000] [--backend sqlite|postgres|both]
                            [--pg-url postgresql+asyncpg://…] [--repeat 3] [--compare]

The figure roll-ups are loaded the way `hotline figures --rebuild-rollups` does it (timed),
then the figures are measured through them. Up to 1 M tickets (or with --compare) the
quarterly ranking is first summed once from the tickets alone, timed, and the ranking read
through the roll-ups must be the same.

Without --pg-url a throwaway PostgreSQL 15 cluster is started (as the tests do; needs root
and Debian's postgresql). A year of tickets (2026) is generated: every order accepted,
dispatched within minutes (its response), 85 % with a result, most told and rated, some
returned, re-dispatched or extended; each with its timeline and dispatch rows. The last line
printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Index, text
from sqlalchemy.dialects.postgresql import dialect as pg_dialect
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.schema import CreateIndex

from reports.service import FigureService
from reports.views import Period, ranking_view
from tickets.store import Store, create_store
from tickets.tables import departments, dispatches, tickets, timeline

TZ = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2026, 1, 1, tzinfo=TZ)
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=TZ)  # "today" for the wallboard's figures
DEPTS = [f"dept{i:02d}" for i in range(24)]
DISTRICTS = [f"district{i:02d}" for i in range(10)]
CHANNELS = ["phone"] * 6 + ["wechat"] * 2 + ["mailbox", "web", "telegram", "sms"]
RATINGS = ["very_satisfied"] * 5 + ["satisfied"] * 3 + ["basically_satisfied", "dissatisfied",
           "very_dissatisfied"]  # fmt: skip
BATCH = 50_000
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# Timestamps are generated as integer microseconds since the epoch (UTC) and written as the
# text SQLAlchemy stores for a naive UTC datetime on SQLite ("2026-01-01 00:00:00.000000"),
# which PostgreSQL's COPY reads as well (the loading session's time zone is UTC): datetime
# objects and isoformat() were most of the load's time.
_US = 1_000_000
_HOUR = 3600 * _US
_Y0 = int(YEAR_START.timestamp()) * _US
_SPAN = int((NOW - YEAR_START).total_seconds()) * _US
_NOW = int(NOW.timestamp()) * _US
_D0 = _Y0 // (86400 * _US)
_DAY_TEXT = [(date(1970, 1, 1) + timedelta(days=_D0 + k)).isoformat() for k in range(400)]
_TIME_TEXT = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def _ts(us: int) -> str:
    s, frac = divmod(us, _US)
    day, second = divmod(s, 86400)
    return f"{_DAY_TEXT[day - _D0]} {_TIME_TEXT[second]}.{frac:06d}"


Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _batch(first: int, last: int, seed: int) -> Batch:
    """The (tickets, timeline, dispatches) rows of tickets first … last - 1, in TK_COLS,
    TL_COLS and DS_COLS order. Each batch is seeded by the seed and its first ticket, so it
    can be made in any process and the data is the same on both backends."""
    rng = random.Random(f"{seed}:{first}")
    rand, uniform, choice, expo = rng.random, rng.uniform, rng.choice, rng.expovariate
    tk: list[tuple[Any, ...]] = []
    tl: list[tuple[Any, ...]] = []
    ds: list[tuple[Any, ...]] = []
    for i in range(first, last):
        created = _Y0 + int(rand() * _SPAN)
        dept = choice(DEPTS)
        result = created + int(uniform(2, 240) * _HOUR) if rand() < 0.85 else None
        if result is not None and result > _NOW:
            result = None
        informed = (
            result + int(uniform(0, 36) * _HOUR) if result is not None and rand() < 0.9 else None
        )
        rating = choice(RATINGS) if informed is not None and rand() < 0.7 else None
        c = _ts(created)
        result_text = None if result is None else _ts(result)
        tk.append(
            (i, f"B{i:012d}", "closed" if result else "handling", choice(CHANNELS),
             choice(DISTRICTS), dept, c, c, c, _ts(created + 7 * 24 * _HOUR), result_text,
             None if informed is None else _ts(informed), rating,
             rating is not None and rand() < 0.005)
        )  # fmt: skip
        responded_at = created + int(expo(1 / 120) * _US)
        responded = _ts(responded_at)
        tl.append((i, c, "bench", "agent", "accept", "handling", "{}"))
        tl.append((i, responded, "bench", "agent", "dispatch", "handling", "{}"))
        if rand() < 0.03:
            extended = _ts(created + 48 * _HOUR)
            tl.append((i, extended, "bench", "agent", "approve_extension", "handling", "{}"))
        if result_text is not None:
            tl.append((i, result_text, "bench", "agent", "submit_result", "handling", "{}"))
        if rand() < 0.05:  # returned, then re-dispatched
            ds.append((i, 1, choice(DEPTS), "lead", responded, "bench", "C",
                       _ts(responded_at + 3 * _HOUR)))  # fmt: skip
            ds.append((i, 2, dept, "lead", _ts(responded_at + 4 * _HOUR), "bench", "C", None))
        else:
            ds.append((i, 1, dept, "lead", responded, "bench", "C", None))
    return tk, tl, ds


TK_COLS = ("id", "number", "state", "channel", "district", "lead_department", "created_at",
           "updated_at", "last_contact_at", "due_at", "result_at", "informed_at", "rating",
           "rating_excluded")  # fmt: skip
TL_COLS = ("ticket_id", "at", "actor", "role", "action", "to_state", "payload")
DS_COLS = ("ticket_id", "hop", "department", "kind", "dispatched_at", "dispatched_by", "code",
           "returned_at")  # fmt: skip
LOADED = ((tickets, TK_COLS), (timeline, TL_COLS), (dispatches, DS_COLS))


def _produce(out: Any, n: int, seed: int, as_csv: bool) -> None:
    """In a second process: the batches in order, as row tuples or as CSV bytes for COPY."""
    for first in range(1, n + 1, BATCH):
        rows = _batch(first, min(n + 1, first + BATCH), seed)
        if as_csv:
            encoded = []
            for part in rows:
                buf = io.StringIO()
                csv.writer(buf).writerows(part)  # None → empty, PostgreSQL's CSV NULL
                encoded.append(buf.getvalue().encode())
            out.put(tuple(encoded))
        else:
            out.put(rows)
    out.put(None)


def _batches(n: int, as_csv: bool, seed: int = 2026) -> Iterator[Any]:
    """Generate in a second process while this one writes (two cores: one each)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue(maxsize=4)
    proc = ctx.Process(target=_produce, args=(queue, n, seed, as_csv), daemon=True)
    proc.start()
    try:
        while True:
            try:
                item = queue.get(timeout=5)
            except Empty:
                if not proc.is_alive():
                    raise RuntimeError(f"the generator stopped ({proc.exitcode})") from None
                continue
            if item is None:
                break
            yield item
        proc.join()
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


def _indexes() -> list[Index]:
    """The loaded tables' secondary indexes, as the migrations create them (tables.py is what
    tests/tickets/test_migrations.py holds them to): dropped before the load, made after."""
    return [ix for table, _ in LOADED for ix in sorted(table.indexes, key=lambda i: str(i.name))]


async def fill(store: Store, url: str, n: int) -> float:
    """Bulk-load the generated year with the driver's fastest path (not the app's): without
    the secondary indexes (made once at the end, a sort instead of 10 M random inserts), in
    big transactions, PostgreSQL's foreign-key triggers off for the loading session."""
    t0 = time.perf_counter()
    async with store.write() as tx:
        for code in DEPTS + DISTRICTS:
            kind = "district" if code.startswith("district") else "city"
            await tx.conn.execute(departments.insert().values(code=code, name_zh=code, kind=kind))
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        db.execute("PRAGMA threads=2")  # the index sorts' helper threads
        for ix in _indexes():
            db.execute(f"DROP INDEX {ix.name}")
        inserts = [
            f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, cols in LOADED
        ]
        for batch in _batches(n, as_csv=False):
            db.execute("BEGIN")
            for sql, rows in zip(inserts, batch, strict=True):
                db.executemany(sql, rows)
            db.execute("COMMIT")
        for ix in _indexes():
            db.execute(str(CreateIndex(ix).compile(dialect=sqlite_dialect())))
        db.execute("ANALYZE")
        db.close()
    else:
        conn = await asyncpg.connect(
            url.replace("postgresql+asyncpg", "postgresql"),
            server_settings={"timezone": "UTC", "maintenance_work_mem": "1GB"},
        )
        try:
            try:  # generated rows are consistent; needs a superuser (a throwaway cluster is)
                await conn.execute("SET session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                pass
            for ix in _indexes():
                await conn.execute(f"DROP INDEX {ix.name}")
            for batch in _batches(n, as_csv=True):
                for (table, cols), data in zip(LOADED, batch, strict=True):
                    await conn.copy_to_table(table.name, source=io.BytesIO(data), columns=cols,
                                             format="csv")  # fmt: skip
            for ix in _indexes():
                await conn.execute(str(CreateIndex(ix).compile(dialect=pg_dialect())))
            await conn.execute("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))")
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
    return time.perf_counter() - t0


async def _timed(work: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = await work()
        best = min(best, time.perf_counter() - t0)
    return best, out


QUARTER = Period(date(2026, 7, 1), date(2026, 10, 1), TZ, NOW)


def _name(code: str | None, locale: str) -> str:
    return code or ""


async def measure(store: Store, repeat: int, summed: dict[str, Any] | None) -> dict[str, Any]:
    service = FigureService(store)
    quarter = QUARTER
    today = NOW.replace(hour=0, minute=0)
    name = _name

    async def bare() -> int:
        async with store.read() as tx:
            q = text("SELECT lead_department, count(*) FROM tickets GROUP BY lead_department")
            return len((await tx.conn.execute(q)).all())

    async def ranking() -> dict[str, Any]:
        return await ranking_view(service, name, quarter, 10)

    async def today_figures() -> Any:
        return await service.report(today, NOW, NOW)

    bare_s, _ = await _timed(bare, repeat)
    rank_s, r = await _timed(ranking, repeat)
    today_s, _ = await _timed(today_figures, repeat)
    if summed is not None and {k: v for k, v in summed.items() if k != "at"} != {
        k: v for k, v in r.items() if k != "at"
    }:
        raise AssertionError("the ranking through the roll-ups differs from the summed one")
    return {
        "bare_group_by_s": round(bare_s, 3),
        "quarterly_ranking_s": round(rank_s, 3),
        "ranking_over_bare": round(rank_s / bare_s, 2),
        "today_figures_ms": round(1000 * today_s, 1),
        "quarter_tickets": r["center"]["tickets"],
        "ranked": len(r["ranked"]),
    }


@contextmanager
def pg_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL 15 on 127.0.0.1 (root runs it as `postgres`)."""
    workdir = tempfile.mkdtemp(prefix="bench-pg-")
    shutil.chown(workdir, user="postgres", group="postgres")
    os.chmod(workdir, 0o700)
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", workdir,
         "--locale=C.UTF-8", "-E", "UTF8", "-A", "trust", "-U", "postgres"],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(PG_BIN / "postgres"), "-D", workdir, "-k", workdir, "-c",
         "listen_addresses=127.0.0.1", "-p", str(port), "-c", "fsync=off",
         "-c", "synchronous_commit=off", "-c", "shared_buffers=512MB", "-c", "work_mem=64MB"],
        user="postgres", group="postgres", extra_groups=[], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, cwd=workdir,
    )  # fmt: skip
    try:

        async def ready() -> None:
            for _ in range(300):
                try:
                    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres")
                    await conn.execute("CREATE DATABASE bench")
                    await conn.close()
                    return
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(0.1)
            raise RuntimeError("postgres did not start")

        asyncio.run(ready())
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/bench"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


async def run(url: str, n: int, repeat: int, compare: bool) -> dict[str, Any]:
    store = create_store(url)
    try:
        await store.migrate()
        filled = await fill(store, url, n)
        service = FigureService(store)
        out: dict[str, Any] = {"fill_s": round(filled, 1)}
        summed = None
        if compare:
            # before the roll-ups exist: every figure summed from the period's tickets
            t0 = time.perf_counter()
            summed = await ranking_view(service, _name, QUARTER, 10)
            out["summed_ranking_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        out["rollup_rows"] = await service.rebuild_rollups(NOW)
        out["rollup_rebuild_s"] = round(time.perf_counter() - t0, 1)
        async with store.write() as tx:
            await tx.conn.execute(text("ANALYZE"))
        return {**out, **await measure(store, repeat, summed)}
    finally:
        await store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=int, default=200_000)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--pg-url")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--compare", action="store_true", help="sum the ranking without roll-ups too")
    a = p.parse_args()
    compare = a.compare or a.tickets <= 1_000_000
    out: dict[str, Any] = {
        "tickets": a.tickets,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
    if a.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as d:
            out["sqlite"] = asyncio.run(run(f"sqlite+aiosqlite:///{Path(d) / 'f.db'}", a.tickets,
                                            a.repeat, compare))  # fmt: skip
            print("sqlite", out["sqlite"], flush=True)
    if a.backend in ("postgres", "both"):
        if a.pg_url:
            out["postgres"] = asyncio.run(run(a.pg_url, a.tickets, a.repeat, compare))
        else:
            with pg_cluster() as url:
                out["postgres"] = asyncio.run(run(url, a.tickets, a.repeat, compare))
        print("postgres", out["postgres"], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
