"""Stored transfer lines with Asterisk on (the fake AMI server): the admins' table is what the
status API, the workspace and the connector's dial table use."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hotline.bootstrap import Center
from tests.agent_console.conftest import PASSWORD
from tests.agent_console.test_telephony_api import ami, live_center
from tickets.model import Role

__all__ = ["ami", "live_center"]  # the fixtures, shared with the call-control tests


async def _signed_in(server: TestServer, username: str) -> tuple[TestClient[Any, Any], str]:
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    resp = await client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    return client, (await resp.json())["csrf_token"]


async def test_the_stored_lines_are_the_ones_agents_and_asterisk_use(live_center: Center) -> None:
    await live_center.accounts.add_user("root", PASSWORD, Role.ADMIN)
    live_center.app.cleanup_ctx.clear()
    server = TestServer(live_center.app, host="127.0.0.1")
    await server.start_server()
    admin, admin_csrf = await _signed_in(server, "root")
    agent, agent_csrf = await _signed_in(server, "zhang")
    try:
        h = {"X-CSRF-Token": admin_csrf}
        line_122 = {"name_zh": "交通事故 122", "target": "PJSIP/122@traffic122", "kind": "blind"}
        assert (await admin.put("/api/v1/admin/lines/122", json=line_122, headers=h)).status == 200
        off = {"name_zh": "消防 119", "target": "PJSIP/119@fire119", "kind": "blind",
               "enabled": False}  # fmt: skip
        assert (await admin.put("/api/v1/admin/lines/119", json=off, headers=h)).status == 200
        status = await (await agent.get("/api/v1/telephony")).json()
        assert "122" in status["lines"] and "119" not in status["lines"]
        telephony = live_center.desk.telephony  # type: ignore[union-attr]
        assert telephony is not None
        assert telephony.lines()["122"] == "PJSIP/122@traffic122" and "119" not in telephony.lines()
        page = await (await agent.get("/workspace")).text()
        assert "交通事故 122" in page and ">消防 119<" not in page
        refused = await agent.post(
            "/api/v1/calls/transfer", json={"line": "119"}, headers={"X-CSRF-Token": agent_csrf}
        )
        assert refused.status == 400 and (await refused.json())["error"]["field"] == "line"
    finally:
        await admin.close()
        await agent.close()
        await server.close()
