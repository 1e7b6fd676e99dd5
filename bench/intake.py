"""Durable intake rate of the ticket service on SQLite, beside raw aiosqlite insert+commit.

Run with no arguments; the last line printed is one JSON object of the figures.
Both sides use the same file settings (WAL, synchronous=FULL): a contact is on disk
before it is acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from hotline.demo import load_reference_data
from tickets.bus import InProcessBus
from tickets.model import Channel, CitizenIdentity, InboundContact
from tickets.policy import TicketRules
from tickets.service import TicketService
from tickets.store import create_store

N = 2000
RATE = 200  # contacts per second for the latency run
LATENCY_SECONDS = 10


async def raw_rate(path: Path, n: int) -> float:
    """Single-row INSERT + COMMIT per contact with bare aiosqlite."""
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute(
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, channel TEXT, external_id TEXT,"
            " text TEXT, received_at TEXT, UNIQUE(channel, external_id))"
        )
        await db.commit()
        start = time.perf_counter()
        for i in range(n):
            await db.execute(
                "INSERT INTO contacts (channel, external_id, text, received_at) VALUES (?,?,?,?)",
                ("phone", f"raw-{i}", "小区门口占道经营", datetime.now(UTC).isoformat()),
            )
            await db.commit()
        return n / (time.perf_counter() - start)


def contact(i: int, prefix: str) -> InboundContact:
    return InboundContact(
        channel=Channel.PHONE,
        external_id=f"{prefix}-{i}",
        citizen=CitizenIdentity(phone=f"138{i:08d}"),
        text="小区门口占道经营,早高峰车辆和行人都过不去。",
        received_at=datetime.now(UTC),
        category="complaint.street_vendor",
        district="jinniu",
    )


async def service_figures(path: Path, n: int) -> dict[str, float]:
    store = create_store(f"sqlite+aiosqlite:///{path}")
    await store.migrate()
    service = TicketService(store, InProcessBus(), TicketRules(), b"k" * 32)
    await load_reference_data(service)
    # Sequential: one accept after the other, each durable before the next.
    start = time.perf_counter()
    for i in range(n):
        await service.accept(contact(i, "seq"))
    sequential = n / (time.perf_counter() - start)
    # Concurrent: 32 producers (as a busy center's connectors are).
    start = time.perf_counter()
    await asyncio.gather(*(_producer(service, k, n // 32) for k in range(32)))
    concurrent = (n // 32 * 32) / (time.perf_counter() - start)
    # Open-loop arrivals at RATE per second: latency from arrival to committed.
    latencies: list[float] = []
    tasks = []

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        await service.accept(contact(i, "lat"))
        latencies.append(time.perf_counter() - t0)

    t_start = time.perf_counter()
    for i in range(RATE * LATENCY_SECONDS):
        due = t_start + i / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    await store.close()
    latencies.sort()
    return {
        "service_sequential_per_s": round(sequential, 1),
        "service_concurrent_per_s": round(concurrent, 1),
        "p50_ms_at_200_per_s": round(statistics.median(latencies) * 1000, 2),
        "p99_ms_at_200_per_s": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


async def _producer(service: TicketService, k: int, count: int) -> None:
    for i in range(count):
        await service.accept(contact(k * 100000 + i, "conc"))


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        raw = await raw_rate(Path(d) / "raw.db", N)
        figs = await service_figures(Path(d) / "hotline.db", N)
    best = max(figs["service_sequential_per_s"], figs["service_concurrent_per_s"])
    result = {
        "bench": "intake",
        "machine": f"{platform.machine()} {platform.system()} python{platform.python_version()}",
        "raw_aiosqlite_insert_commit_per_s": round(raw, 1),
        **figs,
        "ratio": round(best / raw, 3),
        "ratio_sequential": round(figs["service_sequential_per_s"] / raw, 3),
    }
    print(f"raw aiosqlite insert+commit: {raw:.0f}/s")
    for k, v in figs.items():
        print(f"{k}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
