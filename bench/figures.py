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
import json
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from reports.service import FigureService
from reports.views import Period, ranking_view
from tickets.store import Store, create_store
from tickets.tables import departments

TZ = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2026, 1, 1, tzinfo=TZ)
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=TZ)  # "today" for the wallboard's figures
DEPTS = [f"dept{i:02d}" for i in range(24)]
DISTRICTS = [f"district{i:02d}" for i in range(10)]
CHANNELS = ["phone"] * 6 + ["wechat"] * 2 + ["mailbox", "web", "telegram", "sms"]
RATINGS = ["very_satisfied"] * 5 + ["satisfied"] * 3 + ["basically_satisfied", "dissatisfied",
           "very_dissatisfied"]  # fmt: skip
BATCH = 20_000
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _rows(n: int, seed: int = 2026) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    """Batches of (tickets, timeline, dispatches) rows."""
    rng = random.Random(seed)
    year = (NOW - YEAR_START).total_seconds()
    for first in range(1, n + 1, BATCH):
        tk: list[dict[str, Any]] = []
        tl: list[dict[str, Any]] = []
        ds: list[dict[str, Any]] = []
        for i in range(first, min(n, first + BATCH - 1) + 1):
            created = (YEAR_START + timedelta(seconds=rng.random() * year)).astimezone(UTC)
            dept = rng.choice(DEPTS)
            due = created + timedelta(days=7)
            result = created + timedelta(hours=rng.uniform(2, 240)) if rng.random() < 0.85 else None
            if result is not None and result > NOW:
                result = None
            informed = (
                result + timedelta(hours=rng.uniform(0, 36))
                if result is not None and rng.random() < 0.9
                else None
            )
            rating = rng.choice(RATINGS) if informed is not None and rng.random() < 0.7 else None
            tk.append(
                {
                    "id": i, "number": f"B{i:012d}", "state": "closed" if result else "handling",
                    "channel": rng.choice(CHANNELS), "district": rng.choice(DISTRICTS),
                    "lead_department": dept, "created_at": created, "updated_at": created,
                    "last_contact_at": created, "due_at": due, "result_at": result,
                    "informed_at": informed, "rating": rating,
                    "rating_excluded": rating is not None and rng.random() < 0.005,
                }
            )  # fmt: skip
            responded = created + timedelta(seconds=rng.expovariate(1 / 120))
            entries = [("accept", created), ("dispatch", responded)]
            if rng.random() < 0.03:
                entries.append(("approve_extension", created + timedelta(days=2)))
            if result is not None:
                entries.append(("submit_result", result))
            for action, at in entries:
                tl.append({"ticket_id": i, "at": at, "actor": "bench", "role": "agent",
                           "action": action, "to_state": "handling", "payload": {}})  # fmt: skip
            ds.append({"ticket_id": i, "hop": 1, "department": dept, "kind": "lead",
                       "dispatched_at": responded, "dispatched_by": "bench",
                       "code": "C"})  # fmt: skip
            if rng.random() < 0.05:  # returned, then re-dispatched
                ds[-1]["department"] = rng.choice(DEPTS)
                ds[-1]["returned_at"] = responded + timedelta(hours=3)
                ds.append({"ticket_id": i, "hop": 2, "department": dept, "kind": "lead",
                           "dispatched_at": responded + timedelta(hours=4),
                           "dispatched_by": "bench", "code": "C"})  # fmt: skip
        yield tk, tl, ds


TK_COLS = ("id", "number", "state", "channel", "district", "lead_department", "created_at",
           "updated_at", "last_contact_at", "due_at", "result_at", "informed_at", "rating",
           "rating_excluded")  # fmt: skip
TL_COLS = ("ticket_id", "at", "actor", "role", "action", "to_state", "payload")
DS_COLS = ("ticket_id", "hop", "department", "kind", "dispatched_at", "dispatched_by", "code",
           "returned_at")  # fmt: skip


def _sqlite_value(v: Any) -> Any:
    # the text SQLAlchemy's SQLite dialect stores for a naive UTC datetime; JSON as text
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def _pg_value(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, dict) else v


async def fill(store: Store, url: str, n: int) -> float:
    """Bulk-load the generated year with the driver's fastest path (not the app's)."""
    t0 = time.perf_counter()
    async with store.write() as tx:
        for code in DEPTS + DISTRICTS:
            kind = "district" if code.startswith("district") else "city"
            await tx.conn.execute(departments.insert().values(code=code, name_zh=code, kind=kind))
    tables = (("tickets", TK_COLS), ("timeline", TL_COLS), ("dispatches", DS_COLS))
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1])
        db.execute("PRAGMA synchronous=OFF")
        for batch in _rows(n):
            for (table, cols), rows in zip(tables, batch, strict=True):
                marks = ", ".join("?" * len(cols))
                db.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                    [tuple(_sqlite_value(r.get(c)) for c in cols) for r in rows],
                )
            db.commit()
        db.execute("ANALYZE")
        db.commit()
        db.close()
    else:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            for batch in _rows(n):
                for (table, cols), rows in zip(tables, batch, strict=True):
                    await conn.copy_records_to_table(
                        table,
                        columns=cols,
                        records=[tuple(_pg_value(r.get(c)) for c in cols) for r in rows],
                    )
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
