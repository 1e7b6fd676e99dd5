"""The first console in a real browser (Debian chromium + Playwright): sign in, list, act."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from hotline.bootstrap import Center
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tickets.model import Channel, CitizenIdentity, InboundContact

pytestmark = pytest.mark.browser


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/tickets")


async def test_agent_signs_in_accepts_and_dispatches(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    SHOTS.mkdir(exist_ok=True)
    for i in range(3):
        await center.tickets.accept(
            InboundContact(
                channel=Channel.WECHAT,
                external_id=f"wx-{i}",
                citizen=CitizenIdentity(
                    name="张伟", wechat_openid=f"o6_bmjrPTlm6_2sgVt7hMZOPfL2M{i}"
                ),
                text=[
                    "楼下烧烤店营业到凌晨两点,油烟和噪声扰民。",
                    "共享单车堆满地铁口盲道。",
                    "小区停水两天无人通知。",
                ][i],
                received_at=center.tickets.clock(),
                category=["complaint.noise", "complaint.shared_bike", "help.water"][i],
                district="jinniu",
            )
        )
    page = await _page(browser)
    await page.goto(base + "/login")
    assert "12345政务服务便民热线" in await page.inner_text("h1")
    await page.screenshot(path=str(SHOTS / "login.png"))
    await page.fill("input[name=username]", "agent")
    await page.fill("input[name=password]", "wrong password")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text(".alert")
    await page.fill("input[name=username]", "agent")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/tickets")
    rows = page.locator("table.grid tbody tr")
    assert await rows.count() == 3
    assert "共 3 件" in await page.inner_text("h1")
    await page.screenshot(path=str(SHOTS / "tickets.png"))

    # a phone intake through the form
    await page.click("text=新建工单")
    await page.fill("input[name=phone]", "13800138000")
    await page.fill("input[name=name]", "李静")
    await page.select_option("select[name=category]", "complaint.street_vendor")
    await page.select_option("select[name=district]", "chenghua")
    await page.fill("textarea[name=text]", "菜市场门口占道摆摊,早高峰车辆和行人都过不去。")
    await page.click("button.primary")
    await page.wait_for_url("**/tickets/2026*")
    assert "已受理" in await page.inner_text(".alert")
    number = (await page.inner_text(".crumbs .mono")).strip()

    # dispatch from the detail page
    await page.select_option("details[open] select[name=department]", "chengguan")
    await page.click("details[open] button.primary")
    await page.wait_for_url(f"**/tickets/{number}?*")
    assert "已交办" in await page.inner_text(".badge.big")
    assert "市城市管理局" in await page.inner_text(".timeline")
    await page.screenshot(path=str(SHOTS / "ticket_agent.png"), full_page=True)

    # the department signs it, seeing the citizen masked
    dept = await _page(browser)
    await _sign_in(dept, base, "cg")
    assert await dept.locator("table.grid tbody tr").count() == 1
    await dept.goto(f"{base}/tickets/{number}")
    citizen = await dept.inner_text(".citizen")
    assert "138****8000" in citizen and "李*" in citizen and "13800138000" not in citizen
    await dept.click("button:has-text('签收')")
    await dept.wait_for_url(f"**/tickets/{number}?*")
    assert "办理中" in await dept.inner_text(".badge.big")
    await dept.screenshot(path=str(SHOTS / "ticket_department.png"), full_page=True)

    # English is one click away
    await page.click("a.lang")
    await page.wait_for_load_state()
    assert "Dispatched" in await page.inner_text(
        ".badge.big"
    ) or "Handling" in await page.inner_text(".badge.big")


async def test_one_key_110_needs_one_confirmation(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    result = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id="call-1",
            citizen=CitizenIdentity(phone="13911112222"),
            text="有人在小区门口持刀打架",
            received_at=center.tickets.clock(),
        )
    )
    page = await _page(browser)
    await _sign_in(page, base, "agent")
    await page.goto(f"{base}/tickets/{result.ticket_number}")
    dialogs: list[Any] = []

    async def accept(d: Any) -> None:
        dialogs.append(d.message)
        await d.accept()

    page.on("dialog", accept)
    await page.keyboard.press("F10")
    await page.wait_for_url(f"**/tickets/{result.ticket_number}?*")
    assert dialogs == ["确认转110?(回车确认)"]
    assert "已转110" in await page.inner_text(".badge.big")
    police = await _page(browser)
    await _sign_in(police, base, "police")
    await police.goto(f"{base}/tickets/{result.ticket_number}")
    assert "持刀打架" in await police.inner_text(".prose")
    await police.screenshot(path=str(SHOTS / "ticket_police.png"), full_page=True)
