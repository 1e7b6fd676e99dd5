"""Bad reviews, appeals and the person ledger over HTTP: JSON API and pages, with who may
see and do what (department A never sees or appeals B's cases)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from agent_console.review_pages import DESK
from hotline.bootstrap import Center, build
from hotline.settings import load_settings
from tests.fakes.clock import FakeClock
from tickets.bus import InProcessBus
from tickets.model import Role
from tickets.privacy import Viewer

NAME, PHONE = "王芳", "13800138000"


async def bad_rating(
    center: Center, login: Any, department: str, rating: str = "dissatisfied"
) -> str:
    agent = await login("agent")
    dept = await login({"chengguan": "cg", "eco": "eco"}[department])
    t = await agent.call(
        "POST",
        "/api/v1/tickets",
        {"citizen": {"name": NAME, "phone": PHONE}, "text": f"{department} 的诉求"},
        status=201,
    )
    n = t["ticket"]["number"]
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": department})
    await dept.call("POST", f"/api/v1/tickets/{n}/actions/sign")
    await dept.call("POST", f"/api/v1/tickets/{n}/actions/submit_result", {"result": "已处理"})
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/inform_citizen")
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/record_rating", {"rating": rating})
    assert isinstance(center.bus, InProcessBus)
    await center.bus.drain()
    return str(n)


async def test_cases_api_and_authorization(center: Center, login: Any) -> None:
    a = await bad_rating(center, login, "chengguan")
    b = await bad_rating(center, login, "eco", "very_dissatisfied")
    sup, cg, eco, sub = (
        await login("sup"),
        await login("cg"),
        await login("eco"),
        await login("cg_jinniu"),
    )
    agent, admin, police = await login("agent"), await login("admin"), await login("police")
    every = await sup.call("GET", "/api/v1/reviews")
    assert every["total"] == 2
    ids = {c["ticket"]: c["id"] for c in every["cases"]}
    assert (await admin.call("GET", "/api/v1/reviews"))["total"] == 2
    mine = await cg.call("GET", "/api/v1/reviews")
    assert [c["ticket"] for c in mine["cases"]] == [a]
    assert [c["ticket"] for c in (await eco.call("GET", "/api/v1/reviews"))["cases"]] == [b]
    assert (await sub.call("GET", "/api/v1/reviews"))["total"] == 0  # a sub-unit: not its case
    for who in (agent, police):
        await who.call("GET", "/api/v1/reviews", status=403)
        await who.call("GET", f"/api/v1/reviews/{ids[a]}", status=403)
    # Department A neither sees nor acts on B's case, by id, list filter or page.
    await cg.call("GET", f"/api/v1/reviews/{ids[b]}", status=404)
    await cg.call("POST", f"/api/v1/reviews/{ids[b]}/appeal", {"note": "不是我们的"}, status=404)
    assert (await cg.call("GET", "/api/v1/reviews?department=eco"))["total"] == 0
    resp = await cg.client.get(f"/reviews/{ids[b]}")
    assert resp.status == 404 and b not in await resp.text()
    page = await (await cg.client.get("/reviews")).text()
    assert a in page and b not in page
    # Bad input is named; nothing changes.
    await cg.call("POST", f"/api/v1/reviews/{ids[a]}/appeal", {"note": " "}, status=400)
    await cg.call("POST", f"/api/v1/reviews/{ids[a]}/nonsense", {"note": "x"}, status=400)
    await sup.call("GET", "/api/v1/reviews?status=bogus", status=400)
    await sup.call("GET", "/api/v1/reviews?start=2026-13-01", status=400)
    await sup.call("GET", "/api/v1/reviews/abc", status=404)
    # A department may not decide; a supervisor may not appeal.
    await cg.call(
        "POST", f"/api/v1/reviews/{ids[a]}/appeal", {"note": "物业纠纷", "evidence": "合同"}
    )
    await cg.call("POST", f"/api/v1/reviews/{ids[a]}/uphold", {"note": "自己批"}, status=403)
    await sup.call("POST", f"/api/v1/reviews/{ids[b]}/appeal", {"note": "x"}, status=403)
    again = await cg.call("POST", f"/api/v1/reviews/{ids[a]}/appeal", {"note": "再来"}, status=409)
    assert again["error"]["code"] == "review_refused"
    # Without the CSRF token nothing happens.
    resp = await cg.client.post(f"/api/v1/reviews/{ids[a]}/contact", json={"note": "联系"})
    assert resp.status == 403
    upheld = await sup.call("POST", f"/api/v1/reviews/{ids[a]}/uphold", {"note": "不属城管职责"})
    assert (upheld["status"], upheld["rating_excluded"]) == ("appeal_upheld", True)
    t = await sup.call("GET", f"/api/v1/tickets/{a}")
    assert t["timeline"][-1]["action"] == "review_uphold"
    assert t["timeline"][-1]["reason"] == "不属城管职责"
    audit = await sup.call("GET", "/api/v1/audit")
    assert any(e["action"] == "review_uphold" for e in audit)


async def test_followed_figure_pure_equals_sql(center: Center, login: Any) -> None:
    a = await bad_rating(center, login, "chengguan")
    await bad_rating(center, login, "chengguan")
    await bad_rating(center, login, "eco")
    sup, cg = await login("sup"), await login("cg")
    cases = {c["ticket"]: c["id"] for c in (await sup.call("GET", "/api/v1/reviews"))["cases"]}
    await cg.call("POST", f"/api/v1/reviews/{cases[a]}/contact", {"note": "电话联系,已致歉"})
    q = "start=2026-11-01&end=2026-12-01"
    sql = await sup.call("GET", f"/api/v1/reviews/followed?{q}")
    pure = await sup.call("GET", f"/api/v1/reviews/followed?{q}&source=pure")
    assert (sql["followed"], sql["total"]) == (1, 3)
    assert {k: v for k, v in sql.items() if k != "source"} == {
        k: v for k, v in pure.items() if k != "source"
    }
    rows = {r["department"]: (r["followed"], r["total"]) for r in sql["departments"]}
    assert rows == {"chengguan": (1, 2), "eco": (0, 1)}
    one = await sup.call("GET", f"/api/v1/reviews/followed?{q}&department=eco")
    assert (one["followed"], one["total"]) == (0, 1)
    await cg.call("GET", "/api/v1/reviews/followed", status=403)
    await sup.call("GET", f"/api/v1/reviews/followed?{q}&source=guess", status=400)


async def test_case_forms_keep_the_users_place(center: Center, login: Any) -> None:
    a = await bad_rating(center, login, "chengguan")
    cg = await login("cg")
    [case] = (await cg.call("GET", "/api/v1/reviews"))["cases"]
    form = {"csrf_token": cg.csrf, "action": "contact", "note": ""}
    resp = await cg.client.post(f"/reviews/{case['id']}", data=form, allow_redirects=False)
    assert resp.status == 302 and "error=" in resp.headers["Location"]
    page = await (await cg.client.get(resp.headers["Location"])).text()
    assert "请填写说明或理由" in page
    form["note"] = "已电话联系"
    resp = await cg.client.post(f"/reviews/{case['id']}", data=form, allow_redirects=False)
    assert resp.status == 302 and "flash=" in resp.headers["Location"]
    page = await (await cg.client.get(resp.headers["Location"])).text()
    assert "已联系" in page and a in page and "已电话联系" in page


async def test_ledger_api_pages_and_roles(center: Center, login: Any) -> None:
    a = await bad_rating(center, login, "chengguan", "satisfied")
    sup, admin, cg, agent = (
        await login("sup"),
        await login("admin"),
        await login("cg"),
        await login("agent"),
    )
    for day, verdict in [("2024-11-23", "valid"), ("2024-11-24", "valid"), ("2026-03-01", "valid"),
                         ("2026-05-01", "invalid"), ("2026-06-01", "pending")]:  # fmt: skip
        await sup.call(
            "POST",
            "/api/v1/ledger/complaints",
            {
                "person_id": "HZ-0042",
                "person_name": "李明",
                "department": "chengguan",
                "ticket": a,
                "occurred_on": day,
                "verdict": verdict,
                "note": "推诿",
            },
            status=201,
        )
    # Today is 2026-11-23: 2024-11-23 has just left the window; two valid remain.
    led = await sup.call("GET", "/api/v1/ledger")
    [p] = led["people"]
    assert (p["valid"], p["recorded"], p["consequence"]) == (2, 5, "criticism")
    assert led["window_start"] == "2024-11-24"
    assert [r["consequence"] for r in led["consequences"]][:3] == ["talk", "criticism", "reassign"]
    earlier = await sup.call("GET", "/api/v1/ledger?on=2026-11-22")
    assert earlier["people"][0]["valid"] == 3
    assert earlier["people"][0]["consequence"] == "reassign"
    person = await admin.call("GET", "/api/v1/ledger/HZ-0042")
    assert [c["counts"] for c in person["complaints"]] == [False, False, True, True, False]
    # The pending complaint is verified as valid: the count moves.
    pending = person["complaints"][0]["id"]
    await sup.call(
        "PUT", f"/api/v1/ledger/complaints/{pending}", {"verdict": "valid", "note": "核实属实"}
    )
    assert (await sup.call("GET", "/api/v1/ledger"))["people"][0]["valid"] == 3
    # Bad input names the field.
    bad = {"person_id": "X", "person_name": "某", "ticket": "nope"}
    err = await sup.call("POST", "/api/v1/ledger/complaints", bad, status=400)
    assert err["error"]["field"] == "ticket"
    err = await sup.call(
        "POST",
        "/api/v1/ledger/complaints",
        {**bad, "ticket": a, "occurred_on": "2099-01-01"},
        status=400,
    )
    assert err["error"]["field"] == "occurred_on"
    err = await sup.call(
        "POST", "/api/v1/ledger/complaints", {**bad, "ticket": a, "verdict": "?"}, status=400
    )
    assert err["error"]["field"] == "verdict"
    err = await sup.call(
        "POST", "/api/v1/ledger/complaints", {**bad, "ticket": a, "person_id": "a/b"}, status=400
    )
    assert err["error"]["field"] == "person_id"
    await sup.call(
        "PUT", "/api/v1/ledger/complaints/999", {"verdict": "valid", "note": "x"}, status=404
    )
    # Who: supervisors record; admins read; departments and agents neither.
    await admin.call("POST", "/api/v1/ledger/complaints", bad, status=403)
    for who in (cg, agent):
        await who.call("GET", "/api/v1/ledger", status=403)
        await who.call("GET", "/api/v1/ledger/HZ-0042", status=403)
        assert (await who.client.get("/ledger")).status == 403
    page = await (await sup.client.get("/ledger")).text()
    assert "李明" in page and '<span class="tag red">调整岗位</span>' in page
    assert "提醒谈话" in page and "解除聘用" in page  # the whole consequences table
    detail = await (await sup.client.get("/ledger/HZ-0042")).text()
    assert a in detail and "核实属实" in detail


async def test_pages_for_each_role(center: Center, login: Any, anon: TestClient[Any, Any]) -> None:
    await bad_rating(center, login, "chengguan")
    expected = {"sup": (200, 200), "admin": (200, 200), "cg": (200, 403), "eco": (200, 403),
                "agent": (403, 403), "police": (403, 403)}  # fmt: skip
    for who, (reviews, ledger) in expected.items():
        api = await login(who)
        assert (await api.client.get("/reviews")).status == reviews, who
        assert (await api.client.get("/ledger")).status == ledger, who
        nav = await (await api.client.get("/tickets")).text()
        assert ('href="/reviews"' in nav) is (reviews == 200), who
        assert ('href="/ledger"' in nav) is (ledger == 200), who
    for path in ("/reviews", "/ledger", "/api/v1/reviews", "/api/v1/ledger"):
        resp = await anon.get(path, allow_redirects=False)
        assert resp.status in (302, 401), path
        assert NAME not in await resp.text()


async def test_a_city_sets_its_own_consequences(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", reviews={"consequences": {2: "talk", 4: "dismiss"}}
    )
    c = build(settings, clock=FakeClock(datetime(2026, 11, 23, 2, tzinfo=UTC)))
    await c.start()
    try:
        desk = c.app[DESK]
        assert desk.consequences.rows() == [(2, "talk"), (4, "dismiss")]
        led = await desk.ledger(Viewer("sup", Role.SUPERVISOR))
        assert led["consequences"] == [
            {"from": 2, "consequence": "talk"},
            {"from": 4, "consequence": "dismiss"},
        ]
    finally:
        await c.stop()


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def test_appeal_with_evidence_files(center: Center, login: Any) -> None:
    a = await bad_rating(center, login, "chengguan")
    cg, eco, sup = await login("cg"), await login("eco"), await login("sup")
    [case] = (await cg.call("GET", "/api/v1/reviews"))["cases"]
    path = f"/api/v1/reviews/{case['id']}/appeal"
    headers = {"X-CSRF-Token": cg.csrf}
    # A renamed executable is refused and nothing is recorded.
    form = FormData()
    form.add_field("note", "物业纠纷")
    form.add_field("files", b"MZ\x90\x00" * 8, filename="photo.png", content_type="image/png")
    resp = await cg.client.post(path, data=form, headers=headers)
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "files"
    assert (await cg.call("GET", f"/api/v1/reviews/{case['id']}"))["appeal"] == "none"
    form = FormData()
    form.add_field("note", "摊点在小区红线内")
    form.add_field("evidence", "见现场照片")
    form.add_field("files", PNG, filename="site-photo.png", content_type="image/png")
    resp = await cg.client.post(path, data=form, headers=headers)
    assert resp.status == 200, await resp.text()
    [appeal] = (await resp.json())["appeals"]
    [f] = appeal["attachments"]
    assert (f["name"], f["size"]) == ("site-photo.png", len(PNG))
    digest = f["ref"][7:]
    for who, status in ((cg, 200), (sup, 200), (eco, 404)):
        got = await who.client.get(f"/tickets/{a}/files/{digest}")
        assert got.status == status
        if status == 200:
            assert await got.read() == PNG
    page = await (await sup.client.get(f"/reviews/{case['id']}")).text()
    assert "site-photo.png" in page
    # Files go with an appeal only.
    form = FormData()
    form.add_field("note", "联系过了")
    form.add_field("files", PNG, filename="x.png", content_type="image/png")
    resp = await cg.client.post(f"/api/v1/reviews/{case['id']}/contact", data=form, headers=headers)
    assert resp.status == 400
