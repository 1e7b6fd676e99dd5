"""Who may see what: every route × every role; a department never sees another's orders,
and no public page shows personal data."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from hotline.bootstrap import Center

PHONE, NAME = "13800138000", "王芳"
# Routes anyone may open; everything else needs a signed-in user.
PUBLIC = re.compile(
    r"^/(healthz|readyz|api/openapi\.json|api/v1/verify|verify|login|lang/.*|static/.*"
    r"|mailbox.*|wechat/.*|telegram/.*|api/v1/session)$"
)


async def _two_orders(login: Any) -> tuple[str, str]:
    agent = await login("agent")
    numbers = []
    for dept in ("chengguan", "eco"):
        t = await agent.call(
            "POST",
            "/api/v1/tickets",
            {"citizen": {"name": NAME, "phone": PHONE}, "text": f"给{dept}的诉求"},
            status=201,
        )
        n = t["ticket"]["number"]
        await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": dept})
        numbers.append(n)
    return numbers[0], numbers[1]


def _get_routes(center: Center) -> list[str]:
    paths = set()
    for route in center.app.router.routes():
        if route.method != "GET":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if path:
            paths.add(path)
    return sorted(paths)


async def test_anonymous_gets_nothing_private(
    center: Center, login: Any, anon: TestClient[Any, Any]
) -> None:
    a, _ = await _two_orders(login)
    routes = _get_routes(center)
    assert "/api/v1/tickets/{number}" in routes and "/tickets/{number}" in routes
    for path in routes:
        url = path.replace("{number}", a).replace("{action}", "sign").replace("{locale}", "en")
        url = re.sub(r"\{[^}]+\}", "x", url)
        resp = await anon.get(url, allow_redirects=False)
        body = await resp.text()
        assert PHONE not in body and NAME not in body, path
        if PUBLIC.match(path.rstrip("/") or "/") or path == "/":
            continue
        if path.startswith("/api/"):
            assert resp.status == 401, (path, resp.status)
        else:
            assert resp.status in (302, 401, 403), (path, resp.status)


async def test_each_role_sees_exactly_its_orders(login: Any) -> None:
    a, b = await _two_orders(login)
    expected = {
        # role login: (sees A, sees B, total in list, sees the phone in full)
        "agent": (True, True, 2, True),
        "sup": (True, True, 2, True),
        "admin": (True, True, 2, False),
        "cg": (True, False, 1, False),
        "cg_jinniu": (False, False, 0, False),
        "eco": (False, True, 1, False),
        "police": (False, False, 0, False),
    }
    for who, (sees_a, sees_b, total, full_phone) in expected.items():
        api = await login(who)
        listing = await api.call("GET", "/api/v1/tickets")
        assert listing["total"] == total, who
        for number, sees in ((a, sees_a), (b, sees_b)):
            resp = await api.client.get(f"/api/v1/tickets/{number}")
            assert resp.status == (200 if sees else 404), (who, number)
            page = await api.client.get(f"/tickets/{number}")
            assert page.status == (200 if sees else 404), (who, number)
            if sees:
                data = await resp.json()
                assert (data["citizen"]["phone"] == PHONE) is full_phone, who
                assert (PHONE in await page.text()) is full_phone, who


async def test_role_gates_on_staff_only_endpoints(login: Any) -> None:
    cg, agent, admin = await login("cg"), await login("agent"), await login("admin")
    for path in ("/api/v1/calls/transfer", "/api/v1/calls/hangup", "/api/v1/agent/queue"):
        await cg.call("POST", path, {}, status=403)
    await agent.call("PUT", "/api/v1/dispatch_rules", {"rules": []}, status=403)
    await admin.call("PUT", "/api/v1/dispatch_rules", {"rules": []})
    await cg.call("GET", "/api/v1/audit", status=403)
    await agent.call("GET", "/api/v1/audit", status=403)
    await cg.call("POST", "/api/v1/tickets", {"text": "x"}, status=403)
    await cg.call("PUT", "/api/v1/calendar/2027-01-01", {"is_workday": False}, status=403)


async def test_portal_supervision_and_recordings_by_role(login: Any) -> None:
    a, b = await _two_orders(login)  # a to chengguan, b to eco
    roles = ("agent", "sup", "admin", "cg", "cg_jinniu", "eco", "police")
    gets = {
        "/portal": {"cg": 200, "cg_jinniu": 200, "eco": 200},
        "/api/v1/supervision": {"sup": 200},
    }
    for who in roles:
        api = await login(who)
        for path, allowed in gets.items():
            resp = await api.client.get(path, allow_redirects=False)
            assert resp.status == allowed.get(who, 403), (who, path, resp.status)
        # A department's inbox holds its own orders only; the phone stays masked.
        if who in ("cg", "cg_jinniu", "eco"):
            page = await (await api.client.get("/portal")).text()
            assert (a in page, b in page) == (who == "cg", who == "eco"), who
            assert PHONE not in page and NAME not in page, who
        # Recordings: call-floor staff only; a unit that cannot see the order gets 404.
        rec = await api.client.get(f"/tickets/{a}/recordings/1.1", allow_redirects=False)
        expected = {"agent": 404, "sup": 404, "cg": 403, "admin": 403}.get(who, 404)
        assert rec.status == expected, (who, rec.status)
    eco, agent, cg = await login("eco"), await login("agent"), await login("cg")
    for action in ("sign", "return", "extension", "result", "pass_on", "unmask"):
        await eco.call("POST", f"/api/v1/portal/orders/{a}/{action}", {}, status=404)
        await agent.call("POST", f"/api/v1/portal/orders/{a}/{action}", {}, status=403)
    await cg.call("POST", f"/api/v1/supervision/{a}/supervise", {"note": "x"}, status=403)
    assert (await cg.call("POST", f"/api/v1/portal/orders/{a}/sign", {}))["state"] == "handling"


async def test_knowledge_base_by_role(login: Any) -> None:
    cg, eco = await login("cg"), await login("eco")
    article = {"title": "占道经营", "body": "两个工作日内核查。", "expires_on": "2027-06-30"}
    draft = (await cg.call("POST", "/api/v1/knowledge", article, status=201))["id"]
    gets = {
        "/knowledge": {
            "agent": 200,
            "sup": 200,
            "admin": 200,
            "cg": 200,
            "cg_jinniu": 200,
            "eco": 200,
            "police": 200,
        },
        "/knowledge/new": {"cg": 200, "cg_jinniu": 200, "eco": 200},
        "/knowledge/review": {"sup": 200, "admin": 200},
        "/api/v1/knowledge/review": {"sup": 200, "admin": 200},
        # a draft: its department (and the unit above a sub-unit) and the reviewers only
        f"/knowledge/{draft}": {"sup": 200, "admin": 200, "cg": 200},
        f"/api/v1/knowledge/{draft}": {"sup": 200, "admin": 200, "cg": 200},
        f"/knowledge/{draft}/edit": {"cg": 200, "sup": 403, "admin": 403},
    }
    for who in ("agent", "sup", "admin", "cg", "cg_jinniu", "eco", "police"):
        api = await login(who)
        for path, allowed in gets.items():
            resp = await api.client.get(path, allow_redirects=False)
            default = 404 if f"/{draft}" in path else 403
            assert resp.status == allowed.get(who, default), (who, path, resp.status)
    await eco.call("PATCH", f"/api/v1/knowledge/{draft}", {"title": "改"}, status=404)


async def test_briefing_and_hotspots_for_supervisors_and_admins(login: Any) -> None:
    await _two_orders(login)
    paths = ("/reports/briefing", "/reports/hotspots", "/api/v1/reports/briefing",
             "/api/v1/reports/hotspots?period=week")  # fmt: skip
    for who in ("agent", "sup", "admin", "cg", "cg_jinniu", "eco", "police"):
        api = await login(who)
        for path in paths:
            resp = await api.client.get(path, allow_redirects=False)
            assert resp.status == (200 if who in ("sup", "admin") else 403), (who, path)
            if resp.status == 200:  # figures and order numbers, never a citizen's data
                body = await resp.text()
                assert PHONE not in body and NAME not in body, (who, path)
    sup = await login("sup")
    await sup.call("GET", "/api/v1/reports/briefing?period=year", status=400)
    await sup.call("GET", "/api/v1/reports/hotspots?date=23.11.2026", status=400)


async def test_ranking_drill_classes_and_adjustments_by_role(login: Any) -> None:
    await _two_orders(login)
    q = "?start=2026-10-01&end=2027-01-01"
    readers = ("sup", "admin")
    paths = {
        "/reports/ranking" + q: readers,
        "/api/v1/reports/ranking" + q: readers,
        "/reports/ranking.xlsx" + q: readers,
        "/reports/drill" + q + "&figure=tickets": readers,
        "/api/v1/reports/drill" + q + "&figure=tickets&part=d": readers,
        "/reports/drill.xlsx" + q + "&figure=tickets": readers,
        "/reports/drill/calls" + q + "&figure=offered": readers,
        "/api/v1/reports/drill/calls" + q + "&figure=abandoned": readers,
        "/reports/adjustments" + q: readers,
        "/api/v1/reports/adjustments" + q: readers,
        "/admin/classes": readers,
        "/api/v1/department_classes": readers,
    }
    for who in ("agent", "sup", "admin", "cg", "cg_jinniu", "eco", "police"):
        api = await login(who)
        for path, allowed in paths.items():
            resp = await api.client.get(path, allow_redirects=False)
            assert resp.status == (200 if who in allowed else 403), (who, path, resp.status)
            if resp.status == 200 and not path.endswith(".xlsx" + q) and ".xlsx" not in path:
                body = await resp.text()  # numbers and order numbers, never a citizen's data
                assert PHONE not in body and NAME not in body, (who, path)
    sup = await login("sup")
    await sup.call("PUT", "/api/v1/department_classes/x", {"name_zh": "x"}, status=403)
    await sup.call("PUT", "/api/v1/departments/eco/class", {"class_code": None}, status=403)
    agent = await login("agent")
    body = {"department": "eco", "kind": "bonus", "points": 1, "reason": "r", "day": "2026-11-02"}
    await agent.call("POST", "/api/v1/reports/adjustments", body, status=403)


async def test_bad_reviews_and_ledger_by_role(center: Center, login: Any) -> None:
    from tests.agent_console.test_reviews import bad_rating

    a = await bad_rating(center, login, "chengguan")
    b = await bad_rating(center, login, "eco")
    listing = await (await login("sup")).call("GET", "/api/v1/reviews")
    cases = {c["ticket"]: c["id"] for c in listing["cases"]}
    mine, theirs = cases[a], cases[b]
    staff = {"sup": 200, "admin": 200}
    gets = {
        "/reviews": {**staff, "cg": 200, "cg_jinniu": 200, "eco": 200},
        "/api/v1/reviews": {**staff, "cg": 200, "cg_jinniu": 200, "eco": 200},
        # a case: its department (and the unit above a sub-unit) and the center's staff only
        f"/reviews/{mine}": {**staff, "cg": 200, "cg_jinniu": 404, "eco": 404},
        f"/api/v1/reviews/{mine}": {**staff, "cg": 200, "cg_jinniu": 404, "eco": 404},
        "/api/v1/reviews/followed": staff,
        "/ledger": staff,
        "/api/v1/ledger": staff,
    }
    for who in ("agent", "sup", "admin", "cg", "cg_jinniu", "eco", "police"):
        api = await login(who)
        for path, allowed in gets.items():
            resp = await api.client.get(path, allow_redirects=False)
            assert resp.status == allowed.get(who, 403), (who, path, resp.status)
        if who in ("cg", "cg_jinniu", "eco"):
            page = await (await api.client.get("/reviews")).text()
            assert (a in page, b in page) == (who == "cg", who == "eco"), who
            assert PHONE not in page and NAME not in page, who
    cg = await login("cg")
    await cg.call("POST", f"/api/v1/reviews/{theirs}/appeal", {"note": "x"}, status=404)
    await cg.call("POST", f"/api/v1/reviews/{theirs}/contact", {"note": "x"}, status=404)
    agent = await login("agent")
    await agent.call("POST", f"/api/v1/reviews/{mine}/contact", {"note": "x"}, status=403)


async def test_online_desk_by_role(center: Center, login: Any) -> None:
    from datetime import UTC, datetime

    from tickets.model import Channel, CitizenIdentity, InboundContact

    agent = await login("agent")
    await agent.call("POST", "/api/v1/agent/queue", {"action": "login"})
    accepted = await center.tickets.accept(
        InboundContact(
            channel=Channel.WECHAT, external_id="auth-wx-1",
            citizen=CitizenIdentity(name=NAME, wechat_openid="oAuthCitizen"),
            text="小区垃圾三天没人清运", received_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        )
    )  # fmt: skip
    await center.bus.drain()  # type: ignore[attr-defined]
    ticket = accepted.ticket_id
    await agent.call("POST", f"/api/v1/online/{ticket}/accept")
    gets = {
        "/api/v1/online": {"agent": 200, "agent2": 200, "sup": 200},
        # the conversation: its agent and the supervisors, not another agent
        f"/api/v1/online/{ticket}": {"agent": 200, "sup": 200},
        "/api/v1/agents/skills": {"sup": 200, "admin": 200},
    }
    for who in ("agent", "agent2", "sup", "admin", "cg", "cg_jinniu", "eco", "police"):
        api = await login(who)
        for path, allowed in gets.items():
            resp = await api.client.get(path)
            assert resp.status == allowed.get(who, 403), (who, path, resp.status)
            if resp.status != 200:
                assert NAME not in await resp.text()
    other, cg, sup = await login("agent2"), await login("cg"), await login("sup")
    for action in ("accept", "decline", "end"):
        await cg.call("POST", f"/api/v1/online/{ticket}/{action}", {}, status=403)
        await other.call("POST", f"/api/v1/online/{ticket}/{action}", {}, status=409)
    await other.call("POST", f"/api/v1/online/{ticket}/reply", {"text": "x"}, status=409)
    skills = {"categories": ["complaint"], "languages": ["zh", "en"], "max_chats": 2}
    await agent.call("PUT", "/api/v1/agents/agent2/skills", skills, status=403)
    await cg.call("PUT", "/api/v1/agents/agent2/skills", skills, status=403)
    assert (await sup.call("PUT", "/api/v1/agents/agent2/skills", skills))["max_chats"] == 2
    [row] = await sup.call("GET", "/api/v1/agents/skills")
    assert (row["username"], row["languages"]) == ("agent2", ["en", "zh"])
    await sup.call("PUT", "/api/v1/agents/cg/skills", skills, status=400)


async def test_admin_routes_by_role(login: Any) -> None:
    """The set-up pages: admins everything, supervisors read (users stay admin-only), every
    other role 403; nobody but an admin sees the staff list."""
    readers = {"admin": 200, "sup": 200}
    gets = {
        "/admin/users": {"admin": 200},
        "/api/v1/admin/users": {"admin": 200},
        "/admin/departments": readers,
        "/api/v1/admin/departments": readers,
        "/admin/categories": readers,
        "/api/v1/admin/categories": readers,
        "/admin/rules": readers,
        "/admin/lines": readers,
        "/api/v1/admin/lines": readers,
        "/admin/calendar": readers,
        "/api/v1/admin/calendar/2026-11": readers,
        "/admin/sla": readers,
        "/api/v1/admin/sla": readers,
    }
    for who in ("agent", "agent2", "sup", "admin", "cg", "cg_jinniu", "eco", "police"):
        api = await login(who)
        for path, allowed in gets.items():
            resp = await api.client.get(path, allow_redirects=False)
            assert resp.status == allowed.get(who, 403), (who, path, resp.status)
            if resp.status != 200:
                assert "password" not in await resp.text()


async def test_a_reassigned_order_leaves_the_department_it_was_taken_from(login: Any) -> None:
    a, _ = await _two_orders(login)  # A went to chengguan
    cg, eco, sup = await login("cg"), await login("eco"), await login("sup")
    await cg.call("GET", f"/api/v1/tickets/{a}")
    await sup.call("POST", f"/api/v1/tickets/{a}/actions/redispatch", {"department": "eco"})
    await cg.call("GET", f"/api/v1/tickets/{a}", status=404)
    listed = await cg.call("GET", "/api/v1/tickets")
    assert a not in [t["number"] for t in listed["items"]]
    assert (await eco.call("GET", f"/api/v1/tickets/{a}"))["number"] == a
    listed = await eco.call("GET", "/api/v1/tickets")
    assert a in [t["number"] for t in listed["items"]]
    page = await cg.client.get(f"/tickets/{a}")
    assert page.status == 404


def _all_routes(center: Center) -> list[tuple[str, str]]:
    found = set()
    for route in center.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if "pattern" in info:  # a placeholder limited to some words: take the first
            for name, rx in re.findall(r"\(\?P<(\w+)>([^)]*)\)", info["pattern"].pattern):
                if "|" in rx or rx.isalnum():
                    path = path.replace("{" + name + "}", rx.split("|")[0])
        if path and route.method not in ("HEAD", "OPTIONS", "*"):
            found.add((route.method, path))
    return sorted(found)


def _fill(path: str, number: str) -> str:
    path = path.replace("{number}", number).replace("{locale}", "en")
    return re.sub(r"\{[^}]+\}", "x", path)


ROLES = ("agent", "agent2", "sup", "admin", "cg", "cg_jinniu", "eco", "police")
# Who may read order A (dispatched to chengguan): the call floor, and chengguan itself.
SEES_A = {"agent", "agent2", "sup", "admin", "cg"}


async def test_every_page_and_read_route_for_every_role(center: Center, login: Any) -> None:
    """Every GET route × every role: never a crash, and order A's citizen appears only to
    those who may see A (unmasked only to the call floor)."""
    a, _ = await _two_orders(login)
    gets = [p for m, p in _all_routes(center) if m == "GET" and not p.startswith("/static")]
    assert len(gets) > 60
    for who in ROLES:
        api = await login(who)
        for path in gets:
            resp = await api.client.get(_fill(path, a), allow_redirects=False)
            body = await resp.read()
            assert resp.status < 500, (who, path, resp.status)
            text = body.decode("utf-8", "replace")
            if who not in SEES_A:
                assert NAME not in text and PHONE not in text, (who, path)
            if who in ("cg", "admin"):
                assert PHONE not in text, (who, path)  # masked until unmasked with a reason


async def test_every_state_changing_route_needs_a_session_and_its_csrf_token(
    center: Center, login: Any, anon: TestClient[Any, Any]
) -> None:
    """Every POST/PUT/PATCH/DELETE × anonymous and × every role without the CSRF token:
    refused, and nothing changes (public forms and platform callbacks check their own
    signatures instead)."""
    a, _ = await _two_orders(login)
    unsafe = [
        (m, p)
        for m, p in _all_routes(center)
        if m in ("POST", "PUT", "PATCH", "DELETE") and not PUBLIC.match(p)
    ]
    assert len(unsafe) > 40
    sup = await login("sup")
    before = await sup.call("GET", f"/api/v1/tickets/{a}")
    let_through = []
    for who in (None, *ROLES):
        client = anon if who is None else (await login(who)).client
        for method, path in unsafe:
            resp = await client.request(method, _fill(path, a), json={}, allow_redirects=False)
            if resp.status not in (302, 401, 403):
                let_through.append((who, method, path, resp.status))
    assert let_through == [], "\n".join(map(str, let_through))
    after = await sup.call("GET", f"/api/v1/tickets/{a}")
    assert (after["state"], len(after["timeline"])) == (before["state"], len(before["timeline"]))
