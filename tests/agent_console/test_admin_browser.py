"""The admin's main path in a real browser (Debian chromium + Playwright): add a user, edit a
dispatch rule and see the test box match it, add a calendar override and see a deadline move;
a screenshot of every admin page at 1440×900."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from agent_console.web import SERVICES
from hotline.bootstrap import Center
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

pytestmark = pytest.mark.browser


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login?next=/admin")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/*")


async def _dispatched_ticket(center: Center) -> tuple[str, str]:
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id="call-admin-1",
            citizen=CitizenIdentity(name="刘洋", phone="13912345678"),
            text="成华区建设路路灯连续一周不亮,夜里行人摔倒。",
            received_at=center.tickets.clock(),
            category="help.water",
            district="chenghua",
        )
    )
    t = await center.tickets.act(
        r.ticket_number,
        Viewer("agent", Role.AGENT),
        Action.DISPATCH,
        payload={"department": "chengguan"},
    )
    return r.ticket_number, str(t["due_at"])


async def test_admin_adds_a_user_edits_a_rule_and_moves_a_deadline(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    SHOTS.mkdir(exist_ok=True)
    number, due = await _dispatched_ticket(center)
    page = await _page(browser)
    dialogs: list[str] = []

    async def accept(dialog: object) -> None:
        dialogs.append(dialog.message)  # type: ignore[attr-defined]
        await dialog.accept()  # type: ignore[attr-defined]

    page.on("dialog", accept)
    await _sign_in(page, base, "admin")
    assert page.url.endswith("/admin/users")

    # 1. a new agent, whose password is shown once and works
    form = page.locator("#add-user")
    await form.locator("input[name=username]").fill("zhouqi")
    await form.locator("input[name=display_name]").fill("周琪")
    await form.locator("select[name=role]").select_option("agent")
    await form.locator("input[name=extension]").fill("8030")
    await form.locator("button.primary").click()
    secret = page.locator("#secret-value")
    await secret.wait_for()
    shown = (await secret.inner_text()).split(" · ")
    assert shown[0] == "zhouqi"
    session = await center.accounts.login("zhouqi", shown[1])
    assert session.user.extension == "8030"
    await page.locator("#users tr[data-username=zhouqi]").wait_for()  # listed without a reload
    await page.screenshot(path=str(SHOTS / "admin-users-added.png"))
    await page.goto(base + "/admin/users")
    assert "周琪" in await page.inner_text("#users")
    # promoted to supervisor, then disabled (the confirmation is accepted)
    row = page.locator("#users tr[data-username=zhouqi]")
    await row.locator("[data-fill]").click()
    edit = page.locator("#edit-user")
    assert await edit.locator("input[name=extension]").input_value() == "8030"
    await edit.locator("select[name=role]").select_option("supervisor")
    await edit.locator("button.primary").click()
    await page.locator("#users tr[data-username=zhouqi] .role-supervisor").wait_for()
    await row.locator("text=停用").click()
    await page.locator("#users tr[data-username=zhouqi].inactive").wait_for()
    assert any("zhouqi" in d for d in dialogs)
    users = {u.username: u for u in await center.accounts.users()}
    assert users["zhouqi"].role is Role.SUPERVISOR
    # a bad extension is refused in place, the field named
    await form.locator("input[name=username]").fill("wuba")
    await form.locator("input[name=extension]").fill("80x")
    await form.locator("button.primary").click()
    error = page.locator("#add-user .form-error")
    await error.wait_for()
    assert "分机" in await error.inner_text()
    assert await form.locator("input[name=extension].invalid").count() == 1
    await page.screenshot(path=str(SHOTS / "admin-users.png"))

    # 2. a dispatch rule: edited in the editor, then matched by the test box
    await page.click(".admin-nav >> text=派单规则")
    await page.wait_for_url("**/admin/rules")
    noise_row = page.locator("#rules tbody tr", has_text="噪声扰民").first
    await noise_row.locator("[data-rule-edit]").click()
    rule = page.locator("#rule-form")
    await rule.locator("select[name=district]").select_option("chenghua")
    await rule.locator("input[name=keywords]").fill("工地 夜间")
    await rule.locator("select[name=lead_department]").select_option("housing")
    await rule.locator("select[name=co_departments]").select_option(["chengguan"])
    await rule.locator("input[name=priority]").fill("7")
    await rule.locator("button.primary").click()
    await page.wait_for_load_state("load")
    edited = page.locator("#rules tbody tr", has_text="工地")
    await edited.wait_for()
    assert "住房和城乡建设局" in await edited.inner_text()
    box = page.locator("#rule-test")
    await box.locator("select[name=category]").select_option("complaint.noise")
    await box.locator("select[name=district]").select_option("chenghua")
    await box.locator("input[name=text]").fill("小区旁边工地夜间施工,吵得睡不着")
    await box.locator("button.primary").click()
    result = page.locator("#rule-test-result.hit")
    await result.wait_for()
    text = await result.inner_text()
    rule_id = (await edited.locator("td").first.inner_text()).strip()
    assert f"#{rule_id}" in text and "住房和城乡建设局" in text
    assert await page.locator("#rules tr.matched").count() == 1
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SHOTS / "admin-rules.png"))

    # 3. a local day off: the dispatched ticket's deadline moves a working day on
    await page.goto(base + "/admin/calendar?month=2026-11")
    await page.click('.cal-day[data-day="2026-11-26"]')
    override = page.locator("#override-form")
    assert await override.locator("select[name=is_workday]").input_value() == "false"
    await override.locator("input[name=reason]").fill("台风停工(市政府通知)")
    await override.locator("button.primary").click()
    flash = page.locator("#admin-flash.ok")
    await flash.wait_for()
    assert "1" in await flash.inner_text()
    assert "台风停工" in await page.inner_text('.cal-day[data-day="2026-11-26"]')
    moved = await center.tickets.view(number, Viewer("admin", Role.ADMIN))
    assert moved["due_at"] > due
    timeline = [e["action"] for e in moved["timeline"]]
    assert "deadline_recomputed" in timeline
    await page.screenshot(path=str(SHOTS / "admin-calendar.png"))


async def test_every_admin_page_at_desktop_size(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    SHOTS.mkdir(exist_ok=True)
    page = await _page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))  # a script that broke
    await _sign_in(page, base, "admin")
    for name in ("departments", "categories", "lines", "sla"):
        await page.goto(f"{base}/admin/{name}")
        assert await page.locator(".admin-nav a.active").count() == 1
        if name == "categories":
            # The review flag set on the page: an agent's dispatch then waits in 待审核.
            water = page.locator("#categories tr", has_text="停水停电")
            await water.locator("[data-fill]").click()
            await page.check("#edit-cat input[name=review_required]")
            await page.fill("#edit-cat input[name=limit_days]", "3")
            await page.click("#edit-cat button.primary")
            await (
                page.locator("#categories tr", has_text="停水停电")
                .locator("text=需审核")
                .wait_for()
            )
            assert "3 个工作日" in await water.inner_text()
            accepted = await center.tickets.accept(
                InboundContact(
                    channel=Channel.WECHAT, external_id="wx-review-1",
                    citizen=CitizenIdentity(wechat_openid="oReviewCitizen"),
                    text="小区停水两天", received_at=center.tickets.clock(),
                    category="help.water",
                )
            )  # fmt: skip
            t = await center.tickets.act(
                accepted.ticket_number,
                Viewer("agent", Role.AGENT),
                Action.DISPATCH,
                payload={"department": "housing"},
            )
            assert t["state"] == "pending_review"
            await page.locator("#categories tr", has_text="拖欠工资").locator("[data-fill]").click()
            assert await page.locator("#edit-cat input[name=review_required]").is_checked()
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(SHOTS / f"admin-{name}.png"))
    await page.goto(base + "/admin/calendar?month=2026-10")
    await page.screenshot(path=str(SHOTS / "admin-calendar-october.png"))
    assert "国庆节" in await page.inner_text("#calendar")
    await page.goto(base + "/admin/sla")
    await page.fill("input[name=max_concurrent_chats]", "0")
    await page.click("#sla-form button.primary")
    await page.locator("#sla-form .form-error").wait_for()
    assert "在线并发上限" in await page.inner_text("#sla-form .form-error")
    await page.fill("input[name=max_concurrent_chats]", "5")
    await page.click("#sla-form button.primary")
    await page.locator("#admin-flash.ok").wait_for()
    presence = center.app[SERVICES].presence
    assert presence is not None and presence.max_chats == 5
    # The same pages in English.
    await page.goto(base + "/admin/rules?lang=en")
    assert "Dispatch rules" in await page.inner_text("h1")
    await page.screenshot(path=str(SHOTS / "admin-rules-en.png"))
    await page.goto(base + "/admin/calendar?lang=en&month=2026-10")
    assert "National Day" in await page.inner_text("#calendar")
    await page.screenshot(path=str(SHOTS / "admin-calendar-en.png"))
    assert not errors, errors
