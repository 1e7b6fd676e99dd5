"""The knowledge base over HTTP: the JSON API and the pages, with who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from hotline.bootstrap import Center
from tickets.model import Channel, CitizenIdentity, InboundContact

ARTICLE = {
    "title": "占道经营投诉的处理时限",
    "body": "城管执法部门接到占道经营投诉后，一般在2个工作日内到现场核查处理。",
    "category": "complaint.street_vendor",
    "keywords": "占道经营 流动摊贩",
    "expires_on": "2027-06-30",
}


async def _published(login: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    cg, sup = await login("cg"), await login("sup")
    art = await cg.call("POST", "/api/v1/knowledge", {**(body or ARTICLE), "submit": True}, 201)
    return dict(await sup.call("POST", f"/api/v1/knowledge/{art['id']}/actions/publish", {}))


async def test_anonymous_is_refused_everywhere(anon: TestClient[Any, Any]) -> None:
    for method, path in (
        ("GET", "/api/v1/knowledge?q=公积金"),
        ("GET", "/api/v1/knowledge/quick?q=公积金"),
        ("GET", "/api/v1/knowledge/review"),
        ("GET", "/api/v1/knowledge/1"),
        ("POST", "/api/v1/knowledge"),
        ("PATCH", "/api/v1/knowledge/1"),
        ("POST", "/api/v1/knowledge/1/actions/publish"),
        ("POST", "/api/v1/knowledge/1/cite"),
    ):
        resp = await anon.request(method, path, json={})
        assert resp.status == 401, (method, path, resp.status)
        assert (await resp.json())["error"]["code"] == "unauthorized"
    for path in ("/knowledge", "/knowledge/new", "/knowledge/review", "/knowledge/1"):
        resp = await anon.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"].startswith("/login"), path


async def test_write_review_publish_and_search_over_the_api(login: Any) -> None:
    cg, sup, agent = await login("cg"), await login("sup"), await login("agent")
    draft = await cg.call("POST", "/api/v1/knowledge", ARTICLE, 201)
    assert draft["status"] == "draft" and draft["version"]["keywords"] == ["占道经营", "流动摊贩"]
    aid = draft["id"]
    # not published: agents neither find nor open it, and cannot publish it
    assert (await agent.call("GET", "/api/v1/knowledge?q=占道经营"))["total"] == 0
    await agent.call("GET", f"/api/v1/knowledge/{aid}", status=404)
    await sup.call("POST", f"/api/v1/knowledge/{aid}/actions/publish", {}, 409)  # still a draft
    await cg.call("POST", f"/api/v1/knowledge/{aid}/actions/submit", {})
    queue = await sup.call("GET", "/api/v1/knowledge/review")
    assert [a["id"] for a in queue["items"]] == [aid]
    await agent.call("GET", "/api/v1/knowledge/review", status=403)
    await cg.call("POST", f"/api/v1/knowledge/{aid}/actions/publish", {}, 403)
    err = await sup.call("POST", f"/api/v1/knowledge/{aid}/actions/send_back", {}, 400)
    assert err["error"]["field"] == "reason"
    done = await sup.call("POST", f"/api/v1/knowledge/{aid}/actions/publish", {})
    assert done["published_version"] == 1
    found = await agent.call("GET", "/api/v1/knowledge?q=" + "占道经营多久处理")
    assert [i["id"] for i in found["items"]] == [aid] and found["items"][0]["expired"] is False
    quick = await agent.call("GET", "/api/v1/knowledge/quick?q=&category=complaint.street_vendor")
    assert [i["id"] for i in quick["items"]] == [aid]

    # a revision waits for review while agents keep the published text
    rev = await cg.call("PATCH", f"/api/v1/knowledge/{aid}", {"body": "新规：1个工作日内核查。"})
    assert (rev["latest_version"], rev["status"]) == (2, "draft")
    await cg.call("PATCH", f"/api/v1/knowledge/{aid}", {"title": "x", "version": 1}, 409)
    await cg.call("POST", f"/api/v1/knowledge/{aid}/actions/submit", {})
    seen = await agent.call("GET", f"/api/v1/knowledge/{aid}")
    assert seen["version"]["version"] == 1 and "2个工作日" in seen["version"]["body"]
    # agents cannot publish it either
    await agent.call("POST", f"/api/v1/knowledge/{aid}/actions/publish", {}, 403)
    await sup.call("POST", f"/api/v1/knowledge/{aid}/actions/publish", {})
    assert (await agent.call("GET", f"/api/v1/knowledge/{aid}"))["version"]["version"] == 2


async def test_a_department_cannot_touch_another_departments_articles(login: Any) -> None:
    art = await _published(login)
    eco, cg_jinniu, agent = await login("eco"), await login("cg_jinniu"), await login("agent")
    aid = art["id"]
    for who in (eco, cg_jinniu, agent):
        await who.call("PATCH", f"/api/v1/knowledge/{aid}", {"title": "改"}, 403)
        await who.call("POST", f"/api/v1/knowledge/{aid}/actions/withdraw", {"reason": "x"}, 403)
    await eco.call("POST", "/api/v1/knowledge", {**ARTICLE, "department": "chengguan"}, 403)
    await agent.call("POST", "/api/v1/knowledge", ARTICLE, 403)
    # eco's own draft stays invisible to chengguan
    own = await eco.call("POST", "/api/v1/knowledge", {**ARTICLE, "title": "环保"}, 201)
    cg = await login("cg")
    await cg.call("GET", f"/api/v1/knowledge/{own['id']}", status=404)
    assert (await cg.call("GET", "/api/v1/knowledge?status=draft"))["total"] == 0
    assert (await eco.call("GET", "/api/v1/knowledge?status=draft"))["total"] == 1


async def test_bad_input_names_the_field(login: Any) -> None:
    cg = await login("cg")
    for body, field in (
        ({**ARTICLE, "title": ""}, "title"),
        ({**ARTICLE, "expires_on": "明年"}, "expires_on"),
        ({**ARTICLE, "category": "nope"}, "category"),
        ({**ARTICLE, "submit": "yes"}, "submit"),
    ):
        err = await cg.call("POST", "/api/v1/knowledge", body, 400)
        assert err["error"]["field"] == field, err
    resp = await cg.client.post("/api/v1/knowledge", data=b"{", headers={"X-CSRF-Token": cg.csrf})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    err = await cg.call("GET", "/api/v1/knowledge?limit=many", status=400)
    assert err["error"]["field"] == "limit"
    await cg.call("POST", "/api/v1/knowledge/1/actions/delete", {}, 400)
    await cg.call("GET", "/api/v1/knowledge/abc", status=404)
    # without the CSRF token nothing changes
    resp = await cg.client.post("/api/v1/knowledge", json=ARTICLE)
    assert resp.status == 403
    assert (await cg.call("GET", "/api/v1/knowledge"))["total"] == 0


async def test_an_agent_cites_the_answer_on_the_ticket(center: Center, login: Any) -> None:
    art = await _published(login)
    accepted = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id=f"call-{uuid.uuid4()}",
            citizen=CitizenIdentity(phone="13800138000"),
            text="楼下占道经营多久能处理？",
            received_at=datetime.now(UTC),
        )
    )
    number = accepted.ticket_number
    agent, cg = await login("agent"), await login("cg")
    body = {"ticket": number, "version": 1}
    await cg.call("POST", f"/api/v1/knowledge/{art['id']}/cite", body, 403)
    await agent.call("POST", f"/api/v1/knowledge/{art['id']}/cite", {"ticket": number}, 400)
    await agent.call("POST", f"/api/v1/knowledge/{art['id']}/cite", {**body, "version": 9}, 404)
    await agent.call("POST", f"/api/v1/knowledge/{art['id']}/cite", {**body, "ticket": "x"}, 404)
    cited = await agent.call("POST", f"/api/v1/knowledge/{art['id']}/cite", body, 201)
    assert cited["title"] == ARTICLE["title"]
    await agent.call(
        "POST", f"/api/v1/tickets/{number}/actions/resolve_on_spot", {"result": ARTICLE["body"]}
    )
    ticket = await agent.call("GET", f"/api/v1/tickets/{number}")
    actions = [e["action"] for e in ticket["timeline"]]
    assert actions[-2:] == ["knowledge_answer", "resolve_on_spot"]
    entry = ticket["timeline"][-2]
    assert entry["payload"]["article_id"] == art["id"] and entry["payload"]["version"] == 1
    page = await agent.client.get(f"/tickets/{number}")
    assert f"/knowledge/{art['id']}?v=1" in await page.text()


async def test_pages_by_role(login: Any) -> None:
    art = await _published(login)
    expected = {
        # login: (/knowledge, /knowledge/new, /knowledge/review, article)
        "agent": (200, 403, 403, 200),
        "sup": (200, 403, 200, 200),
        "admin": (200, 403, 200, 200),
        "cg": (200, 200, 403, 200),
        "eco": (200, 200, 403, 200),
        "police": (200, 403, 403, 200),
    }
    for username, statuses in expected.items():
        who = await login(username)
        got = []
        for path in (
            "/knowledge",
            "/knowledge/new",
            "/knowledge/review",
            f"/knowledge/{art['id']}",
        ):
            resp = await who.client.get(path, allow_redirects=False)
            got.append(resp.status)
        assert tuple(got) == statuses, (username, got)
    html = await (await (await login("agent")).client.get("/knowledge?q=占道经营")).text()
    assert ARTICLE["title"] in html and "kb-expired" not in html


async def test_the_editor_keeps_what_was_typed_when_a_field_is_refused(login: Any) -> None:
    cg = await login("cg")
    form = {
        "csrf_token": cg.csrf,
        "title": "燃气开户",
        "body": "携带房产证到燃气公司营业厅办理开户。",
        "category": "",
        "keywords": "燃气",
        "expires_on": "2020-01-01",
        "submit": "1",
    }
    resp = await cg.client.post("/knowledge/new", data=form, allow_redirects=False)
    html = await resp.text()
    assert resp.status == 400 and "expires_on" in html
    assert "携带房产证到燃气公司营业厅办理开户。" in html and 'value="燃气开户"' in html
    resp = await cg.client.post(
        "/knowledge/new", data={**form, "expires_on": "2027-01-01"}, allow_redirects=False
    )
    assert resp.status == 302
    aid = resp.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    art = await cg.call("GET", f"/api/v1/knowledge/{aid}")
    assert art["status"] == "in_review" and art["version"]["keywords"] == ["燃气"]


async def test_every_knowledge_route_is_described(
    center: Center, anon: TestClient[Any, Any]
) -> None:
    spec = await (await anon.get("/api/openapi.json")).json()
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = {
        (info.get("path") or info.get("formatter") or "", route.method)
        for route in center.app.router.routes()
        if route.resource and route.method != "HEAD"
        for info in [route.resource.get_info()]
    }
    mine = {(p, m) for p, m in served if p.startswith("/api/v1/knowledge")}
    assert len(mine) == 8 and mine <= described
