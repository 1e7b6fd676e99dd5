"""The ranking over the demo city, as JSON and as a page in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser

from hotline.bootstrap import Center
from hotline.demo import load_demo
from tests.agent_console.conftest import PASSWORD, SHOTS, _page


async def test_ranking_of_the_demo_city(
    center: Center, login: Any, server: TestServer, browser: Browser
) -> None:
    await load_demo(center.tickets, center.accounts, count=240, password=PASSWORD)
    sup = await login("sup")
    r = await sup.call(
        "GET", "/api/v1/reports/ranking?start=2026-10-01&end=2027-01-01&min_follow_ups=3"
    )
    assert r["ranked"], r
    indexes = [d["index"] for d in r["ranked"]]
    assert indexes == sorted(indexes, reverse=True)
    assert all(d["follow_ups"] >= 3 for d in r["ranked"])
    if len(r["ranked"]) > 3:
        assert r["bottom"] == [d["department"] for d in r["ranked"][-3:]]
    agent = await login("agent")
    await agent.call("GET", "/api/v1/reports/ranking", status=403)
    await sup.call("GET", "/api/v1/reports/ranking?start=2026-12-01&end=2026-11-01", status=400)
    base = str(server.make_url("")).rstrip("/")
    page = await _page(browser)
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "sup")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/tickets")
    await page.goto(base + "/reports/ranking?start=2026-10-01&end=2027-01-01&min_follow_ups=3")
    assert "部门服务指数排名" in await page.inner_text("h1")
    assert await page.locator("table.ranking tbody tr").count() == len(r["ranked"])
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "ranking.png"), full_page=True)


pytestmark = pytest.mark.browser
