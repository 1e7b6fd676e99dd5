"""The department portal on a phone, the ticket's recording player, and supervision on the
wallboard, in a real browser: a unit signs and answers an order with a photo; an overdue order
reaches the wallboard live and the supervisor supervises and reassigns it in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, FilePayload, Page, expect

from agent_console.web import SERVICES
from hotline.bootstrap import Center
from router.deadlines import DeadlineWatcher
from tests.agent_console.conftest import PASSWORD, SHOTS
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

pytestmark = pytest.mark.browser

SUP = Viewer("sup", Role.SUPERVISOR)
CG = Viewer("cg", Role.DEPARTMENT, "chengguan", frozenset({"chengguan", "chengguan.jinniu"}))
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)

ORDERS = [
    # (key, department, category, district, subject, text, urgent, name, phone)
    (
        "vendor",
        "chengguan",
        "complaint.street_vendor",
        "jinniu",
        "荷花池市场东门流动摊贩占道经营",
        "每天早上7点到9点,荷花池市场东门外流动摊贩占用人行道和非机动车道,行人只能走机动车道,存在安全隐患。",
        False,
        "王芳",
        "13800138001",
    ),
    (
        "manhole",
        "chengguan",
        "complaint.cityscape",
        "jinniu",
        "金府路与蜀汉路口井盖缺失",
        "金府路与蜀汉路交叉口东北角人行道井盖缺失,已有老人险些踩空,请尽快处置。",
        True,
        "李建国",
        "13912345678",
    ),
    (
        "bike",
        "chengguan.jinniu",
        "complaint.shared_bike",
        "jinniu",
        "地铁茶店子站C口共享单车堆积",
        "茶店子地铁站C口共享单车长期堆积,占满盲道,轮椅无法通行。",
        False,
        "赵敏",
        "13698765432",
    ),
]


async def _order(center: Center, row: tuple[Any, ...]) -> str:
    key, dept, category, district, subject, text, urgent, name, phone = row
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id=f"browser-{key}",
            citizen=CitizenIdentity(name=name, phone=phone),
            text=text,
            received_at=center.tickets.clock(),
            category=category,
            district=district,
            subject=subject,
        )
    )
    n = r.ticket_number
    if urgent:
        await center.tickets.update_fields(n, SUP, {"urgency": "urgent"})
    await center.bus.drain()  # type: ignore[attr-defined]  # urgent kinds are dispatched at once
    if (await center.tickets.view(n, SUP))["state"] == "received":
        await center.tickets.act(n, SUP, Action.DISPATCH, payload={"department": dept})
    return n


async def _signed_in(browser: Browser, base: str, user: str, path: str, phone: bool) -> Page:
    if phone:
        ctx = await browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
        )
    else:
        ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await ctx.new_page()
    await page.goto(base + "/login?next=" + path)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**" + path)
    return page


async def test_a_unit_signs_and_answers_on_a_phone(
    center: Center, server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    SHOTS.mkdir(exist_ok=True)
    base = str(server.make_url("")).rstrip("/")
    numbers = [await _order(center, row) for row in ORDERS]
    # One in hand with an extension asked for, one already answered: every tab has something.
    clock = center.tickets.clock
    earlier = clock.now  # type: ignore[attr-defined]
    clock.now = earlier - timedelta(days=3)  # type: ignore[attr-defined]
    handled = await _order(
        center,
        (
            "noise",
            "chengguan",
            "complaint.noise",
            "jinniu",
            "营门口路夜间施工噪声",
            "营门口路工地每晚11点后仍在打桩。",
            False,
            "周强",
            "13512340000",
        ),
    )
    answered = await _order(
        center,
        (
            "cityscape",
            "chengguan",
            "complaint.cityscape",
            "jinniu",
            "沙湾路广告牌破损",
            "沙湾路42号门前广告牌破损悬挂,大风天有坠落风险。",
            False,
            "陈静",
            "13700001111",
        ),
    )
    clock.now = earlier  # type: ignore[attr-defined]
    await center.tickets.act(handled, CG, Action.SIGN)
    await center.tickets.act(
        handled, CG, Action.REQUEST_EXTENSION, reason="需协调夜间执法", payload={"days": 3}
    )
    await center.tickets.act(answered, CG, Action.SIGN)
    await center.tickets.act(
        answered,
        CG,
        Action.SUBMIT_RESULT,
        payload={"result": "已责令商户拆除破损广告牌,现场复查已无隐患。"},
    )

    page = await _signed_in(browser, base, "cg", "/portal", phone=True)
    vendor, manhole, bike = numbers
    await expect(page.locator(".portal-tabs a[data-tab=sign] .count")).to_have_text("3")
    card = page.locator(f"#o-{vendor}")
    await expect(card.locator(".cd-left")).to_contain_text("剩余")
    await expect(card).to_contain_text("王*")
    await expect(card).not_to_contain_text("13800138001")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing sticks out sideways on a phone
    await page.screenshot(path=str(SHOTS / "portal_phone.png"))

    # A new order for the unit arrives while the inbox is open: a notice, no reload.
    await expect(page.locator("#portal-live")).to_have_attribute("data-on", "1")
    lamp = ("lamp", "chengguan", "complaint.cityscape", "jinniu", "一环路北三段路灯不亮")
    await _order(
        center,
        (*lamp, "一环路北三段连续五盏路灯不亮,夜间行人看不清路面。", False, "吴伟", "13811112222"),
    )
    await expect(page.locator("#portal-news")).to_contain_text("新交办工单 1 件")
    await expect(page.locator(".portal-tabs a[data-tab=sign] .count")).to_have_text("4")
    await page.screenshot(path=str(SHOTS / "portal_phone_news.png"))

    # The citizen's number, for a reason that goes to the audit log.
    await card.locator(".p-unmask summary").tap()
    await card.locator(".p-unmask button").tap()  # no reason: refused in place
    await expect(card.locator(".outcome")).to_have_text("请说明查看原因(至少 4 个字)")
    await card.locator(".p-unmask input[name=reason]").fill("需电话联系诉求人确认摊点位置")
    await card.locator(".p-unmask button").tap()
    await expect(card.locator("[data-field=phone]")).to_have_text("13800138001")
    async with center.store.read() as tx:
        audit = [e for e in await tx.audit_entries() if e["action"] == "unmask"]
    assert [(e["username"], e["reason"]) for e in audit] == [("cg", "需电话联系诉求人确认摊点位置")]

    # Sign in one tap: the order moves to 办理中.
    await card.locator("button.p-sign").tap()
    await expect(card.locator(".outcome")).to_have_attribute("data-state", "done")
    await page.wait_for_url("**/portal?tab=handling*")
    card = page.locator(f"#o-{vendor}")
    await expect(card.locator(".countdown .cd-label")).to_have_text("办理时限")

    # Answer with a site photo.
    form = card.locator("form[data-act=result]")
    await form.locator("button").tap()  # empty: the field is named, nothing sent
    await expect(card.locator(".outcome")).to_have_attribute("data-state", "failed")
    await expect(card.locator(".outcome")).to_contain_text("办理结果")
    await form.locator("textarea[name=result]").fill(
        "已联合街道劝离流动摊贩,设置隔离护栏,每日早高峰安排专人值守。"
    )
    await form.locator("input[type=file]").set_input_files(
        files=FilePayload(name="现场照片.png", mimeType="image/png", buffer=PNG)
    )
    await page.screenshot(path=str(SHOTS / "portal_phone_answer.png"))
    await form.locator("button").tap()
    await page.wait_for_url("**/portal?tab=done*")
    done = page.locator(f"#o-{vendor}")
    await expect(done.locator(".result-files a")).to_have_text("现场照片.png")
    href = await done.locator(".result-files a").get_attribute("href")
    got = await page.request.get(base + str(href))
    assert got.status == 200 and await got.body() == PNG
    t = await center.tickets.view(vendor, SUP)
    assert t["state"] == "result_submitted" and t["result_text"].startswith("已联合街道")
    await page.screenshot(path=str(SHOTS / "portal_phone_done.png"))

    desk = await _signed_in(browser, base, "cg", "/portal", phone=False)
    await expect(desk.locator(".portal-tabs a[data-tab=sign] .count")).to_have_text("3")
    await desk.screenshot(path=str(SHOTS / "portal_desktop.png"))
    await desk.goto(base + "/portal?tab=handling")
    await expect(desk.locator(f"#o-{handled}")).to_contain_text("已申请延期 3 个工作日")
    await desk.screenshot(path=str(SHOTS / "portal_desktop_handling.png"))
    assert manhole and bike


async def test_the_ticket_plays_its_call_recording(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id="call:1763871234.7",
            citizen=CitizenIdentity(name="孙丽", phone="13600001234"),
            text="来电反映:抚琴西路小区二次供水水压不足,高层住户白天基本无水。",
            received_at=center.tickets.clock(),
            category="help.water",
            district="jinniu",
            subject="抚琴西路小区高层供水不足",
            extra={
                "agent": "agent",
                "call_id": "1763871234.7",
                "recording": "20261123/1763871234.7.wav",
            },
        )
    )
    root = center.app[SERVICES].recordings_dir
    assert root is not None
    (root / "20261123").mkdir(parents=True, exist_ok=True)
    (root / "20261123" / "1763871234.7.wav").write_bytes(_wav(seconds=3))
    page = await _signed_in(browser, base, "agent", f"/tickets/{r.ticket_number}", phone=False)
    player = page.locator("#recordings audio")
    await expect(player).to_have_count(1)
    duration = await player.evaluate(
        "a => new Promise(ok => { a.preload = 'metadata';"
        " a.onloadedmetadata = () => ok(a.duration); a.load(); })"
    )
    assert abs(duration - 3.0) < 0.05, duration
    await player.evaluate("a => { a.currentTime = 2.0; }")  # seeking needs Range on the server
    await page.screenshot(path=str(SHOTS / "ticket_recording.png"))
    async with center.store.read() as tx:
        plays = [e for e in await tx.audit_entries() if e["action"] == "recording_play"]
    assert plays and {p["username"] for p in plays} == {"agent"}


def _wav(seconds: int, rate: int = 8000) -> bytes:
    """A silent 8 kHz mono 16-bit WAV, as MixMonitor writes them."""
    import struct

    data = b"\0\0" * rate * seconds
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


async def test_an_overdue_order_reaches_the_wallboard_live_and_is_supervised_and_reassigned(
    center: Center, server: TestServer, browser: Browser
) -> None:
    base = str(server.make_url("")).rstrip("/")
    review = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id="browser-review",
            citizen=CitizenIdentity(name="郑先生", phone="13522223333"),
            text="反映某企业拖欠农民工工资三个月,涉及二十余人。",
            received_at=center.tickets.clock(),
            category="report.wage_arrears",
            district="jinniu",
            subject="某建筑企业拖欠农民工工资",
            extra={"agent": "agent"},
        )
    )
    await center.tickets.act(
        review.ticket_number, Viewer("agent", Role.AGENT), Action.SUBMIT_REVIEW
    )
    board = await _signed_in(browser, base, "sup", "/wallboard", phone=False)
    await expect(board.locator("#live-dot")).to_have_attribute("data-on", "1")
    await expect(board.locator("#sup-n-overdue")).to_have_text("0")
    loads = await board.evaluate("performance.getEntriesByType('navigation').length")

    # An order dispatched a week ago that nobody signed: the watcher escalates it.
    clock = center.tickets.clock
    now = clock.now  # type: ignore[attr-defined]
    clock.now = now - timedelta(days=7)  # type: ignore[attr-defined]
    late = await _order(center, ORDERS[1])
    clock.now = now  # type: ignore[attr-defined]
    given = await DeadlineWatcher(center.tickets, clock).run_once()
    assert {w.kind for w in given if w.ticket_number == late} == {"sign_overdue", "overdue"}

    item = board.locator(f"#sup-overdue li[data-number='{late}']")
    await expect(item).to_be_visible()
    await expect(board.locator(f".sup-alert[data-number='{late}']").first).to_be_visible()
    await expect(board.locator("#sup-n-overdue")).to_have_text("1")
    await board.screenshot(path=str(SHOTS / "wallboard_supervision.png"), full_page=True)

    # 督办 with a note and a new deadline, outcome in place.
    await item.locator("button[data-act=supervise]").click()
    await item.locator("textarea[name=note]").fill(
        "井盖缺失危及行人安全,请今日内完成临时围挡并限期修复"
    )
    await item.locator("input[name=due_date]").fill("2026-11-26")
    await item.locator("button[type=submit]").click()
    await expect(item.locator(".outcome")).to_have_text("已督办")
    t = await center.tickets.view(late, SUP)
    assert t["timeline"][-1]["action"] == "supervise"
    assert t["due_at"] == datetime(2026, 11, 26, 16, 0, tzinfo=UTC).isoformat()

    # No longer overdue, still unsigned: it now waits among the warnings.
    item = board.locator(f"#sup-warnings li.sup-item:not(.ghost)[data-number='{late}']")
    await expect(item.locator(".sup-kind")).to_have_text("超时未签收")
    # 改派 to another unit: the order leaves the lists, its outcome stays in view.
    await item.locator("button[data-act=reassign]").click()
    await item.locator("select[name=department]").select_option("eco")
    await board.evaluate("window.scrollTo(0, 0)")
    await board.screenshot(path=str(SHOTS / "wallboard_reassign.png"), full_page=True)
    await item.locator("button[type=submit]").click()
    await expect(board.locator(f"li[data-number='{late}'] .outcome").first).to_contain_text(
        "已改派至"
    )
    t = await center.tickets.view(late, SUP)
    assert t["lead_department"] == "eco" and t["state"] == "dispatched"

    # A ticket awaiting review moves to another agent (the first went off shift).
    waiting = board.locator(f"#sup-awaiting li[data-number='{review.ticket_number}']")
    await expect(waiting).to_contain_text("坐席 agent")
    await waiting.locator("button[data-act=assign]").click()
    await waiting.locator("select[name=agent]").select_option("agent2")
    await waiting.locator("button[type=submit]").click()
    await expect(waiting.locator(".outcome")).to_contain_text("已改派给")
    assert (await center.tickets.view(review.ticket_number, SUP))["accepted_by"] == "agent2"
    await expect(waiting).to_contain_text("坐席 agent2")
    await board.evaluate("window.scrollTo(0, 0)")
    await board.screenshot(path=str(SHOTS / "wallboard_done.png"), full_page=True)
    assert await board.evaluate("performance.getEntriesByType('navigation').length") == loads
