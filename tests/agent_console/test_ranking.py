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
    # a click on a number opens the tickets behind it, as many as the number says
    link = page.locator("table.ranking tbody tr").first.locator("td.fig-cell .fig-nd a").nth(1)
    expected = await link.get_attribute("data-count")
    await link.click()
    await page.wait_for_url("**/reports/drill?**")
    assert await page.get_attribute(".fig-drill-count", "data-count") == expected
    await page.screenshot(path=str(SHOTS / "ranking_drill.png"), full_page=True)
    await page.goto(base + "/reports/adjustments?start=2026-10-01&end=2027-01-01")
    await page.fill("input[name=points]", "2")
    await page.fill("input[name=reason]", "电子监察:超期未签收")
    await page.click("form.fig-adj-form button.primary")
    await page.wait_for_selector("table.fig-adjustments td:has-text('电子监察')")
    await page.screenshot(path=str(SHOTS / "ranking_adjustments.png"), full_page=True)
    await page.goto(base + "/reports/ranking?start=2026-10-01&end=2027-01-01&min_follow_ups=3")
    assert await page.locator(".fig-adj li").count() >= 1
    await page.screenshot(path=str(SHOTS / "ranking_adjusted.png"), full_page=True)


async def test_classes_page_in_a_browser(
    center: Center, login: Any, server: TestServer, browser: Browser
) -> None:
    await load_demo(center.tickets, center.accounts, count=60, password=PASSWORD)
    base = str(server.make_url("")).rstrip("/")
    page = await _page(browser)
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/*")
    await page.goto(base + "/admin/classes")
    await page.fill("input[name=code]", "public")
    await page.fill("input[name=name_zh]", "窗口服务部门")
    await page.fill("input[name=name_en]", "Public-facing")
    for name, value in (("satisfaction", "80"), ("on_time", "10"), ("response", "5"),
                        ("feedback", "5")):  # fmt: skip
        await page.fill(f"input[name=w_{name}]", value)
    await page.click("form.fig-class-form button.primary")
    await page.wait_for_url("**/admin/classes?saved=1")
    await page.select_option("select[name=dept_chengguan]", "public")
    await page.click("form:has(select) button.primary")
    await page.wait_for_url("**/admin/classes?saved=1")
    assert await page.input_value("select[name=dept_chengguan]") == "public"
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "classes.png"), full_page=True)


pytestmark = pytest.mark.browser
