"""Shared fixtures: a throwaway PostgreSQL cluster, a store on each backend, a fake clock."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio

from hotline.demo import load_reference_data
from tests.fakes.clock import FakeClock
from tickets.bus import InProcessBus
from tickets.model import Channel, CitizenIdentity, InboundContact
from tickets.policy import TicketRules
from tickets.service import TicketService
from tickets.store import Store, create_store

PG_BIN = Path("/usr/lib/postgresql/15/bin")
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- PostgreSQL --------------------------------------------------------------------------


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop of its own in another thread (sync fixtures, test loops)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


async def _pg_execute(port: int, sql: str) -> None:
    """Run one statement as the superuser (CREATE/DROP DATABASE cannot run in a transaction)."""
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=10
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_ready(port: int) -> bool:
    try:
        await _pg_execute(port, "SELECT 1")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False
    return True


@pytest.fixture(scope="session")
def pg_port() -> Iterator[int]:
    """A PostgreSQL 15 cluster of our own on 127.0.0.1, stopped and removed at session end."""
    for tool in ("initdb", "postgres"):
        if not (PG_BIN / tool).is_file():
            pytest.fail(
                f"{PG_BIN / tool} is missing: install Debian's `postgresql` (15) to run the "
                "PostgreSQL tests (apt-get install postgresql)",
                pytrace=False,
            )
    if shutil.which("runuser") is None:
        pytest.fail("runuser (util-linux) is needed to run PostgreSQL as `postgres`", pytrace=False)
    workdir = tempfile.mkdtemp(prefix="hotline-pg-")
    shutil.chown(workdir, user="postgres", group="postgres")
    os.chmod(workdir, 0o700)
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", workdir,
             "--locale=C.UTF-8", "-E", "UTF8", "-A", "trust", "-U", "postgres"],
            check=True, capture_output=True, env=env, timeout=60,
        )  # fmt: skip
        port = free_port()
        log = open(os.path.join(workdir, "server.log"), "ab")  # noqa: SIM115
        try:
            # runuser forks and keeps postgres as its child (a signal to runuser would not
            # reach it as SIGINT); dropping to `postgres` in our own child instead makes
            # proc.pid the postmaster itself.
            proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", workdir, "-k", workdir,
                 "-c", "listen_addresses=127.0.0.1", "-p", str(port),
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200"],
                user="postgres", group="postgres", extra_groups=[],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=workdir,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                text = Path(workdir, "server.log").read_text(errors="replace")
                pytest.fail(f"postgres exited with {proc.returncode}:\n{text}", pytrace=False)
            if _accepts_connections(port) and _in_thread(lambda: _pg_ready(port)):
                break
            if time.monotonic() > deadline:
                pytest.fail("postgres did not accept connections within 30 s", pytrace=False)
            time.sleep(0.05)
        yield port
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_port: int) -> str:
    """SQLAlchemy URL of a `hotline_test` database on the throwaway cluster."""
    _in_thread(lambda: _pg_execute(pg_port, "CREATE DATABASE hotline_test"))
    return f"postgresql+asyncpg://postgres@127.0.0.1:{pg_port}/hotline_test"


# -- store and service --------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on."""
    return str(request.param)


@pytest_asyncio.fixture
async def store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    """A migrated store on a fresh SQLite file or a fresh PostgreSQL database."""
    if backend == "sqlite":
        url, dropped = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}", None
    else:
        port = request.getfixturevalue("pg_port")
        name = f"t_{uuid.uuid4().hex}"
        await _pg_execute(port, f'CREATE DATABASE "{name}"')
        url, dropped = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}", name
    s = create_store(url)
    try:
        await s.migrate()
        yield s
    finally:
        await s.close()
        if dropped is not None:
            await _pg_execute(port, f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2026-11-23 02:00 UTC (10:00 in Beijing)."""
    return FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


@pytest_asyncio.fixture
async def service(store: Store, clock: FakeClock) -> AsyncIterator[TicketService]:
    """The ticket service over `store`, with the demo city's departments and categories."""
    bus = InProcessBus()
    svc = TicketService(
        store=store, bus=bus, rules=TicketRules(), forgery_key=b"k" * 32, clock=clock
    )
    await load_reference_data(svc)
    yield svc
    await bus.drain()


@pytest.fixture
def make_contact(clock: FakeClock) -> Callable[..., InboundContact]:
    """InboundContact factory: a phone call from 13800138000 unless told otherwise."""
    counter = itertools.count(1)

    def make(**kw: Any) -> InboundContact:
        values: dict[str, Any] = {
            "channel": Channel.PHONE,
            "external_id": f"call-{next(counter)}-{uuid.uuid4().hex[:8]}",
            "citizen": CitizenIdentity(name="张三", phone="13800138000"),
            "text": "小区门口夜间施工噪声扰民,影响休息。",
            "received_at": clock(),
        }
        values.update(kw)
        return InboundContact(**values)

    return make


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """Child `hotline serve` processes a test starts; each is stopped (by its PID) after."""
    started: list[Any] = []
    yield started
    for s in started:
        s.stop()
