"""The briefing and hotspot pages and their JSON: periods, languages, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hotline.bootstrap import Center
from tests.fakes.clock import FakeClock
from tests.reports.test_briefing import BRIEFING_AT, hand_made_day, insert


async def test_briefing_json_page_and_languages(center: Center, login: Any) -> None:
    assert isinstance(center.tickets.clock, FakeClock)
    center.tickets.clock.now = BRIEFING_AT
    await insert(center.store, hand_made_day())
    sup = await login("sup")
    b = await sup.call("GET", "/api/v1/reports/briefing?date=2026-11-23&period=day")
    assert b["period"] == {"kind": "day", "start": "2026-11-23", "end": "2026-11-24"}
    assert (b["total"], b["previous_total"], b["overdue_total"], b["urgent_total"]) == (7, 2, 1, 1)
    assert b["charts"]["trend"]["values"][-1] == 7
    assert {h["name"] for h in b["hot"]} >= {"共享单车", "共享单车乱停放"}
    # a day in the future shows today; a week is Monday to Sunday
    future = await sup.call("GET", "/api/v1/reports/briefing?date=2027-01-01")
    assert future["period"]["start"] == "2026-11-23"
    week = await sup.call("GET", "/api/v1/reports/briefing?period=week&date=2026-11-18")
    assert (week["period"]["start"], week["period"]["end"]) == ("2026-11-16", "2026-11-23")
    # a housing-fund question a day, the order overdue since, the WeChat message of the 22nd
    assert week["complete"] is True and week["total"] == 9
    hot = await sup.call("GET", "/api/v1/reports/hotspots?period=day&date=2026-11-23")
    assert hot["history_windows"] == 28 and hot["items"][0]["count"] == 6
    assert hot["grid"]["districts"] == ["成华区人民政府", "锦江区人民政府"]
    bad = await sup.call("GET", "/api/v1/reports/briefing?period=quarter", status=400)
    assert bad["error"]["field"] == "period"
    bad = await sup.call("GET", "/api/v1/reports/hotspots?date=2026-13-01", status=400)
    assert bad["error"]["field"] == "date"

    page = await (await sup.client.get("/reports/briefing?date=2026-11-23&lang=en")).text()
    assert "Daily briefing" in page and "Shared bikes parked badly" in page
    assert 'id="chart-data"' in page and "/static/vendor/echarts.min.js" in page
    assert "<script>" not in page  # no inline code: the CSP would refuse it
    page = await (await sup.client.get("/reports/hotspots?period=week&lang=en")).text()
    assert "Hotspots" in page and "previous 8 weeks" in page


async def test_an_empty_center_shows_empty_charts_not_errors(center: Center, login: Any) -> None:
    assert isinstance(center.tickets.clock, FakeClock)
    center.tickets.clock.now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    sup = await login("sup")
    b = await sup.call("GET", "/api/v1/reports/briefing?period=month")
    assert (b["total"], b["hot"], b["ranked"], b["index"]) == (0, [], [], None)
    resp = await sup.client.get("/reports/hotspots")
    assert resp.status == 200 and "暂不判断热点" in await resp.text()
