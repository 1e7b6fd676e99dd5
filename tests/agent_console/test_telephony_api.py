"""Call control over HTTP with a running center and the fake Asterisk playing a real trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from tests.agent_console.conftest import PASSWORD
from tests.fakes.ami_server import AmiServer
from tickets.model import Role

TRACES = Path(__file__).parents[2].parent / "shared" / "ami-traces"
BLIND = TRACES / "real-asterisk-22.10.1__blind-transfer-to-110.ami"


@pytest_asyncio.fixture
async def ami() -> AsyncIterator[AmiServer]:
    async with AmiServer(trace=BLIND) as server:
        yield server


@pytest_asyncio.fixture
async def live_center(tmp_path: Path, ami: AmiServer) -> AsyncIterator[Center]:
    settings = load_settings(
        data_dir=tmp_path / "data",
        asterisk={"host": ami.host, "port": ami.port, "secret": "hotline12345"},
    )
    c = build(settings, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    await c.start()
    await load_reference_data(c.tickets)
    await c.accounts.add_user("zhang", PASSWORD, Role.AGENT, extension="8001")
    await c.accounts.add_user("li", PASSWORD, Role.AGENT)
    await c.accounts.add_user("police", PASSWORD, Role.POLICE, department="police")
    await c.start_background()
    yield c
    await c.stop()


async def _client(center: Center, username: str) -> tuple[TestClient[Any, Any], str]:
    center.app.cleanup_ctx.clear()
    client: TestClient[Any, Any] = TestClient(TestServer(center.app, host="127.0.0.1"))
    await client.start_server()
    resp = await client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    return client, (await resp.json())["csrf_token"]


async def test_one_key_110_over_http_and_asterisk_refusals_reach_the_agent(
    live_center: Center, ami: AmiServer
) -> None:
    client, csrf = await _client(live_center, "zhang")
    try:
        h = {"X-CSRF-Token": csrf}
        status = await (await client.get("/api/v1/telephony")).json()
        assert status["enabled"] is True and "110" in status["lines"]
        await ami.wait_expecting("BlindTransfer")
        async with asyncio.timeout(10):
            while not any(c.ticket_number for c in live_center.desk.live.values()):  # type: ignore[union-attr]  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        (call,) = live_center.desk.live.values()  # type: ignore[union-attr]
        bad = await client.post("/api/v1/calls/transfer", json={"line": "999"}, headers=h)
        assert bad.status == 400 and (await bad.json())["error"]["field"] == "line"
        ami.set_failure("BlindTransfer", "No such channel")
        refused = await client.post("/api/v1/calls/transfer", json={"line": "110"}, headers=h)
        body = await refused.json()
        assert refused.status == 502 and body["error"]["code"] == "call_control_failed"
        assert "No such channel" in body["error"]["message"]
        ami.set_failure("BlindTransfer", None)
        done = await client.post("/api/v1/calls/transfer", json={"line": "110"}, headers=h)
        result = await done.json()
        assert done.status == 200, result
        assert result["message"] == "Transfer succeeded" and result["call_id"] == call.call_id
        ticket = await (await client.get(f"/api/v1/tickets/{call.ticket_number}")).json()
        assert ticket["state"] == "with_police"
    finally:
        await client.close()


async def test_agent_without_a_phone_or_call_gets_a_clear_answer(live_center: Center) -> None:
    client, csrf = await _client(live_center, "li")
    try:
        resp = await client.post("/api/v1/calls/hangup", headers={"X-CSRF-Token": csrf})
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "no_live_call"
        resp = await client.post(
            "/api/v1/agent/queue", json={"action": "pause"}, headers={"X-CSRF-Token": csrf}
        )
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "reason"
    finally:
        await client.close()
