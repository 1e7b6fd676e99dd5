"""The live pages in a real browser: screen pop from the fake Asterisk, ticket form, one-key 110
reaching the police page live, and the supervisor wallboard moving without a reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, expect

from agent_console.push import hub_of
from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tests.fakes.ami_server import AmiServer
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

pytestmark = pytest.mark.browser

TRACES = Path(__file__).parents[2].parent / "shared" / "ami-traces"
BLIND = TRACES / "real-asterisk-22.10.1__blind-transfer-to-110.ami"
CALLER = "13800138003"  # the caller in the recorded trace


@pytest_asyncio.fixture
async def ami() -> AsyncIterator[AmiServer]:
    async with AmiServer(trace=BLIND) as server:
        yield server


@pytest_asyncio.fixture
async def floor(tmp_path: Path, ami: AmiServer) -> AsyncIterator[tuple[Center, str]]:
    """A center wired to the fake Asterisk, served, with the AMI session not yet started."""
    settings = load_settings(
        data_dir=tmp_path / "data",
        asterisk={"host": ami.host, "port": ami.port, "secret": "hotline12345"},
    )
    c = build(settings, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    await c.start()
    await load_reference_data(c.tickets)
    for username, role, dept, ext, name in (
        ("zhang", Role.AGENT, None, "8001", "张敏"),
        ("sup", Role.SUPERVISOR, None, None, "刘值班长"),
        ("police", Role.POLICE, "police", None, "110接警员 陈"),
    ):
        await c.accounts.add_user(
            username, PASSWORD, role, department=dept, extension=ext, display_name=name
        )
    await _caller_history(c)
    hub_of(c.app).wallboard_seconds = 0.5
    c.app.cleanup_ctx.clear()
    srv = TestServer(c.app, host="127.0.0.1")
    await srv.start_server()
    yield c, str(srv.make_url("")).rstrip("/")
    await srv.close()
    await c.stop()


async def _caller_history(c: Center) -> None:
    """The caller has called before (one dispatched, one rated) and someone hung up."""
    now = c.tickets.clock()
    desk = Viewer("sup", Role.SUPERVISOR)
    for i, (text, category) in enumerate(
        (
            ("小区门口夜市占道经营,晚上十点后还在营业", "complaint.street_vendor"),
            ("楼下共享单车堆满盲道", "complaint.shared_bike"),
        )
    ):
        earlier = await c.tickets.accept(
            InboundContact(
                channel=Channel.PHONE,
                external_id=f"earlier-{i}",
                citizen=CitizenIdentity(name="赵先生", phone=CALLER),
                text=text,
                received_at=now - timedelta(days=20 - 12 * i),
                category=category,
                district="jinniu",
            )
        )
        number = earlier.ticket_number
        if i == 0:
            await c.tickets.act(number, desk, Action.DISPATCH, payload={"department": "chengguan"})
        else:
            answer = {"result": "已告知共享单车企业清运"}
            await c.tickets.act(number, desk, Action.RESOLVE_ON_SPOT, payload=answer)
            await c.tickets.act(number, desk, Action.RECORD_RATING, payload={"rating": "satisfied"})
    assert c.calls is not None
    await c.calls.save(
        {
            "call_id": "1763870000.11",
            "direction": "inbound",
            "caller": "13512345678",
            "dialed": "12345",
            "queue": "hotline",
            "started_at": now - timedelta(minutes=18),
            "ended_at": now - timedelta(minutes=17),
            "abandoned": True,
            "callback_due_at": now + timedelta(hours=1, minutes=42),
            "record": {},
        }
    )


async def _signed_in(chromium: Browser, base: str, username: str, path: str) -> Page:
    page = await _page(chromium)
    await page.goto(base + "/login?next=" + path)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**" + path)
    await expect(page.locator("#live-dot")).to_have_attribute("data-on", "1")
    return page


async def test_screen_pop_form_one_key_110_police_and_wallboard_live(
    floor: tuple[Center, str],
    ami: AmiServer,
    browser: Browser,  # noqa: F811
) -> None:
    center, base = floor
    SHOTS.mkdir(exist_ok=True)
    agent = await _signed_in(browser, base, "zhang", "/workspace")
    police = await _signed_in(browser, base, "police", "/police")
    board = await _signed_in(browser, base, "sup", "/wallboard")
    await expect(police.locator("#orders-empty")).to_be_visible()
    assert await board.inner_text("[data-k='today.offered']") == "1"  # the abandoned one
    await expect(board.locator("[data-k='agents_online']")).to_have_text("1")
    board_loads = await board.evaluate("performance.getEntriesByType('navigation').length")

    # The AMI session starts: the recorded call rings agent 8001 and is answered.
    written: list[float] = []
    emit = ami._emit

    def spy(frame: Any) -> None:  # when the fake writes AgentCalled on the socket
        emit(frame)
        if frame.get("Event") == "AgentCalled":
            written.append(time.time())

    ami._emit = spy  # type: ignore[method-assign]
    await center.start_background()
    pop = agent.locator("#pop")
    await expect(pop).to_have_attribute("data-state", "talking", timeout=10_000)
    assert await agent.inner_text("#pop-caller") == CALLER
    shown_ms = float(await pop.get_attribute("data-shown-at") or 0)
    pop_ms = shown_ms - written[0] * 1000
    print(f"screen pop in the browser: AgentCalled written → DOM updated in {pop_ms:.1f} ms")
    assert 0 < pop_ms < 1000
    history = agent.locator("#pop-history li")
    await expect(history).to_have_count(2)
    assert "占道经营" in await agent.inner_text("#pop-history")
    await expect(agent.locator("#pop-open")).to_have_text("未办结 1 件")
    await expect(agent.locator("#pop-rating")).to_have_text("满意")
    number = (await agent.inner_text("#form-number")).strip()
    assert number.startswith("20") and await agent.locator("#ticket-card").is_visible()
    await expect(agent.locator("#missed li")).to_have_count(1)

    # The wallboard shows the live call without a reload.
    await expect(board.locator("#wb-calls tr")).to_have_count(1)
    await expect(board.locator("#wb-calls")).to_contain_text("zhang")
    await expect(board.locator("[data-k='on_calls']")).to_have_text("1")
    await board.wait_for_timeout(700)  # let the changed numbers' highlight fade
    await board.screenshot(path=str(SHOTS / "wallboard_live_call.png"))

    # The agent fills the ticket form while talking; it saves through PATCH.
    await agent.fill("input[name=subject]", "小区门口有人持刀斗殴")
    await agent.select_option("select[name=category]", "complaint.street_vendor")
    await agent.select_option("select[name=district]", "jinniu")
    await agent.select_option("select[name=urgency]", "urgent")
    await agent.fill(
        "textarea[name=description]",
        "来电人称金牛区某小区南门两名男子持刀斗殴,已有一人受伤倒地,请求警方立即出警。",
    )
    await agent.click("#save-ticket")
    await expect(agent.locator("#save-outcome")).to_have_attribute("data-state", "done")
    await agent.screenshot(path=str(SHOTS / "workspace.png"))
    assert center.desk is not None
    saved = await center.tickets.view(number, center.accounts.viewer(await _user(center, "sup")))
    assert saved["urgency"] == "urgent" and "持刀斗殴" in saved["description"]

    # One key: F10 opens the confirmation, one Enter accepts; Asterisk gets BlindTransfer.
    await agent.keyboard.press("F10")
    await expect(agent.locator("#confirm-110")).to_be_visible()
    await agent.screenshot(path=str(SHOTS / "workspace_confirm_110.png"))
    await agent.keyboard.press("Enter")
    sent = await ami.wait_expecting("Logoff")  # the replay went past BlindTransfer
    assert sent is not None
    (transfer,) = ami.actions_named("BlindTransfer")
    assert transfer.get("Exten") == "110"
    outcome = agent.locator("#call-outcomes li .outcome").first
    await expect(outcome).to_have_attribute("data-state", "done", timeout=10_000)
    assert "110 已接通" in await outcome.inner_text()

    # The police page, open all along, shows the order live with its context (masked caller).
    order = police.locator(f".order[data-number='{number}']")
    await expect(order).to_be_visible(timeout=10_000)
    text = await order.inner_text()
    assert "持刀斗殴" in text and "138****8003" in text and CALLER not in text
    assert "zhang" in text  # who transferred it, and when
    await expect(police.locator("#police-count")).to_have_text("待处置 1 件")
    await police.screenshot(path=str(SHOTS / "police.png"))
    await order.locator("button.primary").click()  # acknowledge
    await expect(order).to_have_attribute("data-ack", "1")

    # The wallboard moved: 110 order counted, the transfer in the feed, no reload.
    await expect(board.locator("[data-k='tickets.with_police']")).to_have_text("1")
    await expect(board.locator("#wb-feed")).to_contain_text(number)
    await expect(board.locator("#wb-feed")).to_contain_text("一键转110")
    async with asyncio.timeout(15):
        while center.desk.live:  # noqa: ASYNC110 - the recorded call runs to its end
            await asyncio.sleep(0.1)
    await center.desk.drain()
    await expect(board.locator("[data-k='today.transfers_110']")).to_have_text("1")
    await expect(board.locator("[data-k='today.offered']")).to_have_text("2")
    assert await board.evaluate("performance.getEntriesByType('navigation').length") == (
        board_loads
    )
    await board.wait_for_timeout(700)
    await board.screenshot(path=str(SHOTS / "wallboard.png"))
    await expect(agent.locator("#pop")).to_have_attribute("data-state", "ended")
    for p in (agent, police, board):
        await p.context.close()


async def _user(center: Center, username: str) -> Any:
    return next(u for u in await center.accounts.users() if u.username == username)


async def test_agent_sees_the_pop_in_english_and_other_roles_are_kept_out(
    floor: tuple[Center, str],
    browser: Browser,  # noqa: F811
) -> None:
    _, base = floor
    police = await _signed_in(browser, base, "police", "/police")
    resp = await police.goto(base + "/workspace")
    assert resp is not None and resp.status == 403
    resp = await police.goto(base + "/wallboard")
    assert resp is not None and resp.status == 403
    agent = await _signed_in(browser, base, "zhang", "/workspace?lang=en")
    assert "Waiting for a call" in await agent.inner_text("#pop")
    assert "Transfer to 110" in await agent.inner_text("#btn-110")
    resp = await agent.goto(base + "/police")
    assert resp is not None and resp.status == 403
    for p in (agent, police):
        await p.context.close()
