"""kill -9 in the middle of a burst of inbound contacts loses nothing that was acknowledged.

A real `hotline serve` process on SQLite takes accepts from several concurrent clients and
is killed with SIGKILL halfway. After a restart on the same data directory every contact
that got a 201/200 is there exactly once with the ticket number it was told, and sending
everything again answers every external id with a ticket number, still without duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import hotline.cli
from tests.conftest import free_port

pytestmark = pytest.mark.slow

CHANNEL = "province"
DISTINCT = 300  # stays under `hotline tickets list --limit 500`
REPEATS = 80
WORKERS = 8
KILL_AFTER = 100  # acknowledged answers before the kill
READY_WITHIN = 30.0  # seconds


def hotline_command() -> list[str]:
    """How to run the `hotline` CLI with this interpreter."""
    source = Path(hotline.cli.__file__).read_text(encoding="utf-8")
    if 'if __name__ == "__main__"' in source:
        return [sys.executable, "-m", "hotline.cli"]
    # hotline/cli.py cannot run as a module (no __main__ guard): use the console script,
    # preferably the one installed beside this interpreter.
    beside = Path(sys.executable).parent / "hotline"
    script = str(beside) if beside.is_file() else shutil.which("hotline")
    if script is None:
        pytest.fail("the `hotline` console script is not installed (pip install -e .)")
    return [script]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost", LANG="C.UTF-8")
    return env


def cli(data_dir: Path, *args: str) -> str:
    """Run one `hotline` command against the data directory; its stdout."""
    done = subprocess.run(
        [*hotline_command(), *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"hotline {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


class Server:
    """One `hotline serve` child process; we signal only the PID we started."""

    def __init__(
        self, data_dir: Path, port: int, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [*hotline_command(), "serve", "--data-dir", str(data_dir), "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**child_env(), **(env or {})},
            )

    async def ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"hotline serve exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(self.url + "/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
        pytest.fail(f"hotline serve not ready within {READY_WITHIN} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not go within 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def body(external_id: str, i: int) -> dict[str, Any]:
    return {
        "channel": CHANNEL,
        "external_id": external_id,
        "citizen": {"phone": f"137{i:08d}"},
        "text": f"省平台转办件 {external_id}:道路积水,请尽快处理。",
    }


async def send(
    http: aiohttp.ClientSession, url: str, key: str, external_id: str, i: int
) -> tuple[int, dict[str, Any]]:
    async with http.post(
        url + "/api/v1/contacts",
        json=body(external_id, i),
        headers={"Authorization": f"Bearer {key}"},
    ) as resp:
        return resp.status, await resp.json()


def stored_contacts(db: Path) -> list[tuple[str, str, str | None]]:
    """(channel, external_id, ticket number) of every contact in the database file."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT c.channel, c.external_id, t.number FROM contacts c "
            "LEFT JOIN tickets t ON t.id = c.ticket_id ORDER BY c.id"
        ).fetchall()


def assert_no_duplicates(rows: list[tuple[str, str, str | None]]) -> dict[str, str]:
    seen: dict[tuple[str, str], str | None] = {}
    for channel, external_id, number in rows:
        assert (channel, external_id) not in seen, f"{channel}/{external_id} stored twice"
        assert number is not None, f"{channel}/{external_id} has no ticket"
        seen[(channel, external_id)] = number
    return {eid: str(n) for (ch, eid), n in seen.items() if ch == CHANNEL}


async def test_kill_9_mid_burst_loses_no_acknowledged_contact(
    tmp_path: Path, servers: list[Server]
) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "hotline.db"
    key = cli(data_dir, "apikey", "add", "load").strip().splitlines()[-1]
    assert key.startswith("hk_")

    ids = [f"prov-{i:05d}" for i in range(DISTINCT)]
    index = {eid: i for i, eid in enumerate(ids)}
    rng = random.Random(12345)
    plan = ids + rng.sample(ids, REPEATS)
    rng.shuffle(plan)

    acked: dict[str, str] = {}
    statuses: list[int] = []
    enough, killed = asyncio.Event(), asyncio.Event()
    first = Server(data_dir, free_port(), tmp_path / "serve-1.log")
    servers.append(first)

    connector = aiohttp.TCPConnector(limit=WORKERS, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        await first.ready(http)
        queue = iter(plan)

        async def worker() -> None:
            for eid in queue:
                if killed.is_set():
                    return
                try:
                    status, answer = await send(http, first.url, key, eid, index[eid])
                except (aiohttp.ClientError, OSError, TimeoutError):
                    continue  # no answer: not acknowledged
                assert status in (200, 201), answer
                statuses.append(status)
                number = answer["ticket_number"]
                # A repeat that was acknowledged before must get the same number.
                assert acked.setdefault(eid, number) == number, eid
                if len(acked) >= KILL_AFTER:
                    enough.set()

        async def killer() -> None:
            await enough.wait()
            await asyncio.sleep(0.003)  # not in step with any answer: requests are in flight
            killed.set()
            first.kill()

        await asyncio.wait_for(asyncio.gather(killer(), *(worker() for _ in range(WORKERS))), 60)
        assert killed.is_set(), "the burst ended before the kill"
        assert first.proc.returncode == -signal.SIGKILL
        assert 200 in statuses and 201 in statuses
        unacked = [eid for eid in ids if eid not in acked]
        assert unacked, "the kill came too late to leave anything unanswered"

        second = Server(data_dir, free_port(), tmp_path / "serve-2.log")
        servers.append(second)
        await second.ready(http)

        # Everything acknowledged survived, exactly once, with the number it was told.
        after_restart = assert_no_duplicates(stored_contacts(db))
        for eid, number in acked.items():
            assert after_restart.get(eid) == number, eid
        listed = json.loads(cli(data_dir, "tickets", "list", "--json", "--limit", "500"))
        assert listed["total"] == len({*after_restart.values()}) == len(listed["items"])
        assert {t["number"] for t in listed["items"]} >= set(acked.values())

        # Everything again, acknowledged or not: each gets a ticket number, none twice.
        answers: dict[str, tuple[int, str]] = {}
        ids_iter = iter(ids)

        async def resend() -> None:
            for eid in ids_iter:
                status, answer = await send(http, second.url, key, eid, index[eid])
                assert status in (200, 201), answer
                answers[eid] = (status, answer["ticket_number"])

        await asyncio.wait_for(asyncio.gather(*(resend() for _ in range(WORKERS))), 60)

    assert set(answers) == set(ids)
    for eid, number in acked.items():
        assert answers[eid] == (200, number), eid
    for eid, number in after_restart.items():
        assert answers[eid] == (200, number), eid  # committed but maybe never answered
    for eid in set(ids) - set(after_restart):
        assert answers[eid][0] == 201, eid
    final = assert_no_duplicates(stored_contacts(db))
    assert final == {eid: number for eid, (_, number) in answers.items()}
    assert len(final) == DISTINCT
    assert len(set(final.values())) == DISTINCT  # distinct citizens: one ticket each
