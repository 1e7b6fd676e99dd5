"""The admin console over HTTP: every action, its bad input (400 naming the field), who may
do it (403 for other roles, 401/redirect for nobody), and the pages each role may open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from agent_console.push import CLOSE_SESSION_ENDED
from agent_console.web import SERVICES
from hotline.bootstrap import Center
from tests.agent_console.conftest import PASSWORD
from tickets.tables import calls, department_classes, departments

PAGES = (
    "/admin/users",
    "/admin/departments",
    "/admin/categories",
    "/admin/rules",
    "/admin/lines",
    "/admin/calendar",
    "/admin/sla",
)
# (method, path, body) of every admin change; each is refused to every role but admin.
CHANGES: tuple[tuple[str, str, Any], ...] = (
    ("POST", "/api/v1/admin/users", {"username": "x1", "role": "agent"}),
    ("PATCH", "/api/v1/admin/users/agent2", {"display_name": "x"}),
    ("POST", "/api/v1/admin/users/agent2/disable", None),
    ("POST", "/api/v1/admin/users/agent2/enable", None),
    ("POST", "/api/v1/admin/users/agent2/password", None),
    ("POST", "/api/v1/admin/departments", {"code": "x1", "name_zh": "x", "kind": "city"}),
    ("PATCH", "/api/v1/admin/departments/eco", {"name_zh": "x"}),
    ("DELETE", "/api/v1/admin/departments/eco", None),
    ("POST", "/api/v1/admin/categories", {"code": "x1", "name_zh": "x"}),
    ("PATCH", "/api/v1/admin/categories/help.water", {"urgent": True}),
    ("PUT", "/api/v1/admin/lines/122", {"name_zh": "x", "target": "PJSIP/1@x", "kind": "blind"}),
    ("DELETE", "/api/v1/admin/lines/110", None),
    ("PUT", "/api/v1/admin/calendar/days/2026-12-01", {"is_workday": False, "reason": "x"}),
    ("DELETE", "/api/v1/admin/calendar/days/2026-12-01", None),
    ("PUT", "/api/v1/admin/sla", {"max_concurrent_chats": 4}),
)


async def _field(api: Any, method: str, path: str, body: Any, field: str) -> None:
    data = await api.call(method, path, body, status=400)
    assert data["error"]["field"] == field, data
    assert field in data["error"]["message_en"]


async def test_every_admin_change_is_refused_to_other_roles_and_to_nobody(
    login: Any, anon: TestClient[Any, Any]
) -> None:
    for who in ("agent", "sup", "cg", "police"):
        api = await login(who)
        for method, path, body in CHANGES:
            data = await api.call(method, path, body, status=403)
            assert data["error"]["code"] == "forbidden", (who, path)
    for method, path, body in CHANGES:
        resp = await anon.request(method, path, json=body)
        assert resp.status == 401, (method, path)


async def test_pages_by_role(login: Any, anon: TestClient[Any, Any]) -> None:
    admin, sup = await login("admin"), await login("sup")
    for path in PAGES:
        resp = await admin.client.get(path)
        assert resp.status == 200, path
        body = await resp.text()
        assert "/admin/classes" in body  # the department classes are one click away
        assert 'src="/static/admin.js' in body
    for path in PAGES:
        resp = await sup.client.get(path)
        assert resp.status == (403 if path == "/admin/users" else 200), path
    assert "您可查看" in await (await sup.client.get("/admin/sla")).text()
    for who in ("agent", "cg", "police"):
        api = await login(who)
        for path in ("/admin", *PAGES):
            resp = await api.client.get(path, allow_redirects=False)
            assert resp.status == 403, (who, path)
    for path in ("/admin", *PAGES):
        resp = await anon.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"].startswith("/login"), path
    home = await admin.client.get("/admin", allow_redirects=False)
    assert home.headers["Location"] == "/admin/users"
    home = await sup.client.get("/admin", allow_redirects=False)
    assert home.headers["Location"] == "/admin/departments"
    for path in ("/api/v1/admin/users", "/api/v1/admin/sla", "/api/v1/admin/lines"):
        assert (await anon.get(path)).status == 401
    await sup.call("GET", "/api/v1/admin/users", status=403)
    await sup.call("GET", "/api/v1/admin/sla")
    await (await login("agent")).call("GET", "/api/v1/admin/sla", status=403)


async def test_users_add_change_disable_reset(
    center: Center, login: Any, anon: TestClient[Any, Any]
) -> None:
    admin = await login("admin")
    made = await admin.call(
        "POST",
        "/api/v1/admin/users",
        {"username": "chen", "display_name": "陈六", "role": "agent", "extension": "8020"},
        status=201,
    )
    assert made["user"]["username"] == "chen" and len(made["password"]) >= 12
    assert "password_hash" not in made["user"]
    resp = await anon.post(
        "/api/v1/session", json={"username": "chen", "password": made["password"]}
    )
    assert resp.status == 200
    listed = await admin.call("GET", "/api/v1/admin/users?q=8020")
    assert [u["username"] for u in listed] == ["chen"]
    page = await admin.client.get("/admin/users?q=陈")
    assert "陈六" in await page.text()
    await _field(
        admin, "POST", "/api/v1/admin/users", {"username": "", "role": "agent"}, "username"
    )
    await _field(admin, "POST", "/api/v1/admin/users", {"username": "x2", "role": "boss"}, "role")
    await _field(
        admin, "POST", "/api/v1/admin/users", {"username": "x2", "role": "police"}, "department"
    )
    await _field(
        admin, "POST", "/api/v1/admin/users", {"username": "x2", "role": "agent",
                                               "extension": "8020"}, "extension"
    )  # fmt: skip
    bad = await admin.client.post(
        "/api/v1/admin/users", data=b"{nope", headers={"X-CSRF-Token": admin.csrf}
    )
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_json"
    changed = await admin.call(
        "PATCH", "/api/v1/admin/users/chen", {"role": "department", "department": "eco"}
    )
    assert changed["user"]["department"] == "eco"
    await _field(
        admin, "PATCH", "/api/v1/admin/users/chen", {"department": "nowhere"}, "department"
    )
    await _field(admin, "PATCH", "/api/v1/admin/users/nobody", {"display_name": "x"}, "username")
    chen = await login("agent2")
    await admin.call("POST", "/api/v1/admin/users/agent2/disable")
    assert (await chen.client.get("/api/v1/me")).status == 401  # signed out at once
    again = await anon.post("/api/v1/session", json={"username": "agent2", "password": PASSWORD})
    assert again.status == 401
    await admin.call("POST", "/api/v1/admin/users/agent2/enable")
    reset = await admin.call("POST", "/api/v1/admin/users/agent2/password")
    old = await anon.post("/api/v1/session", json={"username": "agent2", "password": PASSWORD})
    assert old.status == 401
    new = await anon.post(
        "/api/v1/session", json={"username": "agent2", "password": reset["password"]}
    )
    assert new.status == 200
    last = await admin.call("POST", "/api/v1/admin/users/admin/disable", status=409)
    assert last["error"]["code"] == "last_admin"
    await admin.call("PATCH", "/api/v1/admin/users/admin", {"role": "agent"}, status=409)
    audit = await admin.call("GET", "/api/v1/audit")
    actions = {a["action"] for a in audit}
    assert {
        "admin.user_add",
        "admin.user_change",
        "admin.user_disable",
        "admin.user_enable",
        "admin.password_reset",
    } <= actions
    assert all(a["username"] == "admin" for a in audit if a["action"].startswith("admin."))
    page = await (await admin.client.get("/admin/users")).text()
    recent = page[page.index('id="admin-audit"') :]
    assert "重置密码" in recent and "停用用户" in recent and "chen" in recent


async def test_departments_add_move_deactivate_and_refuse_to_delete_used_ones(
    login: Any,
) -> None:
    admin, agent = await login("admin"), await login("agent")
    await admin.call(
        "POST",
        "/api/v1/admin/departments",
        {"code": "water", "name_zh": "市水务局", "name_en": "Water Bureau", "kind": "city"},
        status=201,
    )
    await admin.call("PATCH", "/api/v1/admin/departments/water", {"parent_code": "chengguan"})
    tree = {d["code"]: d for d in await admin.call("GET", "/api/v1/admin/departments")}
    assert tree["water"]["parent_code"] == "chengguan" and tree["water"]["depth"] == 1
    await _field(
        admin, "PATCH", "/api/v1/admin/departments/chengguan", {"parent_code": "water"},
        "parent_code",
    )  # fmt: skip
    await _field(admin, "PATCH", "/api/v1/admin/departments/water", {"active": "no"}, "active")
    await _field(
        admin, "POST", "/api/v1/admin/departments", {"code": "water", "name_zh": "x",
                                                     "kind": "city"}, "code"
    )  # fmt: skip
    t = await agent.call("POST", "/api/v1/tickets", {"text": "水管爆了"}, status=201)
    number = t["ticket"]["number"]
    await agent.call("POST", f"/api/v1/tickets/{number}/actions/dispatch", {"department": "water"})
    used = await admin.call("DELETE", "/api/v1/admin/departments/water", status=409)
    assert used["error"]["code"] == "in_use"
    await admin.call("PATCH", "/api/v1/admin/departments/water", {"active": False})
    page = await (await admin.client.get("/admin/departments")).text()
    assert "市水务局" in page and "已停用" in page
    await admin.call(
        "POST",
        "/api/v1/admin/departments",
        {"code": "spare", "name_zh": "备用单位", "kind": "street", "parent_code": "chenghua"},
        status=201,
    )
    await admin.call("DELETE", "/api/v1/admin/departments/spare")
    codes = {d["code"] for d in await admin.call("GET", "/api/v1/admin/departments")}
    assert "spare" not in codes


async def test_categories_limits_urgency_and_review(login: Any) -> None:
    admin = await login("admin")
    out = await admin.call(
        "PATCH",
        "/api/v1/admin/categories/consult.school",
        {"limit_days": 3, "review_required": True},
    )
    assert out["effective_limit"] == {"unit": "days", "amount": 3.0}
    assert out["review_required"] is True
    cats = {c["code"]: c for c in await admin.call("GET", "/api/v1/admin/categories")}
    assert cats["help.emergency"]["effective_limit"] == {"unit": "hours", "amount": 24.0}
    assert cats["consult.school"]["limit_days"] == 3
    await _field(
        admin, "PATCH", "/api/v1/admin/categories/consult.school", {"limit_hours": 0}, "limit_hours"
    )
    await _field(
        admin, "PATCH", "/api/v1/admin/categories/consult.school", {"complexity": "x"},
        "complexity",
    )  # fmt: skip
    await _field(admin, "PATCH", "/api/v1/admin/categories/nope", {"urgent": True}, "code")
    await admin.call(
        "POST",
        "/api/v1/admin/categories",
        {"code": "help.heating", "parent_code": "help", "name_zh": "供暖", "urgent": True},
        status=201,
    )
    page = await (await admin.client.get("/admin/categories")).text()
    assert "供暖" in page and "急事急办" in page and "需审核" in page


async def test_review_before_dispatch_end_to_end(login: Any) -> None:
    """The flag set on the admin page: the agent's dispatch waits in 待审核, the supervisor
    approves, and the order reaches the department the agent proposed."""
    admin, agent, sup = await login("admin"), await login("agent"), await login("sup")
    eco = await login("eco")
    await admin.call("PATCH", "/api/v1/admin/categories/report.wage_arrears",
                     {"review_required": False})  # fmt: skip
    await admin.call("PATCH", "/api/v1/admin/categories/complaint.noise",
                     {"review_required": True})  # fmt: skip
    t = await agent.call(
        "POST",
        "/api/v1/tickets",
        {"text": "工地夜间施工噪声", "category": "complaint.noise"},
        status=201,
    )
    number = t["ticket"]["number"]
    out = await agent.call(
        "POST", f"/api/v1/tickets/{number}/actions/dispatch", {"department": "eco"}
    )
    assert out["state"] == "pending_review"
    assert (await eco.call("GET", "/api/v1/tickets"))["total"] == 0
    waiting = await sup.call("GET", "/api/v1/tickets?state=pending_review")
    assert number in [i["number"] for i in waiting["items"]]
    page = await (await sup.client.get(f"/tickets/{number}")).text()
    assert '<option value="eco" selected>' in page  # the proposal, preselected for approval
    done = await sup.call("POST", f"/api/v1/tickets/{number}/actions/approve", {})
    assert done["state"] == "dispatched" and done["lead_department"] == "eco"
    assert (await eco.call("GET", "/api/v1/tickets"))["total"] == 1
    actions = [e["action"] for e in done["timeline"]]
    assert actions[-2:] == ["submit_review", "approve"]


async def test_rule_test_box_finds_the_saved_rule(login: Any) -> None:
    admin, sup = await login("admin"), await login("sup")
    rules = await admin.call("GET", "/api/v1/dispatch_rules")
    kept = [{k: r[k] for k in r if k != "id"} for r in rules if r["category"] != "complaint.noise"]
    kept.append(
        {
            "category": "complaint.noise",
            "district": "chenghua",
            "keywords": ["工地"],
            "lead_department": "housing",
            "co_departments": ["chengguan"],
            "priority": 5,
            "auto_dispatch": False,
            "active": True,
        }
    )
    await admin.call("PUT", "/api/v1/dispatch_rules", {"rules": kept})
    saved = await admin.call("GET", "/api/v1/dispatch_rules")
    rule_id = next(r["id"] for r in saved if r["keywords"] == ["工地"])
    body = {"category": "complaint.noise", "district": "chenghua", "text": "工地半夜施工"}
    hit = (await sup.call("POST", "/api/v1/admin/dispatch_rules/test", body))["suggestion"]
    assert hit["rule_id"] == rule_id and hit["lead_department"] == "housing"
    assert hit["co_departments"] == ["chengguan"] and hit["lead_name"]
    miss = await sup.call("POST", "/api/v1/admin/dispatch_rules/test", {**body, "text": "邻居装修"})
    assert miss["suggestion"] is None or miss["suggestion"]["rule_id"] != rule_id
    # A switched-off rule stays in the table but no longer matches.
    off = [{**{k: r[k] for k in r if k != "id"}, "active": r["id"] != rule_id} for r in saved]
    await admin.call("PUT", "/api/v1/dispatch_rules", {"rules": off})
    assert any(not r["active"] for r in await admin.call("GET", "/api/v1/dispatch_rules"))
    after = (await sup.call("POST", "/api/v1/admin/dispatch_rules/test", body))["suggestion"]
    assert after is None or after["rule_id"] != rule_id
    await _field(sup, "POST", "/api/v1/admin/dispatch_rules/test", {**body, "category": "x"},
                 "category")  # fmt: skip
    await _field(sup, "POST", "/api/v1/admin/dispatch_rules/test", {"text": 5}, "text")
    bad = [{**kept[0], "priority": "high"}]
    data = await admin.call("PUT", "/api/v1/dispatch_rules", {"rules": bad}, status=400)
    assert data["error"]["field"] == "rules[0].priority"
    await (await login("agent")).call("POST", "/api/v1/admin/dispatch_rules/test", body, status=403)


async def test_calendar_override_moves_a_deadline_and_removing_it_moves_it_back(
    login: Any,
) -> None:
    admin, agent = await login("admin"), await login("agent")
    t = await agent.call("POST", "/api/v1/tickets", {"text": "路灯不亮"}, status=201)
    number = t["ticket"]["number"]
    out = await agent.call(
        "POST", f"/api/v1/tickets/{number}/actions/dispatch", {"department": "chengguan"}
    )
    due = out["due_at"]
    set_ = await admin.call(
        "PUT", "/api/v1/admin/calendar/days/2026-11-27", {"is_workday": False, "reason": "停电"}
    )
    assert set_["recomputed"] == [number]
    moved = await agent.call("GET", f"/api/v1/tickets/{number}")
    assert moved["due_at"] > due
    month = await admin.call("GET", "/api/v1/admin/calendar/2026-11")
    day = next(d for d in month if d["day"] == "2026-11-27")
    assert day["override"] == "停电" and day["workday"] is False
    page = await (await admin.client.get("/admin/calendar?month=2026-11")).text()
    assert "停电" in page and "2026 年 11 月" in page
    gone = await admin.call("DELETE", "/api/v1/admin/calendar/days/2026-11-27")
    assert gone["recomputed"] == [number]
    assert (await agent.call("GET", f"/api/v1/tickets/{number}"))["due_at"] == due
    await _field(admin, "PUT", "/api/v1/admin/calendar/days/2026-13-01",
                 {"is_workday": False, "reason": "x"}, "day")  # fmt: skip
    await _field(admin, "PUT", "/api/v1/admin/calendar/days/2026-12-01",
                 {"is_workday": "no", "reason": "x"}, "is_workday")  # fmt: skip
    await _field(admin, "PUT", "/api/v1/admin/calendar/days/2026-12-01",
                 {"is_workday": False, "reason": ""}, "name")  # fmt: skip
    await _field(admin, "DELETE", "/api/v1/admin/calendar/days/2026-12-01", None, "day")
    await _field(admin, "GET", "/api/v1/admin/calendar/2026-13", None, "month")
    oct_page = await (await admin.client.get("/admin/calendar?month=2026-10")).text()
    assert "国庆节" in oct_page


async def test_transfer_lines_are_stored_and_drive_the_desk(center: Center, login: Any) -> None:
    admin = await login("admin")
    lines = {x["code"]: x for x in await admin.call("GET", "/api/v1/admin/lines")}
    assert lines["110"]["target"] == "PJSIP/110@police110"  # seeded from the configuration
    await admin.call(
        "PUT",
        "/api/v1/admin/lines/122",
        {"name_zh": "交通事故 122", "target": "PJSIP/122@traffic122", "kind": "three_way"},
    )
    await admin.call(
        "PUT",
        "/api/v1/admin/lines/119",
        {"name_zh": "消防 119", "target": "PJSIP/119@fire119", "kind": "blind", "enabled": False},
    )
    desk = center.desk
    assert desk is not None
    assert desk.lines()["122"] == "PJSIP/122@traffic122" and "119" not in desk.lines()
    await _field(admin, "PUT", "/api/v1/admin/lines/12a", {"name_zh": "x",
                 "target": "PJSIP/1@x", "kind": "blind"}, "code")  # fmt: skip
    await _field(admin, "PUT", "/api/v1/admin/lines/123", {"name_zh": "x",
                 "target": "PJSIP/1@x", "kind": "warm"}, "kind")  # fmt: skip
    # A three-way line is never blind-transferred: the agent stays on the call.
    await admin.call(
        "PUT",
        "/api/v1/admin/lines/120",
        {"name_zh": "急救 120", "target": "PJSIP/120@medical120", "kind": "three_way"},
    )
    agent = await login("agent")
    refused = await agent.call("POST", "/api/v1/calls/transfer", {"line": "120"}, status=400)
    assert refused["error"]["field"] == "line" and "three-way" in refused["error"]["message_en"]
    await admin.call("DELETE", "/api/v1/admin/lines/122")
    assert "122" not in desk.lines()
    await _field(admin, "DELETE", "/api/v1/admin/lines/122", None, "code")


async def test_sla_settings_reach_the_presence_board_the_desk_and_the_reports(
    center: Center, login: Any
) -> None:
    svc = center.app[SERVICES]
    assert svc.figures is not None
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    async with center.store.write() as tx:  # answered after 18 s of queueing
        await tx.conn.execute(
            calls.insert().values(
                call_id="sla-1", direction="inbound", started_at=start,
                answered_at=start + timedelta(seconds=18), queue_wait=18.0, talk_time=60.0,
                abandoned=False, record={},
            )
        )  # fmt: skip
    day = (start - timedelta(hours=9), start + timedelta(hours=15))

    async def service_level(path: Literal["sql", "pure"]) -> tuple[int, int]:
        return (await svc.figures.report(*day, day[1], path=path)).calls.service_level

    assert await service_level("sql") == await service_level("pure") == (0, 1)  # 15 s
    admin = await login("admin")
    current = await admin.call("GET", "/api/v1/admin/sla")
    assert "reply_minutes_wechat" not in current  # a counting rule of the figures, not here
    page = await (await admin.client.get("/admin/sla")).text()
    assert "3 分钟" in page and "1440 分钟" in page  # the figures' limits, shown read-only
    saved = await admin.call(
        "PUT",
        "/api/v1/admin/sla",
        {"service_level_seconds": 20, "after_call_seconds": 45, "max_concurrent_chats": 4},
    )
    assert saved["max_concurrent_chats"] == 4
    assert svc.presence is not None and svc.desk is not None
    assert svc.presence.after_call_seconds == 45 and svc.presence.max_chats == 4
    assert svc.desk.service_level_seconds == 20
    assert await service_level("sql") == await service_level("pure") == (1, 1)  # now 20 s
    for body, field in (
        ({"max_concurrent_chats": 0}, "max_concurrent_chats"),
        ({"service_level_seconds": 500}, "service_level_seconds"),
        ({"reply_minutes_fax": 1}, "reply_minutes_fax"),
    ):
        await _field(admin, "PUT", "/api/v1/admin/sla", body, field)
    assert (await admin.call("GET", "/api/v1/admin/sla"))["max_concurrent_chats"] == 4


@pytest.mark.parametrize("locale", ["en"])
async def test_admin_pages_speak_english(login: Any, locale: str) -> None:
    admin = await login("admin")
    for path in PAGES:
        body = await (await admin.client.get(path + "?lang=" + locale)).text()
        assert "Administration" in body, path
        assert "admin." not in body.replace("/admin", "").replace("admin.js", ""), path


async def test_the_department_tree_shows_each_units_class(center: Center, login: Any) -> None:
    async with center.store.write() as tx:
        await tx.conn.execute(
            department_classes.insert().values(
                code="window", name_zh="窗口服务类", name_en="Public-facing", weights={},
                position=1, updated_at=center.tickets.clock(),
            )
        )  # fmt: skip
        await tx.conn.execute(
            departments.update().where(departments.c.code == "eco").values(class_code="window")
        )
    admin = await login("admin")
    tree = {d["code"]: d for d in await admin.call("GET", "/api/v1/admin/departments")}
    assert tree["eco"]["class_name"] == ["窗口服务类", "Public-facing"]
    page = await (await admin.client.get("/admin/departments")).text()
    assert "窗口服务类" in page
    assert "Public-facing" in await (await admin.client.get("/admin/departments?lang=en")).text()


async def test_the_admin_api_is_described(center: Center, anon: TestClient[Any, Any]) -> None:
    spec = await (await anon.get("/api/openapi.json")).json()
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for route in center.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/v1/admin/") and route.method != "HEAD":
            served.add((path.replace("{action:disable|enable}", "{action}"), route.method))
    served = {(p.replace("{username}/{action}", "{username}/disable"), m) for p, m in served} | {
        (p.replace("{username}/{action}", "{username}/enable"), m) for p, m in served
    }
    missing = {(p, m) for p, m in served if "{action}" not in p} - described
    assert not missing, missing


async def test_disabling_closes_the_persons_live_pages_at_once(login: Any) -> None:
    admin, agent2 = await login("admin"), await login("agent2")
    ws = await agent2.client.ws_connect("/ws")
    try:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        await admin.call("POST", "/api/v1/admin/users/agent2/disable")
        msg = await ws.receive(timeout=2)
        assert msg.type is WSMsgType.CLOSE and msg.data == CLOSE_SESSION_ENDED
    finally:
        await ws.close()
