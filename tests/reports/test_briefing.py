"""The leaders' briefing on a small hand-made day: every number written out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hotline.demo import LEAF_CATEGORIES
from reports.briefing import BriefingService, Period, period_of, quarter_of
from reports.service import FigureService
from tests.fakes.clock import FakeClock
from tickets import hotspot_queries as hq
from tickets.service import TicketService
from tickets.store import Store
from tickets.tables import score_adjustments, tickets

# Monday 2026-11-23, 17:30 in Beijing.
BRIEFING_AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
EMERGENCY = next(c["name_zh"] for c in LEAF_CATEGORIES if c["code"] == "help.emergency")


def local(day: int, hour: int, month: int = 11) -> datetime:
    """A Beijing wall-clock time in 2026, as UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


async def insert(store: Store, rows: list[dict[str, Any]]) -> None:
    async with store.write() as tx:
        for i, r in enumerate(rows, 1):
            values = {
                "number": f"T{i:05d}", "state": "received", "channel": "phone",
                "updated_at": r["created_at"], "last_contact_at": r["created_at"], **r,
            }  # fmt: skip
            await tx.conn.execute(tickets.insert().values(**values))


def quarter_ratings() -> list[dict[str, Any]]:
    """Rated orders of October: index 100, 70, 62.5, 40 (by hand, Huzhou weights).

    Phone contacts count as answered; results on time and the citizen told within 24 h
    unless said otherwise, so the index is 100 × (0.15 + 0.15·on_time + 0.10 + 0.60·sat).
    """
    out = []
    plan = {
        "chengguan": [("satisfied", 0), ("satisfied", 0)],  # 100
        "health": [("satisfied", 0), ("dissatisfied", 0)],  # 70
        "market": [("dissatisfied", 0), ("dissatisfied", 0)],  # 40
        "eco": [("satisfied", 0), ("dissatisfied", 30)],  # on time 1/2: 62.5
    }
    for dept, items in plan.items():
        for rating, late_hours in items:
            created = local(5, 9, month=10)
            due = created + timedelta(days=5)
            result = due + timedelta(hours=late_hours) - timedelta(days=1)
            out.append(
                {
                    "created_at": created, "state": "closed", "lead_department": dept,
                    "description": "咨询", "due_at": due, "result_at": result,
                    "informed_at": result + timedelta(hours=1), "rating": rating,
                    "rated_at": result + timedelta(hours=2),
                }
            )  # fmt: skip
    return out


def hand_made_day() -> list[dict[str, Any]]:
    rows = quarter_ratings()
    for day in range(16, 23):  # one housing-fund question a day for a week: the baseline
        rows.append(
            {"created_at": local(day, 10), "description": "公积金提取咨询",
             "category": "consult.social_insurance", "district": "jinniu"}
        )  # fmt: skip
    rows.append(  # with a department since the 16th, due on the 20th 10:00: overdue
        {"created_at": local(16, 11), "state": "handling", "description": "雨水井盖缺失",
         "lead_department": "chengguan", "district": "jinniu", "due_at": local(20, 10)}
    )  # fmt: skip
    rows.append({"created_at": local(22, 15), "channel": "wechat", "description": "路灯不亮"})
    for i in range(6):  # today: shared bikes blocking the pavement in Chenghua, new
        rows.append(
            {"created_at": local(23, 8 + i), "channel": "phone" if i < 4 else "wechat",
             "description": "共享单车乱停放堵塞人行道", "category": "complaint.shared_bike",
             "district": "chenghua"}
        )  # fmt: skip
    rows.append(
        {"created_at": local(23, 16), "channel": "mailbox", "urgency": "urgent",
         "subject": "燃气泄漏", "description": "燃气泄漏有异味", "category": "help.emergency",
         "district": "jinjiang"}
    )  # fmt: skip
    return rows


