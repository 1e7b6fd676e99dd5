"""In a real browser: a citizen's bad rating arrives, the department records the contact and
appeals, the supervisor upholds the appeal and the rating leaves the figures; the ledger.
Screenshots of /reviews, a case and /ledger go to screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from agent_console.review_pages import DESK
from agent_console.web import SERVICES
from hotline.bootstrap import Center
from reports.bad_reviews import CaseAction
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tests.fakes.clock import FakeClock
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, RatingLevel, Role
from tickets.privacy import Viewer

pytestmark = pytest.mark.browser

AGENT = Viewer("agent", Role.AGENT)

MATTERS = [
    ("chengguan", "very_dissatisfied", "张伟", "小区门口占道经营,城管来了又走,问题依旧。", 0),
    ("eco", "dissatisfied", "李娜", "化工厂夜间偷排废气,反映多次未见处理。", 7),
    ("housing", "dissatisfied", None, "物业维修基金使用不公开。", 6),
    ("education", "very_dissatisfied", "王强", "学校课后服务收费不透明。", 2),
    ("transport", "dissatisfied", "赵敏", "公交站台改迁后无遮雨棚。", 4),
]


async def _order(center: Center, i: int, dept: str, name: str | None, text: str) -> str:
    svc = center.tickets
    r = await svc.accept(
        InboundContact(
            channel=Channel.WECHAT,
            external_id=f"wx-bad-{i}",
            citizen=CitizenIdentity(name=name, wechat_openid=f"o6_bmjrPTlm6_review{i}"),
            text=text,
            received_at=svc.clock(),
            subject=text[:12],
        )
    )
    unit = Viewer(f"{dept}-user", Role.DEPARTMENT, dept, svc.scope_of(dept))
    await svc.act(r.ticket_number, AGENT, Action.DISPATCH, payload={"department": dept})
    await svc.act(r.ticket_number, unit, Action.SIGN)
    await svc.act(r.ticket_number, unit, Action.SUBMIT_RESULT, payload={"result": "已处理。"})
    await svc.act(r.ticket_number, AGENT, Action.INFORM_CITIZEN)
    return r.ticket_number


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/tickets")


async def test_bad_rating_contact_appeal_uphold_and_the_ledger(
    center: Center, server: TestServer, browser: Browser
) -> None:
    clock = center.tickets.clock
    assert isinstance(clock, FakeClock) and isinstance(center.bus, InProcessBus)
    today = clock()
    numbers = []
    for i, (dept, level, name, text, days_ago) in enumerate(MATTERS):
        clock.now = today - timedelta(days=days_ago, hours=1)
        n = await _order(center, i, dept, name, text)
        # The citizen answers the rating request on WeChat with a digit (1 or 2).
        who = CitizenIdentity(wechat_openid=f"o6_bmjrPTlm6_review{i}")
        await center.tickets.rate_as_citizen(n, who, RatingLevel(level).score, "wechat")
        numbers.append(n)
    clock.now = today
    await center.bus.drain()
    desk = center.app[DESK]
    sup = Viewer("sup", Role.SUPERVISOR)
    # Some history on the other cases, so the list shows each state.
    cases = {c["ticket"]: c["id"] for c in (await desk.cases(sup))[0]}
    eco = Viewer("eco", Role.DEPARTMENT, "eco", center.tickets.scope_of("eco"))
    await desk.act(cases[numbers[1]], eco, CaseAction.CONTACT, note="电话联系市民")
    await desk.act(cases[numbers[1]], eco, CaseAction.RECTIFY, note="已责令停产整改")
    edu = Viewer("edu", Role.DEPARTMENT, "education", center.tickets.scope_of("education"))
    await desk.act(cases[numbers[3]], edu, CaseAction.APPEAL, note="收费属教育局核定标准")
    figures = center.app[SERVICES].figures
    assert figures is not None
    lo, hi = today - timedelta(days=30), today + timedelta(days=1)
    before = (await figures.sql(lo, hi, today))["chengguan"]
    assert before.satisfaction == (0, 1)

    base = str(server.make_url("")).rstrip("/")
    SHOTS.mkdir(exist_ok=True)
    # The department: its own case only, records the contact, then appeals.
    page = await _page(browser)
    await _sign_in(page, base, "cg")
    await page.click("nav a[href='/reviews']")
    await page.wait_for_url("**/reviews")
    rows = page.locator("table.reviews tbody tr")
    assert await rows.count() == 1
    assert numbers[0] in await rows.first.inner_text()
    assert "待联系" in await rows.first.inner_text()
    await rows.first.locator("a.button").click()
    await page.wait_for_url("**/reviews/*")
    form = page.locator("details.action", has_text="登记已联系市民")
    await form.locator("textarea[name=note]").fill("11月23日电话联系市民,已致歉并约定复查时间。")
    await form.locator("button").click()
    await page.wait_for_url("**flash=*")
    assert "已联系" in await page.inner_text(".badge.big")
    appeal = page.locator("details.action", has_text="提出申诉")
    await appeal.locator("summary").click()
    await appeal.locator("textarea[name=note]").fill(
        "经现场核查,该摊点位于小区红线内,属物业管理范围,不属城管执法职责。"
    )
    await appeal.locator("textarea[name=evidence]").fill(
        "现场照片3张;小区规划红线图(编号HZ-2019-031)。"
    )
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    await appeal.locator("input[type=file]").set_input_files(
        files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": png}]
    )
    await appeal.locator("button").click()
    await page.wait_for_url("**flash=*")
    assert "申诉待复核" in await page.inner_text(".rv-appeal")
    assert "现场照片.png" in await page.inner_text(".rv-appeal")
    await page.screenshot(path=str(SHOTS / "review_case_department.png"), full_page=True)
    mobile = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    m = await mobile.new_page()
    await _sign_in(m, base, "cg")
    await m.goto(base + "/reviews")
    await m.screenshot(path=str(SHOTS / "reviews_department_mobile.png"), full_page=True)
    await m.goto(base + f"/reviews/{cases[numbers[0]]}")
    await m.screenshot(path=str(SHOTS / "review_case_department_mobile.png"), full_page=True)
    await mobile.close()
    # Department A cannot open B's case.
    resp = await page.goto(base + f"/reviews/{cases[numbers[1]]}")
    assert resp is not None and resp.status == 404

    # The supervisor: every case, overdue first; upholds the appeal.
    sp = await _page(browser)
    await _sign_in(sp, base, "sup")
    await sp.goto(base + "/reviews")
    rows = sp.locator("table.reviews tbody tr")
    assert await rows.count() == 5
    assert "rv-late" in (await rows.first.get_attribute("class") or "")
    await sp.screenshot(path=str(SHOTS / "reviews.png"), full_page=True)
    await sp.goto(base + "/reviews?lang=en")
    assert "Bad reviews 3-5-15" in await sp.inner_text("h1")
    await sp.screenshot(path=str(SHOTS / "reviews_en.png"), full_page=True)
    await sp.goto(base + f"/reviews/{cases[numbers[0]]}")
    uphold = sp.locator("details.action", has_text="复核:申诉成立")
    await uphold.locator("summary").click()
    await uphold.locator("textarea[name=note]").fill(
        "经核实,摊点在小区红线内,由物业管理,申诉成立。"
    )
    await uphold.locator("button").click()
    await sp.wait_for_url("**flash=*")
    assert "申诉成立" in await sp.inner_text(".badge.big")
    assert "该评价已不计入考核" in await sp.inner_text("main")
    await sp.screenshot(path=str(SHOTS / "review_case.png"), full_page=True)
    await sp.goto(base + f"/tickets/{numbers[0]}")
    timeline = await sp.inner_text("ol.timeline")
    await sp.click(f"ol.timeline a[href='/reviews/{cases[numbers[0]]}']")
    await sp.wait_for_url(f"**/reviews/{cases[numbers[0]]}")
    await sp.go_back()
    assert "申诉复核:成立" in timeline and "申诉成立" in timeline
    after = (await figures.sql(lo, hi, center.tickets.clock()))["chengguan"]
    assert after.satisfaction == (0, 0) and after.excluded == 1

    # The ledger: a complaint against an agent, recorded from the form.
    await sp.goto(base + "/ledger")
    await sp.fill("input[name=person_name]", "刘洋")
    await sp.fill("input[name=person_id]", "HZ-12345-031")
    await sp.select_option("select[name=department]", "hotline")
    await sp.fill("input[name=ticket]", numbers[2])
    await sp.select_option("select[name=verdict]", "valid")
    await sp.fill("textarea[name=note]", "首问推诿:未登记诉求即让市民改拨部门电话。")
    await sp.click("form[method=post][action='/ledger'] button")
    await sp.wait_for_url("**/ledger/HZ-12345-031*")
    assert "提醒谈话" in await sp.inner_text(".page-head")
    for day, verdict, person, name, dept in [
        ("2025-03-02", "valid", "HZ-12345-031", "刘洋", "hotline"),
        ("2024-10-12", "valid", "HZ-12345-031", "刘洋", "hotline"),
        ("2026-08-19", "valid", "CG-0217", "陈刚", "chengguan"),
        ("2026-09-30", "valid", "CG-0217", "陈刚", "chengguan"),
        ("2026-10-21", "valid", "CG-0217", "陈刚", "chengguan"),
        ("2026-06-05", "invalid", "ECO-0088", "周婷", "eco"),
        ("2026-11-20", "pending", "EDU-0105", "吴磊", "education"),
    ]:
        await desk.record_complaint(
            sup,
            {"person_id": person, "person_name": name, "department": dept, "ticket": numbers[2],
             "occurred_on": day, "verdict": verdict, "note": "市民投诉工作人员推诿"},
        )  # fmt: skip
    await sp.goto(base + "/ledger")
    people = sp.locator("table.ledger tbody tr")
    assert await people.count() == 4
    assert "调整岗位" in await people.first.inner_text()  # 陈刚: three valid in two years
    await sp.screenshot(path=str(SHOTS / "ledger.png"), full_page=True)
    await sp.goto(base + "/ledger/HZ-12345-031")
    assert "通报批评" in await sp.inner_text(".page-head")  # 2024-10-12 no longer counts
    await sp.screenshot(path=str(SHOTS / "ledger_person.png"), full_page=True)
