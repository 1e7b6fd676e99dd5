"""The briefing, hotspots and ranking pages in a real browser: charts drawn, no CSP errors."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from agent_console.briefing_pages import BRIEFINGS, render_messages
from hotline.bootstrap import Center
from reports.briefing import period_of
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tests.fakes.clock import FakeClock
from tickets.tables import tickets

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # Monday 17:30 in Beijing
DISTRICTS = ["jinniu", "chenghua", "jinjiang", "xinjin"]
CHANNELS = ["phone"] * 10 + ["wechat"] * 5 + ["mailbox"] * 2 + ["web"] * 2 + ["telegram"]
MATTERS = [
    ("complaint.noise", "chengguan", ["夜间施工噪音扰民,影响休息", "广场舞噪音扰民"]),
    ("complaint.street_vendor", "chengguan", ["菜市场门口占道经营,行人无法通行"]),
    ("complaint.taxi", "transport", ["出租车拒载,司机态度恶劣", "出租车绕路多收费"]),
    ("consult.social_insurance", "hrss", ["咨询公积金提取办理流程", "医保卡异地报销怎么办理"]),
    ("help.water", "housing", ["小区停水两天无人通知", "自来水发黄有异味"]),
    ("report.pollution", "eco", ["工厂夜间偷排废气,气味刺鼻"]),
    ("complaint.property", "housing", ["物业费上涨未公示", "物业不作为,电梯长期故障"]),
    ("complaint.food_safety", "market", ["餐馆卫生差,吃后腹泻"]),
    ("consult.school", "education", ["咨询积分入学政策"]),
]


def city(rng: random.Random) -> list[dict[str, Any]]:
    """Three weeks of a small city, then a Monday with shared bikes piling up in Chenghua."""
    rows: list[dict[str, Any]] = []

    def add(created: datetime, matter: tuple[str, str, list[str]], **kw: Any) -> None:
        category, dept, texts = matter
        rows.append(
            {"created_at": created, "channel": rng.choice(CHANNELS), "category": category,
             "lead_department": dept, "district": rng.choice(DISTRICTS),
             "description": rng.choice(texts), "subject": rng.choice(texts)[:12], **kw}
        )  # fmt: skip

    start = NOW - timedelta(days=21, hours=17, minutes=30)  # local midnight, three weeks back
    for day in range(22):
        base = start + timedelta(days=day)
        count = rng.randint(18, 30) if day < 21 else 16
        for _ in range(count):
            add(base + timedelta(minutes=rng.randint(8 * 60, 17 * 60 + 20)), rng.choice(MATTERS))
    bikes = ("complaint.shared_bike", "chengguan", ["地铁口共享单车乱停放,堵塞盲道"])
    for i in range(14):
        add(NOW - timedelta(hours=9) + timedelta(minutes=35 * i), bikes, district="chenghua")
    noise = ("complaint.noise", "chengguan", ["地铁工地夜间施工噪音扰民,凌晨还在打桩"])
    for i in range(11):  # a familiar complaint, suddenly five times as frequent in Jinniu
        add(NOW - timedelta(hours=8) + timedelta(minutes=40 * i), noise, district="jinniu")
    for i in range(3):
        add(NOW - timedelta(hours=3 + i), ("help.emergency", "housing", ["燃气泄漏,楼道有异味"]),
            urgency="urgent")  # fmt: skip
    for i in range(6):  # orders a department still holds past their deadline
        add(NOW - timedelta(days=12 + i), rng.choice(MATTERS), state="handling",
            due_at=NOW - timedelta(days=1 + i, hours=3))  # fmt: skip
    # This quarter's rated orders: 12 per department, satisfaction set per department.
    for dept, satisfied in [
        ("chengguan", 9),
        ("health", 11),
        ("education", 12),
        ("market", 8),
        ("eco", 10),
        ("housing", 6),
        ("transport", 7),
        ("hrss", 11),
    ]:
        for i in range(12):
            created = datetime(2026, 10, 8, 2, tzinfo=UTC) + timedelta(days=i * 3)
            result = created + timedelta(days=4 if i % 5 else 9)
            rows.append(
                {"created_at": created, "channel": "phone", "state": "closed",
                 "lead_department": dept, "description": "回访", "category": None,
                 "due_at": created + timedelta(days=7), "result_at": result,
                 "informed_at": result + timedelta(hours=3),
                 "rating": "satisfied" if i < satisfied else "dissatisfied"}
            )  # fmt: skip
    return rows


async def fill(center: Center) -> None:
    async with center.store.write() as tx:
        for i, r in enumerate(sorted(city(random.Random(12345)), key=lambda r: r["created_at"])):
            values = {
                "number": f"{r['created_at']:%Y%m%d}-{i:06d}", "state": "closed",
                "updated_at": r["created_at"], "last_contact_at": r["created_at"], **r,
            }  # fmt: skip
            await tx.conn.execute(tickets.insert().values(**values))


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/tickets")


async def drawn(page: Page) -> dict[str, tuple[float, float]]:
    """Each chart container's canvas size, once ECharts has drawn it."""
    await page.wait_for_selector("[data-chart][data-drawn='1'] canvas")
    sizes: dict[str, tuple[float, float]] = {}
    for el in await page.query_selector_all("[data-chart]"):
        name = await el.get_attribute("data-chart") or ""
        canvas = await el.query_selector("canvas")
        box = await canvas.bounding_box() if canvas else None
        sizes[name] = (box["width"], box["height"]) if box else (0.0, 0.0)
    return sizes


