"""A running center on a temporary SQLite file, with demo reference data and staff."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, async_playwright

from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from tests.fakes.clock import FakeClock
from tickets.model import Role

PASSWORD = "correct horse 12345"
STAFF: list[tuple[str, Role, str | None]] = [
    ("agent", Role.AGENT, None),
    ("agent2", Role.AGENT, None),
    ("sup", Role.SUPERVISOR, None),
    ("admin", Role.ADMIN, None),
    ("cg", Role.DEPARTMENT, "chengguan"),
    ("cg_jinniu", Role.DEPARTMENT, "chengguan.jinniu"),
    ("eco", Role.DEPARTMENT, "eco"),
    ("police", Role.POLICE, "police"),
]


@pytest_asyncio.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings = load_settings(data_dir=tmp_path / "data", max_body_bytes=64 * 1024)
    # Cheap argon2 parameters: the tests check the flow, not the hash's cost.
    c = build(
        settings,
        clock=FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)),
        hasher=PasswordHasher(time_cost=1, memory_cost=1024),
    )
    await c.start()
    await load_reference_data(c.tickets)
    for username, role, dept in STAFF:
        await c.accounts.add_user(username, PASSWORD, role, department=dept)
    yield c
    await c.stop()


class Api:
    """A signed-in JSON client for one user."""

    def __init__(self, client: TestClient[Any, Any], csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = await self.client.request(
            method, path, json=body, headers={"X-CSRF-Token": self.csrf}
        )
        data = await resp.json()
        assert resp.status == status, (resp.status, data)
        return data


@pytest_asyncio.fixture
async def server(center: Center) -> AsyncIterator[TestServer]:
    # The center is already started; the test server only serves its routes.
    center.app.cleanup_ctx.clear()
    srv = TestServer(center.app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


@pytest_asyncio.fixture
async def login(server: TestServer) -> AsyncIterator[Any]:
    clients: list[TestClient[Any, Any]] = []

    async def _login(username: str) -> Api:
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        clients.append(client)
        resp = await client.post(
            "/api/v1/session", json={"username": username, "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        return Api(client, (await resp.json())["csrf_token"])

    yield _login
    for c in clients:
        await c.close()


@pytest_asyncio.fixture
async def anon(server: TestServer) -> AsyncIterator[TestClient[Any, Any]]:
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    yield client
    await client.close()


CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("HOTLINE_SCREENSHOTS", Path(__file__).parents[2] / "screenshots"))


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian chromium (scripts/test.sh does)"
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        yield b
        await b.close()


async def _page(browser: Browser, locale: str = "zh-CN") -> Page:
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, locale=locale)
    return await ctx.new_page()