def test_periods() -> None:
    assert period_of("day", date(2026, 11, 23)) == Period(
        "day", date(2026, 11, 23), date(2026, 11, 24)
    )
    week = period_of("week", date(2026, 11, 29))  # a Sunday: its week began Monday the 23rd
    assert (week.start, week.end) == (date(2026, 11, 23), date(2026, 11, 30))
    month = period_of("month", date(2026, 12, 31))
    assert (month.start, month.end) == (date(2026, 12, 1), date(2027, 1, 1))
    assert month.previous() == Period("month", date(2026, 11, 1), date(2026, 12, 1))
    assert quarter_of(date(2026, 11, 23)) == (date(2026, 10, 1), date(2027, 1, 1))
    assert week.key == "week:2026-11-23"
    with pytest.raises(ValueError):
        period_of("year", date(2026, 1, 1))


async def test_briefing_of_a_hand_made_day(
    store: Store, service: TicketService, clock: FakeClock
) -> None:
    await insert(store, hand_made_day())
    clock.now = BRIEFING_AT
    briefings = BriefingService(service, FigureService(store), min_follow_ups=2)
    b = await briefings.briefing(period_of("day", date(2026, 11, 23)))

    assert (b.period.start, b.previous.start) == (date(2026, 11, 23), date(2026, 11, 22))
    assert b.as_of == BRIEFING_AT and not b.complete
    # today: 4 calls and 2 WeChat messages on bikes, 1 urgent letter; yesterday 1 + 1
    assert [(v.channel, v.current, v.previous) for v in b.volumes] == [
        ("phone", 4, 1), ("wechat", 2, 1), ("mailbox", 1, 0),
    ]  # fmt: skip
    assert (b.total, b.previous_total) == (7, 2)
    assert b.trend == (
        ("2026-11-10", 0), ("2026-11-11", 0), ("2026-11-12", 0), ("2026-11-13", 0),
        ("2026-11-14", 0), ("2026-11-15", 0), ("2026-11-16", 2), ("2026-11-17", 1),
        ("2026-11-18", 1), ("2026-11-19", 1), ("2026-11-20", 1), ("2026-11-21", 1),
        ("2026-11-22", 2), ("2026-11-23", 7),
    )  # fmt: skip
    # today's orders: the 4 calls were answered live, WeChat and the letter not yet;
    # nothing due, resulted or rated yet → no index
    assert b.rates == {"response": 57.1, "on_time": None, "feedback": None, "satisfaction": None}
    assert b.index is None
    assert b.urgent_total == 1
    assert [(m.number, m.subject, m.district) for m in b.urgent] == [
        ("T00024", "燃气泄漏", "锦江区人民政府")
    ]
    assert b.overdue_total == 1
    (late,) = b.overdue
    assert (late.number, late.department, late.hours_over) == ("T00016", "市城市管理局", 79.5)
    # hotspots: the bike words and category are new (28 days of zeros), 6 ≥ 5
    assert b.hot_windows == 28
    hot = {(h.kind, h.name): (h.count, h.mean, h.limit, h.ratio) for h in b.hot}
    assert hot == {
        ("term", "共享单车"): (6, 0.0, 5.0, None),
        ("term", "停放"): (6, 0.0, 5.0, None),
        ("term", "堵塞"): (6, 0.0, 5.0, None),
        ("term", "人行道"): (6, 0.0, 5.0, None),
        ("category", "共享单车乱停放"): (6, 0.0, 5.0, None),
    }
    assert all(h.districts == (("成华区人民政府", 6),) for h in b.hot)
    assert [d for d, _ in b.hot_by_district] == ["成华区人民政府"]
    # the district grid: today's districts (Jinniu had nothing today), the hot items
    assert b.hot_grid["districts"] == ["成华区人民政府", "锦江区人民政府"]
    assert b.hot_grid["cells"] == [[6, 0]] * 5
    assert b.categories == (("共享单车乱停放", 6), (EMERGENCY, 1))
    # the quarter's ranking (October ratings; 2 follow-ups each here): bottom three flagged;
    # 城管's overdue order counts as late: on time 2/3 → 15 + 10 + 10 + 60 = 95
    assert (b.ranking_start, b.ranking_end) == (date(2026, 10, 1), date(2026, 11, 24))
    assert [(r.code, r.index, r.bottom) for r in b.ranked] == [
        ("chengguan", 95.0, False), ("health", 70.0, True),
        ("eco", 62.5, True), ("market", 40.0, True),
    ]  # fmt: skip
    assert [r.name for r in b.bottom] == [
        "市卫生健康委员会", "市生态环境局(12369)", "市市场监督管理局",
    ]  # fmt: skip
    data = b.chart_data()
    assert data["trend"]["values"][-1] == 7 and data["ranking"][0]["index"] == 95.0


