"""The mayor's mailbox on a phone in a real browser: write, fix a mistake, get a receipt, track."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, ViewportSize

from hotline.bootstrap import Center
from tests.agent_console.conftest import SHOTS
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.model import Role
from tickets.privacy import Viewer

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}


async def _phone(browser: Browser) -> Page:
    ctx = await browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, device_scale_factor=2
    )
    return await ctx.new_page()


async def _fits_the_screen(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px phone"


async def _answer(page: Page) -> None:
    question = await page.inner_text("label[for=f-answer]")
    m = re.search(r"(\d+) ([加减]) (\d+)", question)
    assert m, question
    a, b = int(m.group(1)), int(m.group(3))
    await page.fill("#f-answer", str(a + b if m.group(2) == "加" else a - b))


async def test_citizen_writes_on_a_phone_and_tracks_the_letter(
    center: Center, server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    base = str(server.make_url("")).rstrip("/")
    SHOTS.mkdir(exist_ok=True)
    photo = tmp_path / "工地夜间施工.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 4096)
    page = await _phone(browser)
    errors: list[str] = []
    # Status codes show up as console errors too (the deliberate 400, the favicon's 404);
    # what must never appear is a blocked resource or a script error.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    await page.goto(base + "/mailbox")
    assert "给市长写信" in await page.inner_text("h1")
    await _fits_the_screen(page)
    await page.screenshot(path=str(SHOTS / "mailbox_form.png"), full_page=True)

    await page.fill("#f-name", "王小明")
    await page.fill("#f-phone", "12345")  # a mistake the server must catch
    await page.fill("#f-email", "wxm@example.cn")
    await page.fill("#f-subject", "建设路工地夜间施工扰民")
    await page.select_option("#f-category", "complaint.noise")
    await page.fill(
        "#f-content",
        "建设路与一环路交叉口的工地最近一周每天夜里十一点以后还在施工,"
        "打桩声很大,附近居民和孩子无法休息。恳请有关部门督促施工单位遵守夜间施工规定。",
    )
    await page.fill("#f-location", "金牛区建设路与一环路交叉口")
    await page.set_input_files("#f-attachments", str(photo))
    await page.check("input[name=consent_publish]")
    await _answer(page)
    await page.click("button.mb-submit")
    await page.wait_for_selector(".mb-errors")
    assert "联系电话格式不正确" in await page.inner_text(".mb-errors")
    assert await page.input_value("#f-subject") == "建设路工地夜间施工扰民"
    assert await page.is_checked("input[name=consent_publish]")
    await _fits_the_screen(page)
    await page.screenshot(path=str(SHOTS / "mailbox_form_error.png"), full_page=False)
    await page.locator("#f-phone").scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "mailbox_form_error_field.png"))

    await page.fill("#f-phone", "13800138000")
    await page.set_input_files("#f-attachments", str(photo))
    await page.click("button.mb-submit")
    await page.wait_for_selector(".mb-receipt")
    number = (await page.inner_text(".mb-number")).strip()
    code = (await page.inner_text(".mb-code")).strip()
    assert re.fullmatch(r"\d{8}-\d{6}", number) and re.fullmatch(r"[A-Z2-9]{8}", code)
    await _fits_the_screen(page)
    await page.screenshot(path=str(SHOTS / "mailbox_receipt.png"), full_page=True)

    await page.click("a.mb-button.primary")
    await page.wait_for_url("**/mailbox/progress?number=*")
    assert await page.input_value("#f-number") == number
    await page.fill("#f-code", code.lower())
    await page.click("button.mb-submit")
    await page.wait_for_selector(".mb-result")
    assert "已受理" in await page.inner_text(".mb-result .badge")
    assert "王小明" not in await page.content()
    await _fits_the_screen(page)
    await page.screenshot(path=str(SHOTS / "mailbox_progress.png"), full_page=True)

    # the letter is answered and closed; with consent it appears among the published
    agent = Viewer("agent", Role.AGENT)
    await center.tickets.act(
        number, agent, Action.RESOLVE_ON_SPOT,
        payload={"result": "经核查,该工地未办理夜间施工许可。区城管局已责令其停止夜间施工,"
                           "并安排执法人员夜间巡查。如再有类似情况,请拨打12345反映。"},
    )  # fmt: skip
    await center.tickets.act(number, agent, Action.RECORD_RATING, payload={"rating": "satisfied"})
    assert isinstance(center.bus, InProcessBus)
    await center.bus.drain()
    await page.click("nav.mb-nav >> text=来信选登")
    await page.wait_for_selector(".mb-letter")
    text = await page.inner_text(".mb-letter")
    assert "建设路工地夜间施工扰民" in text and "责令其停止夜间施工" in text
    assert "王小明" not in await page.content()
    await _fits_the_screen(page)
    await page.screenshot(path=str(SHOTS / "mailbox_published.png"), full_page=True)
    assert not [e for e in errors if "Failed to load resource" not in e], errors
    await page.context.close()
