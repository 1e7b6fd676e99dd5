"""The top bar in a real browser: one row on a desktop in both languages for every role,
the figures menu opens and closes, and nothing runs off a phone's screen."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from hotline.bootstrap import Center
from tests.agent_console.conftest import PASSWORD, SHOTS

pytestmark = pytest.mark.browser

ROLES = ("agent", "sup", "admin", "cg", "police")


async def _signed_in(browser: Browser, base: str, who: str, locale: str, width: int) -> Page:
    ctx = await browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = await ctx.new_page()
    await page.goto(f"{base}/lang/{'en' if locale.startswith('en') else 'zh'}")
    await page.goto(base + "/login")
    await page.fill("input[name=username]", who)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/tickets")
    return page


async def test_every_role_gets_a_one_row_bar_in_both_languages(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    for locale in ("zh-CN", "en-US"):
        for who in ROLES:
            page = await _signed_in(browser, base, who, locale, 1440)
            height = await page.eval_on_selector(".topbar", "e => e.offsetHeight")
            assert height <= 56, (who, locale, height)
            await page.context.close()


async def test_the_figures_menu_opens_leads_and_closes(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    page = await _signed_in(browser, base, "sup", "en-US", 1440)
    menu = page.locator("details.nav-menu")
    assert not await menu.locator(".nav-menu-list").is_visible()
    await menu.locator("summary").click()
    links = menu.locator(".nav-menu-list a")
    assert await links.count() == 5
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "nav_figures_menu.png"))
    await page.click("h1, h2")  # a click elsewhere closes it
    assert not await menu.locator(".nav-menu-list").is_visible()
    await menu.locator("summary").click()
    await links.first.click()
    await page.wait_for_url("**/reports/ranking**")
    assert "active" in (await menu.get_attribute("class") or "")
    await page.context.close()


async def test_nothing_runs_off_a_phone(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    for who in ROLES:
        page = await _signed_in(browser, base, who, "zh-CN", 390)
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, (who, overflow)
        if who == "sup":
            await page.screenshot(path=str(SHOTS / "nav_phone_supervisor.png"))
        await page.context.close()
