"""Every number on the ranking page is a link whose drill-down lists exactly that many
tickets; classes, adjustments and vetoes change the ranking with their reasons shown;
the XLSX files hold the same numbers; bad input is refused with the field named."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from aiohttp.test_utils import TestServer
from openpyxl import load_workbook
from sqlalchemy import select, update

from hotline.bootstrap import Center
from hotline.demo import load_demo
from tests.agent_console.conftest import PASSWORD
from tickets.tables import tickets

PERIOD = "start=2026-10-01&end=2027-01-01"
LINK = re.compile(r'<a(?: class="[^"]*")? href="(/reports/drill\?[^"]+)" data-(?:count|n)="(\d+)"')


async def _page(api: Any, path: str) -> str:
    resp = await api.client.get(path)
    assert resp.status == 200, await resp.text()
    return str(await resp.text())


async def test_every_number_on_the_ranking_page_drills_down_to_as_many_tickets(
    center: Center, login: Any, server: TestServer
) -> None:
    await load_demo(center.tickets, center.accounts, count=240, password=PASSWORD)
    sup = await login("sup")
    page = await _page(sup, f"/reports/ranking?{PERIOD}&min_follow_ups=3")
    links = [(html.unescape(href), int(n)) for href, n in LINK.findall(page)]
    r = await sup.call("GET", f"/api/v1/reports/ranking?{PERIOD}&min_follow_ups=3")
    assert r["ranked"] and len(links) > 12 * len(r["ranked"])
    figures = {re.search(r"figure=(\w+)", h).group(1) for h, _ in links}  # type: ignore[union-attr]
    assert {"response", "on_time", "feedback", "satisfaction", "tickets", "cycle", "returns",
            "hops", "extensions", "excluded"} <= figures  # fmt: skip
    seen: dict[str, int] = {}
    for href, n in links:
        if href not in seen:
            d = await sup.call("GET", href.replace("/reports/drill", "/api/v1/reports/drill"))
            seen[href] = d["count"]
            assert d["count"] == len(d["tickets"])
        assert seen[href] == n, (href, n, seen[href])
    # the numbers on the page are the API's
    first = r["ranked"][0]
    dept = first["department"]
    n, d = first["counts"]["on_time"]
    assert seen[f"/reports/drill?{PERIOD}&figure=on_time&part=n&department={dept}"] == n
    assert seen[f"/reports/drill?{PERIOD}&figure=on_time&part=d&department={dept}"] == d
    # the drill-down page shows the same count, with the timeline entries behind it
    drill = await _page(
        sup, f"/reports/drill?{PERIOD}&figure=satisfaction&part=d&department={dept}"
    )
    assert f'data-count="{first["follow_ups"]}"' in drill
    assert "record_rating" in drill
    total = await sup.call("GET", f"/api/v1/reports/drill?{PERIOD}&figure=tickets&part=n")
    assert (
        total["count"]
        == r["center"]["tickets"]
        == sum(x["tickets"] for x in r["districts"])
        + sum(1 for t in total["tickets"] if t["district"] is None)
    )
    for who in ("agent", "cg"):
        api = await login(who)
        await api.call("GET", f"/api/v1/reports/drill?{PERIOD}&figure=tickets", status=403)
    await sup.call("GET", f"/api/v1/reports/drill?{PERIOD}&figure=speed", status=400)
    await sup.call("GET", f"/api/v1/reports/drill?{PERIOD}&figure=tickets&part=x", status=400)


async def test_an_upheld_appeal_takes_the_rating_out_of_the_ranking(
    center: Center, login: Any
) -> None:
    await load_demo(center.tickets, center.accounts, count=240, password=PASSWORD)
    sup = await login("sup")
    before = await sup.call("GET", f"/api/v1/reports/ranking?{PERIOD}&min_follow_ups=0")
    row = next(x for x in before["ranked"] if x["follow_ups"] >= 2)
    async with center.store.write() as tx:
        tid = (
            (
                await tx.conn.execute(
                    select(tickets.c.id).where(
                        tickets.c.lead_department == row["department"],
                        tickets.c.rating.is_not(None),
                        tickets.c.created_at >= datetime(2026, 9, 30, 16, tzinfo=UTC),
                    )
                )
            )
            .scalars()
            .first()
        )
        await tx.conn.execute(
            update(tickets).where(tickets.c.id == tid).values(rating_excluded=True)
        )
    after = await sup.call("GET", f"/api/v1/reports/ranking?{PERIOD}&min_follow_ups=0")
    again = next(
        x for x in after["ranked"] + after["too_few"] if x["department"] == row["department"]
    )
    assert again["follow_ups"] == row["follow_ups"] - 1
    assert again["excluded"] == row["excluded"] + 1
    d = await sup.call(
        "GET",
        f"/api/v1/reports/drill?{PERIOD}&figure=excluded&part=n&department={row['department']}",
    )
    assert d["count"] == again["excluded"] and all(t["rating_excluded"] for t in d["tickets"])


async def test_classes_adjustments_and_a_veto_change_the_ranking(
    center: Center, login: Any
) -> None:
    await load_demo(center.tickets, center.accounts, count=240, password=PASSWORD)
    admin, sup = await login("admin"), await login("sup")
    q = f"/api/v1/reports/ranking?{PERIOD}&min_follow_ups=3"
    base = await sup.call("GET", q)
    depts = [x["department"] for x in base["ranked"]]
    assert len(depts) >= 4
    # bad weights: the field is named, nothing saved
    bad = await admin.call(
        "PUT", "/api/v1/department_classes/public",
        {"name_zh": "窗口服务部门", "weights": {"satisfaction": 0.8, "on_time": 0.1}}, status=400,
    )  # fmt: skip
    assert bad["error"]["field"] == "weights.weights"
    await sup.call(
        "PUT", "/api/v1/department_classes/public",
        {"name_zh": "x", "weights": {"satisfaction": 1}}, status=403,
    )  # fmt: skip
    weights = {"satisfaction": 0.8, "on_time": 0.1, "response": 0.05, "feedback": 0.05}
    await admin.call(
        "PUT", "/api/v1/department_classes/public",
        {"name_zh": "窗口服务部门", "name_en": "Public-facing", "weights": weights},
    )  # fmt: skip
    for d in depts[:2]:
        await admin.call("PUT", f"/api/v1/departments/{d}/class", {"class_code": "public"})
    bad = await admin.call(
        "PUT", f"/api/v1/departments/{depts[0]}/class", {"class_code": "nope"}, status=400
    )
    assert bad["error"]["field"] == "class_code"
    # a deduction with its reason, and a veto
    bad = await sup.call(
        "POST", "/api/v1/reports/adjustments",
        {"department": depts[2], "kind": "deduction", "points": 2, "reason": " ",
         "day": "2026-11-02"},
        status=400,
    )  # fmt: skip
    assert bad["error"]["field"] == "reason"
    await sup.call(
        "POST", "/api/v1/reports/adjustments",
        {"department": depts[2], "kind": "deduction", "points": 2.5,
         "reason": "电子监察:超期未签收", "day": "2026-11-02"}, status=201,
    )  # fmt: skip
    await sup.call(
        "POST", "/api/v1/reports/adjustments",
        {"department": depts[0], "kind": "veto", "reason": "弄虚作假", "day": "2026-11-03"},
        status=201,
    )  # fmt: skip
    r = await sup.call("GET", q)
    by = {x["department"]: x for x in r["ranked"]}
    # the class's weights give its index, recomputed by hand from the counts
    for d in depts[:2]:
        x = by[d]
        shares = {k: x["counts"][k][0] / x["counts"][k][1] for k in weights}
        assert x["class_code"] == "public"
        assert x["index"] == round(100 * sum(weights[k] * shares[k] for k in weights), 2)
    assert by[depts[2]]["score"] == round(by[depts[2]]["index"] - 2.5, 2)
    assert by[depts[2]]["adjustments"][0]["reason"] == "电子监察:超期未签收"
    assert r["ranked"][-1]["department"] == depts[0] and r["ranked"][-1]["vetoed"]
    assert depts[0] in r["bottom"]
    assert [g["code"] for g in r["classes"]] == ["public", None]
    page = await _page(sup, f"/reports/ranking?{PERIOD}&min_follow_ups=3")
    assert "一票否决" in page and "电子监察:超期未签收" in page and "窗口服务部门" in page
    # the admin page lists the class; supervisors read it without the forms
    assert "窗口服务部门" in await _page(admin, "/admin/classes")
    assert 'name="op" value="save"' not in await _page(sup, "/admin/classes")
    # a form with a bad weight comes back with the values typed and the field named
    resp = await admin.client.post(
        "/admin/classes",
        data={"csrf_token": admin.csrf, "op": "save", "code": "party", "name_zh": "党群部门",
              "w_satisfaction": "50", "w_on_time": "20"},
    )  # fmt: skip
    text = await resp.text()
    assert resp.status == 400 and 'value="党群部门"' in text and "weights.weights" in text
    resp = await sup.client.post(
        f"/reports/adjustments?{PERIOD}",
        data={"csrf_token": sup.csrf, "department": depts[3], "kind": "bonus", "points": "abc",
              "reason": "表扬", "day": "2026-11-04"},
    )  # fmt: skip
    text = await resp.text()
    assert resp.status == 400 and 'value="表扬"' in text and "points" in text


async def test_xlsx_of_the_ranking_and_of_a_drill_down(center: Center, login: Any) -> None:
    await load_demo(center.tickets, center.accounts, count=240, password=PASSWORD)
    sup = await login("sup")
    r = await sup.call("GET", f"/api/v1/reports/ranking?{PERIOD}&min_follow_ups=3")
    resp = await sup.client.get(f"/reports/ranking.xlsx?{PERIOD}&min_follow_ups=3")
    assert resp.status == 200 and resp.content_type.endswith("spreadsheetml.sheet")
    wb = load_workbook(BytesIO(await resp.read()))
    ws = wb["排名"]
    head = [c.value for c in ws[1]]
    assert head[:5] == ["名次", "单位", "类别", "得分", "服务指数"]
    for i, row in enumerate(r["ranked"], 2):
        cells = [c.value for c in ws[i]]
        assert cells[0] == row["place"] and cells[1] == row["name"]
        assert cells[3] == row["score"] and cells[5] == row["response"]
        assert cells[head.index("回访件")] == row["follow_ups"]
    assert ws.max_row == 1 + len(r["ranked"]) + len(r["too_few"])
    calls = {c[0].value: c[1].value for c in wb["话务"].iter_rows()}
    assert calls["呼入"] == r["calls"]["offered"]
    dept = r["ranked"][0]["department"]
    q = f"{PERIOD}&figure=on_time&part=d&department={dept}"
    d = await sup.call("GET", f"/api/v1/reports/drill?{q}")
    resp = await sup.client.get(f"/reports/drill.xlsx?{q}")
    wb = load_workbook(BytesIO(await resp.read()))
    ws = wb["工单"]
    assert ws.max_row == 1 + d["count"] == 1 + r["ranked"][0]["counts"]["on_time"][1]
    assert [c.value for c in ws[2]][0] == d["tickets"][0]["number"]
    assert [c.value for c in ws[2]][5] == d["tickets"][0]["due_at"]
    agent = await login("agent")
    assert (await agent.client.get(f"/reports/ranking.xlsx?{PERIOD}")).status == 403


async def test_a_quarter_by_name(login: Any) -> None:
    sup = await login("sup")
    r = await sup.call("GET", "/api/v1/reports/ranking?quarter=2026Q4")
    assert (r["start"], r["end"]) == ("2026-10-01", "2027-01-01")
    r = await sup.call("GET", "/api/v1/reports/ranking?quarter=2026Q1")
    assert (r["start"], r["end"]) == ("2026-01-01", "2026-04-01")
    bad = await sup.call("GET", "/api/v1/reports/ranking?quarter=2026Q5", status=400)
    assert bad["error"]["field"] == "quarter"
    page = await _page(sup, "/reports/ranking")
    assert "quarter=2026Q4" in page and "quarter=2026Q1" in page


async def test_call_figures_drill_down_to_the_calls(center: Center, login: Any) -> None:
    from tests.reports.test_figures import _fill_calls

    await _fill_calls(center.store, 7, 60)  # calls in Oct-Dec 2026
    sup = await login("sup")
    r = await sup.call("GET", "/api/v1/reports/ranking?start=2026-09-01&end=2027-01-01")
    calls = r["calls"]
    assert calls["offered"] == 60
    page = await _page(sup, "/reports/ranking?start=2026-09-01&end=2027-01-01")
    links = re.findall(r'href="(/reports/drill/calls\?[^"]+)" data-count="(\d+)"', page)
    assert len(links) == 6
    for href, n in links:
        d = await sup.call("GET", html.unescape(href).replace("/reports/", "/api/v1/reports/"))
        assert d["count"] == int(n) == len(d["calls"]), href
    within = await sup.call(
        "GET", "/api/v1/reports/drill/calls?start=2026-09-01&end=2027-01-01&figure=within"
    )
    assert within["count"] == calls["service_level_counts"][0]
    assert all(c["answered"] and c["wait_seconds"] <= 15 for c in within["calls"])
    assert "data-count" in await _page(
        sup, "/reports/drill/calls?start=2026-09-01&end=2027-01-01&figure=transfers_110"
    )
    await sup.call("GET", "/api/v1/reports/drill/calls?figure=nope", status=400)