async def test_briefing_hotspots_and_ranking_charts_are_drawn(
    center: Center, server: TestServer, browser: Browser
) -> None:
    assert isinstance(center.tickets.clock, FakeClock)
    center.tickets.clock.now = NOW
    await fill(center)
    base = str(server.make_url("")).rstrip("/")
    SHOTS.mkdir(exist_ok=True)
    page = await _page(browser)
    errors: list[str] = []
    # A status code is a console error too (the favicon's 404); what must never appear is a
    # resource the CSP blocked, a failed asset of ours, or a script error.
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/static/" in r.url else None)  # fmt: skip
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await _sign_in(page, base, "sup")

    await page.goto(base + "/reports/briefing?period=day&date=2026-11-23")
    sizes = await drawn(page)
    assert set(sizes) == {"trend", "categories", "grid", "ranking"}
    for name, (w, h) in sizes.items():
        assert w > 300 and h > 150, (name, w, h)
    text = await page.inner_text("main")
    assert "每日简报" in text and "共享单车" in text and "超期 " in text
    await page.screenshot(path=str(SHOTS / "briefing.png"), full_page=True)
    assert not [e for e in errors if "Failed to load resource" not in e], errors

    await page.goto(base + "/reports/briefing?period=week&date=2026-11-22")
    assert set(await drawn(page)) == {"trend", "categories", "grid", "ranking"}
    assert "每周统计" in await page.inner_text("h1")
    await page.goto(base + "/reports/briefing?period=week&date=2026-11-22&lang=en")
    await drawn(page)
    assert "Weekly statistics" in await page.inner_text("h1")
    await page.screenshot(path=str(SHOTS / "briefing_week_en.png"), full_page=True)

    await page.goto(base + "/reports/hotspots?period=day&date=2026-11-23")
    sizes = await drawn(page)
    assert sizes["hot"][0] > 300 and sizes["grid"][1] > 150
    rows = await page.query_selector_all("table.grid tbody tr")
    first = await rows[0].inner_text()
    assert "共享单车" in first and "新出现" in first or "共享单车" in first
    assert "成华区人民政府" in await page.inner_text(".district-list")
    await page.screenshot(path=str(SHOTS / "hotspots.png"), full_page=True)

    await page.goto(base + "/reports/ranking?start=2026-10-01&end=2026-11-24")
    sizes = await drawn(page)
    assert sizes["ranking"][0] > 300
    await page.screenshot(path=str(SHOTS / "ranking.png"), full_page=True)

    assert not [e for e in errors if "Failed to load resource" not in e], errors

    # The e-mail as a leader's mail client shows it (static tables, no script, no console).
    briefings = center.app[BRIEFINGS]
    mail = render_messages(await briefings.briefing(period_of("day", NOW.date())))
    reader = await browser.new_page(viewport={"width": 760, "height": 900})
    await reader.set_content(mail.html)
    assert "<script" not in mail.html
    await reader.screenshot(path=str(SHOTS / "briefing_mail.png"), full_page=True)
    await reader.close()
