"""The HTTP API over a real server on loopback: lifecycle, errors, privacy, inbound channel."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hotline.bootstrap import Center


async def _new_ticket(agent: Any, **extra: Any) -> dict[str, Any]:
    body = {
        "citizen": {"name": "王芳", "phone": "13800138000"},
        "text": "小区门口占道经营,早高峰堵塞",
        "category": "complaint.street_vendor",
        "district": "jinniu",
        **extra,
    }
    data = await agent.call("POST", "/api/v1/tickets", body, status=201)
    return dict(data["ticket"])


async def test_whole_loop_over_the_api(center: Center, login: Any) -> None:
    agent, sup, cg = await login("agent"), await login("sup"), await login("cg")
    t = await _new_ticket(agent)
    n = t["number"]
    assert t["state"] == "received" and t["citizen"]["phone"] == "13800138000"
    t = await agent.call(
        "POST",
        f"/api/v1/tickets/{n}/actions/dispatch",
        {"department": "chengguan", "co_departments": ["eco"]},
    )
    assert t["state"] == "dispatched" and t["lead_department"] == "chengguan"
    assert t["co_departments"] == ["eco"]
    assert t["due_at"] and t["sign_due_at"]
    # the department sees it, masked
    seen = await cg.call("GET", f"/api/v1/tickets/{n}")
    assert seen["citizen"]["phone"] == "138****8000" and seen["citizen"]["name"] == "王*"
    assert seen["citizen"]["masked"] is True
    t = await cg.call("POST", f"/api/v1/tickets/{n}/actions/sign")
    assert t["state"] == "handling"
    t = await cg.call(
        "POST",
        f"/api/v1/tickets/{n}/actions/request_extension",
        {"days": 3, "reason": "需现场核查"},
    )
    assert t["extension_pending_days"] == 3
    center.tickets.clock.advance(hours=2)  # type: ignore[attr-defined]
    due_before = t["due_at"]
    t = await sup.call("POST", f"/api/v1/tickets/{n}/actions/approve_extension")
    assert t["extension_pending_days"] is None and t["due_at"] > due_before
    t = await cg.call(
        "POST", f"/api/v1/tickets/{n}/actions/submit_result", {"result": "已清理摊点"}
    )
    assert t["state"] == "result_submitted"
    t = await agent.call("POST", f"/api/v1/tickets/{n}/actions/inform_citizen")
    t = await agent.call(
        "POST", f"/api/v1/tickets/{n}/actions/record_rating", {"rating": "satisfied"}
    )
    assert t["state"] == "closed" and t["rating"] == "satisfied"
    actions = [e["action"] for e in t["timeline"]]
    assert actions == [
        "accept",
        "dispatch",
        "sign",
        "request_extension",
        "approve_extension",
        "submit_result",
        "inform_citizen",
        "record_rating",
    ]
    assert all(e["at"].endswith("+00:00") for e in t["timeline"])


async def test_return_dispute_and_pass_on_are_on_the_timeline(login: Any) -> None:
    agent, sup, cg, sub = (
        await login("agent"),
        await login("sup"),
        await login("cg"),
        await login("cg_jinniu"),
    )
    n = (await _new_ticket(agent))["number"]
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "eco"})
    eco = await login("eco")
    await eco.call(
        "POST",
        f"/api/v1/tickets/{n}/actions/return",
        {"reason_code": "not_our_jurisdiction", "reason": "属城管职责"},
    )
    await sup.call("POST", f"/api/v1/tickets/{n}/actions/accept_return")
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "chengguan"})
    await cg.call("POST", f"/api/v1/tickets/{n}/actions/sign")
    t = await cg.call(
        "POST", f"/api/v1/tickets/{n}/actions/pass_on", {"department": "chengguan.jinniu"}
    )
    assert t["state"] == "dispatched" and t["lead_department"] == "chengguan.jinniu"
    t = await sub.call("POST", f"/api/v1/tickets/{n}/actions/sign")
    hops = [(d["hop"], d["department"]) for d in t["dispatches"]]
    assert hops == [(1, "eco"), (2, "chengguan"), (3, "chengguan.jinniu")]
    assert t["dispatches"][0]["return_reason"] == "not_our_jurisdiction"
    # passing on to someone else's unit is refused
    other = (await _new_ticket(agent, text="另一件事", category="complaint.noise"))["number"]
    await agent.call(
        "POST", f"/api/v1/tickets/{other}/actions/dispatch", {"department": "chengguan"}
    )
    await cg.call("POST", f"/api/v1/tickets/{other}/actions/sign")
    err = await cg.call(
        "POST", f"/api/v1/tickets/{other}/actions/pass_on", {"department": "eco"}, status=400
    )
    assert err["error"]["code"] == "invalid_field" and err["error"]["field"] == "department"


async def test_departments_see_only_their_orders(login: Any) -> None:
    agent, cg, eco, police = (
        await login("agent"),
        await login("cg"),
        await login("eco"),
        await login("police"),
    )
    n = (await _new_ticket(agent))["number"]
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "chengguan"})
    assert (await cg.call("GET", "/api/v1/tickets"))["total"] == 1
    assert (await eco.call("GET", "/api/v1/tickets"))["total"] == 0
    err = await eco.call("GET", f"/api/v1/tickets/{n}", status=404)
    assert err["error"]["code"] == "ticket_not_found"
    await eco.call("POST", f"/api/v1/tickets/{n}/actions/sign", status=404)
    assert (await police.call("GET", "/api/v1/tickets"))["total"] == 0


async def test_transfer_to_110_and_hand_back(login: Any) -> None:
    agent, police = await login("agent"), await login("police")
    n = (await _new_ticket(agent, text="有人在小区门口打架", category="help.emergency"))["number"]
    t = await agent.call("POST", f"/api/v1/tickets/{n}/actions/transfer_110")
    assert t["state"] == "with_police" and t["lead_department"] == "police"
    seen = await police.call("GET", f"/api/v1/tickets/{n}")
    assert seen["description"] == "有人在小区门口打架" and seen["citizen"]["masked"]
    await police.call("POST", f"/api/v1/tickets/{n}/actions/police_acknowledge")
    t = await police.call(
        "POST", f"/api/v1/tickets/{n}/actions/police_hand_back", {"reason": "非警务事项"}
    )
    assert t["state"] == "received" and t["handed_on"]
    await police.call("GET", f"/api/v1/tickets/{n}", status=404)  # back with 12345


async def test_errors_are_clear(login: Any, anon: TestClient[Any, Any]) -> None:
    agent, cg = await login("agent"), await login("cg")
    err = await agent.call("GET", "/api/v1/tickets/20990101-000001", status=404)
    assert err["error"]["code"] == "ticket_not_found"
    assert "20990101-000001" in err["error"]["message"] and err["error"]["message_en"]
    n = (await _new_ticket(agent))["number"]
    err = await agent.call("POST", f"/api/v1/tickets/{n}/actions/inform_citizen", status=409)
    assert err["error"]["code"] == "invalid_transition"
    err = await cg.call("POST", "/api/v1/tickets", {"text": "x"}, status=403)
    assert err["error"]["code"] == "forbidden"
    err = await agent.call("POST", f"/api/v1/tickets/{n}/actions/teleport", status=400)
    assert err["error"]["field"] == "action"
    err = await agent.call(
        "POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "nowhere"}, status=400
    )
    assert err["error"]["field"] == "department"
    err = await agent.call("PATCH", f"/api/v1/tickets/{n}", {"urgency": "very"}, status=400)
    assert err["error"]["field"] == "urgency"
    err = await agent.call(
        "POST", "/api/v1/tickets", {"text": "x", "received_at": "yesterday"}, status=400
    )
    assert err["error"]["field"] == "received_at"
    resp = await agent.client.post(
        "/api/v1/tickets",
        data=b"{not json",
        headers={"X-CSRF-Token": agent.csrf, "Content-Type": "application/json"},
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    resp = await agent.client.post(
        "/api/v1/tickets", data=b"x" * (65 * 1024), headers={"X-CSRF-Token": agent.csrf}
    )
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"
    # no CSRF token, no change
    resp = await agent.client.post(
        f"/api/v1/tickets/{n}/actions/dispatch", json={"department": "eco"}
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "csrf"
    resp = await anon.get("/api/v1/tickets")
    assert resp.status == 401
    resp = await anon.post(
        "/api/v1/session", json={"username": "agent", "password": "wrong password"}
    )
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "bad_credentials"
    err = await cg.call("POST", f"/api/v1/tickets/{n}/unmask", {"reason": "xxxx"}, status=404)
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "chengguan"})
    err = await agent.call("POST", f"/api/v1/tickets/{n}/actions/sign", status=403)
    assert err["error"]["code"] == "role_not_allowed"


async def test_unmask_is_audited(login: Any) -> None:
    agent, cg, sup = await login("agent"), await login("cg"), await login("sup")
    n = (await _new_ticket(agent))["number"]
    await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "chengguan"})
    err = await cg.call("POST", f"/api/v1/tickets/{n}/unmask", {"reason": ""}, status=400)
    assert err["error"]["field"] == "reason"
    data = await cg.call("POST", f"/api/v1/tickets/{n}/unmask", {"reason": "需电话联系核实地址"})
    assert data["citizen"]["phone"] == "13800138000"
    log = await sup.call("GET", "/api/v1/audit")
    assert log[0]["username"] == "cg" and log[0]["action"] == "unmask"
    assert log[0]["reason"] == "需电话联系核实地址"
    await cg.call("GET", "/api/v1/audit", status=403)


async def test_confidential_ticket_is_masked_for_other_agents(login: Any) -> None:
    agent, agent2, sup = await login("agent"), await login("agent2"), await login("sup")
    n = (await _new_ticket(agent, confidential=True))["number"]
    assert (await agent.call("GET", f"/api/v1/tickets/{n}"))["citizen"]["masked"] is False
    assert (await agent2.call("GET", f"/api/v1/tickets/{n}"))["citizen"]["masked"] is True
    assert (await sup.call("GET", f"/api/v1/tickets/{n}"))["citizen"]["masked"] is False


async def test_inbound_contacts_endpoint_is_idempotent(
    center: Center, anon: TestClient[Any, Any]
) -> None:
    key = await center.accounts.add_api_key("province")
    body = {
        "channel": "province",
        "external_id": "SD-2026-0001",
        "citizen": {"phone": "+86 139 0000 1111", "name": "李雷"},
        "text": "反映供暖不热",
        "received_at": "2026-11-23T09:58:00+08:00",
    }
    auth = {"Authorization": f"Bearer {key}"}
    first = await anon.post("/api/v1/contacts", json=body, headers=auth)
    assert first.status == 201
    number = (await first.json())["ticket_number"]
    again = await anon.post("/api/v1/contacts", json=body, headers=auth)
    assert again.status == 200
    assert (await again.json())["ticket_number"] == number and (await again.json())["duplicate"]
    bad = await anon.post("/api/v1/contacts", json=body, headers={"Authorization": "Bearer nope"})
    assert bad.status == 401
    missing = await anon.post("/api/v1/contacts", json={**body, "external_id": None}, headers=auth)
    assert missing.status == 400 and (await missing.json())["error"]["field"] == "external_id"
    wrong = await anon.post("/api/v1/contacts", json={**body, "channel": "pigeon"}, headers=auth)
    assert (await wrong.json())["error"]["field"] == "channel"


async def test_anti_forgery_code_verifies(login: Any, anon: TestClient[Any, Any]) -> None:
    agent = await login("agent")
    n = (await _new_ticket(agent))["number"]
    t = await agent.call(
        "POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "chengguan"}
    )
    code = t["dispatches"][0]["code"]
    ok = await (await anon.get("/api/v1/verify", params={"number": n, "code": code.lower()})).json()
    assert (
        ok["valid"]
        and ok["dispatch"]["department"] == "chengguan"
        and "citizen" not in ok["dispatch"]
    )
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    bad = await (await anon.get("/api/v1/verify", params={"number": n, "code": forged})).json()
    assert bad["valid"] is False


async def test_merge_keeps_both_timelines_and_split_makes_a_new_ticket(login: Any) -> None:
    agent = await login("agent")
    a = (await _new_ticket(agent))["number"]
    b = (await _new_ticket(agent, text="同一件事,又打来", citizen={"phone": "13900000000"}))[
        "number"
    ]
    assert a != b
    t = await agent.call(
        "POST", f"/api/v1/tickets/{b}/actions/merge", {"into": a, "reason": "重复诉求"}
    )
    assert t["state"] == "merged"
    target = await agent.call("GET", f"/api/v1/tickets/{a}")
    assert len(target["contacts"]) == 2
    assert [e["action"] for e in target["timeline"]] == ["accept", "accept", "merge_in"]
    split = await agent.call(
        "POST",
        f"/api/v1/tickets/{a}/split",
        {"contact_ids": [target["contacts"][1]["id"]], "reason": "其实是另一件事"},
        status=201,
    )
    assert split["number"] not in (a, b) and len(split["contacts"]) == 1
    after = await agent.call("GET", f"/api/v1/tickets/{a}")
    assert len(after["contacts"]) == 1 and after["timeline"][-1]["action"] == "split_out"


async def test_holiday_notice_recomputes_provisional_deadlines(center: Center, login: Any) -> None:
    from datetime import UTC, datetime

    center.tickets.clock.now = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    agent, admin = await login("agent"), await login("admin")
    n = (await _new_ticket(agent, category="complaint.property"))["number"]  # complex: 15 days
    t = await agent.call("POST", f"/api/v1/tickets/{n}/actions/dispatch", {"department": "housing"})
    assert t["deadline_provisional"] is True
    before = t["due_at"]
    notice = await admin.call("GET", "/api/v1/calendar")
    assert notice == {"years": [2027], "provisional_tickets": 1}
    new_year = {"is_workday": False, "name": "元旦"}
    res = await admin.call("PUT", "/api/v1/calendar/2027-01-01", new_year)
    assert res["recomputed"] == [n]
    t = await agent.call("GET", f"/api/v1/tickets/{n}")
    assert t["deadline_provisional"] is False and t["due_at"] == before
    bridge = {"is_workday": False, "name": "元旦调休"}
    res = await admin.call("PUT", "/api/v1/calendar/2027-01-04", bridge)
    assert res["recomputed"] == [n]
    t = await agent.call("GET", f"/api/v1/tickets/{n}")
    assert t["due_at"] == "2027-01-12T16:00:00+00:00" > before
    assert (await admin.call("GET", "/api/v1/calendar"))["provisional_tickets"] == 0
    assert t["timeline"][-1]["action"] == "deadline_recomputed"


async def test_health_and_openapi(anon: TestClient[Any, Any]) -> None:
    assert (await (await anon.get("/healthz")).json())["status"] == "ok"
    assert (await (await anon.get("/readyz")).json())["status"] == "ready"
    spec = await (await anon.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/tickets/{number}/actions/{action}" in spec["paths"]
    assert "/api/v1/contacts" in spec["paths"]


async def test_telephony_off_is_said_plainly(login: Any) -> None:
    agent = await login("agent")
    status = await agent.call("GET", "/api/v1/telephony")
    assert status["enabled"] is False and status["lines"] == []
    err = await agent.call("POST", "/api/v1/calls/transfer", {"line": "110"}, status=503)
    assert err["error"]["code"] == "telephony_off"
    police = await login("police")
    await police.call("POST", "/api/v1/calls/hangup", status=403)


async def test_agent_links_a_wechat_citizens_phone(center: Center, login: Any) -> None:
    from datetime import UTC, datetime

    from tickets.model import Channel, CitizenIdentity, InboundContact

    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.WECHAT,
            external_id="wx-link",
            citizen=CitizenIdentity(wechat_openid="oWx_link"),
            text="路灯不亮",
            received_at=datetime.now(UTC),
        )
    )
    agent, cg = await login("agent"), await login("cg")
    n = r.ticket_number
    err = await agent.call("POST", f"/api/v1/tickets/{n}/link_phone", {"phone": "12"}, status=400)
    assert err["error"]["field"] == "phone"
    t = await agent.call("POST", f"/api/v1/tickets/{n}/link_phone", {"phone": "139 1234 5678"})
    assert t["citizen"]["phone"] == "13912345678"
    assert t["timeline"][-1]["action"] == "link_phone"
    assert t["timeline"][-1]["payload"]["phone"] == "139****5678"
    await cg.call("POST", f"/api/v1/tickets/{n}/link_phone", {"phone": "13912345678"}, status=403)
    # the next call from that number pops the WeChat citizen's ticket on the agent's screen
    assert center.calls is not None
    history = await center.calls.history("13912345678")
    assert [h["number"] for h in history] == [n]


async def test_pending_messages_to_the_citizen_show_on_the_ticket_page(
    center: Center, login: Any
) -> None:
    from datetime import UTC, datetime

    from tickets.bus import InProcessBus
    from tickets.model import Channel, CitizenIdentity, InboundContact

    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.WECHAT,
            external_id="wx-pending",
            citizen=CitizenIdentity(wechat_openid="oWx_pending"),
            text="噪声扰民",
            received_at=datetime.now(UTC),
        )
    )
    assert isinstance(center.bus, InProcessBus)
    await center.bus.drain()
    agent = await login("agent")
    page = await (await agent.client.get(f"/tickets/{r.ticket_number}")).text()
    assert "告知市民" in page and "待发送" in page and "受理回执" in page