async def test_hotspots_need_history_and_count_the_record_only(
    store: Store, service: TicketService, clock: FakeClock
) -> None:
    # the same six bike complaints on the very first day of the record: nothing to compare
    await insert(store, [r for r in hand_made_day() if r["created_at"] >= local(23, 0)])
    clock.now = BRIEFING_AT
    view = await BriefingService(service, FigureService(store)).hotspots(
        period_of("day", date(2026, 11, 23))
    )
    assert view.history_windows == 0 and view.items == ()


async def test_bottom_departments_follow_the_ranking_adjustments_and_vetoes(
    store: Store, service: TicketService, clock: FakeClock
) -> None:
    await insert(store, hand_made_day())
    async with store.write() as tx:
        for dept, kind, points in (("market", "bonus", 35.0), ("chengguan", "veto", 0.0)):
            await tx.conn.execute(
                score_adjustments.insert().values(
                    department=dept, kind=kind, points=points, reason="督查", day=date(2026, 11, 2),
                    recorded_by="sup", recorded_at=BRIEFING_AT,
                )
            )  # fmt: skip
    clock.now = BRIEFING_AT
    b = await BriefingService(service, FigureService(store), min_follow_ups=2).briefing(
        period_of("day", date(2026, 11, 23))
    )
    # market 40 + 35 = 75 climbs to the top; 城管 is vetoed: last whatever its 95 (bottom three)
    assert [(r.code, r.index, r.bottom, r.vetoed) for r in b.ranked] == [
        ("market", 75.0, False, False), ("health", 70.0, True, False),
        ("eco", 62.5, True, False), ("chengguan", 95.0, True, True),
    ]  # fmt: skip


async def test_complete_days_are_counted_once_and_kept(
    store: Store, service: TicketService, clock: FakeClock
) -> None:
    await insert(store, hand_made_day())
    clock.now = BRIEFING_AT
    first = await BriefingService(service, FigureService(store)).hotspots(
        period_of("day", date(2026, 11, 23))
    )
    async with store.read() as tx:
        done = await hq.counted_days(tx, ["2026-11-16", "2026-11-22", "2026-11-23"])
        rows = await hq.day_counts(tx, ["2026-11-16"])
    assert done == {"2026-11-16", "2026-11-22"}  # today is still running: counted live
    assert {(r["kind"], r["value"], r["district"], r["count"]) for r in rows} >= {
        ("term", "公积金", "*", 1), ("term", "公积金", "jinniu", 1),
        ("category", "consult.social_insurance", "*", 1), ("term", "井盖", "jinniu", 1),
    }  # fmt: skip
    # a restarted process reads the kept days; today's new complaints count at once
    async with store.write() as tx:
        await tx.conn.execute(
            tickets.insert().values(
                number="T-LATE", state="received", channel="phone", created_at=local(23, 17),
                updated_at=local(23, 17), last_contact_at=local(23, 17),
                description="共享单车乱停放", category="complaint.shared_bike",
                district="chenghua",
            )
        )  # fmt: skip
    again = await BriefingService(service, FigureService(store)).hotspots(
        period_of("day", date(2026, 11, 23))
    )
    assert again.history_windows == first.history_windows == 28
    assert {h.name: h.count for h in again.items}["共享单车"] == 7
    assert all(h.history == (0,) * 28 for h in again.items)
