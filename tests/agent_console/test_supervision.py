"""Supervision from the wallboard: the lists, 督办 with a new deadline, 改派, and the live
escalation of an order nobody signed in time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from agent_console.supervision_api import classify
from hotline.bootstrap import Center
from router.deadlines import DeadlineWatcher
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

SUP = Viewer("sup", Role.SUPERVISOR)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def _order(center: Center, department: str, key: str) -> str:
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id=f"sup-{key}",
            citizen=CitizenIdentity(phone=f"1390000{ord(key):04d}"),
            text="夜间施工噪声扰民",
            received_at=datetime.now(UTC),
            category="complaint.street_vendor",
            district="jinniu",
        )
    )
    await center.tickets.act(
        r.ticket_number, SUP, Action.DISPATCH, payload={"department": department}
    )
    return r.ticket_number


def _iso(at: datetime) -> str:
    return at.isoformat()


def test_classify_orders_by_what_is_late() -> None:
    def order(n: str, state: str, sign: int, warn: int, due: int) -> dict[str, Any]:
        return {
            "number": n,
            "state": state,
            "subject": "",
            "category_name": "",
            "urgency": "normal",
            "lead_department": "x",
            "lead_department_name": "X",
            "sign_due_at": _iso(NOW + timedelta(hours=sign)),
            "warn_at": _iso(NOW + timedelta(hours=warn)),
            "due_at": _iso(NOW + timedelta(hours=due)),
        }

    got = classify(
        [
            order("fine", "handling", -9, 5, 10),
            order("unsigned", "dispatched", -1, 5, 10),
            order("nearly", "handling", -9, -1, 10),
            order("late", "handling", -9, -5, -1),
            order("later", "dispatched", -9, -5, -3),
            order("signed-late-but-signed", "handling", -1, 5, 10),
        ],
        NOW,
    )
    assert [i["number"] for i in got["overdue"]] == ["later", "late"]
    assert [(i["number"], i["kind"]) for i in got["warnings"]] == [
        ("unsigned", "sign_overdue"),
        ("nearly", "due_warning"),
    ]


async def test_only_supervisors(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "a")
    for name in ("agent", "cg", "police", "admin"):
        api = await login(name)
        await api.call("GET", "/api/v1/supervision", status=403)
        await api.call("POST", f"/api/v1/supervision/{n}/supervise", {"note": "x"}, status=403)
        await api.call("POST", f"/api/v1/supervision/{n}/reassign", {"department": "eco"}, 403)


async def test_lists_follow_the_clock(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "b")
    sup = await login("sup")
    board = await sup.call("GET", "/api/v1/supervision")
    assert board["overdue"] == [] and board["warnings"] == []
    assert {"code": "eco", "name": "市生态环境局"} in board["departments"] or any(
        d["code"] == "eco" for d in board["departments"]
    )
    t = await center.tickets.view(n, SUP)
    clock = center.tickets.clock
    clock.now = datetime.fromisoformat(t["sign_due_at"]) + timedelta(minutes=1)  # type: ignore[attr-defined]
    sup = await login("sup")  # days later: a new shift, a new session
    board = await sup.call("GET", "/api/v1/supervision")
    assert [(i["number"], i["kind"]) for i in board["warnings"]] == [(n, "sign_overdue")]
    clock.now = datetime.fromisoformat(t["due_at"]) + timedelta(minutes=1)  # type: ignore[attr-defined]
    sup = await login("sup")
    board = await sup.call("GET", "/api/v1/supervision")
    assert [i["number"] for i in board["overdue"]] == [n] and board["warnings"] == []


async def test_supervise_with_a_note_and_a_new_deadline(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "c")
    sup = await login("sup")
    path = f"/api/v1/supervision/{n}/supervise"
    err = await sup.call("POST", path, {"note": " "}, status=400)
    assert err["error"]["field"] == "note"
    for bad in ("next week", "2026-11-01"):
        err = await sup.call("POST", path, {"note": "请加快办理", "due_date": bad}, status=400)
        assert err["error"]["field"] == "due_date", bad
    t = await sup.call("POST", path, {"note": "请加快办理", "due_date": "2026-11-27"})
    assert t["state"] == "dispatched"
    assert t["due_at"] == "2026-11-27T16:00:00+00:00"  # 24:00 Beijing time that day
    last = t["timeline"][-1]
    assert last["action"] == "supervise" and last["reason"] == "请加快办理"
    t = await sup.call("POST", path, {"note": "再次督办"})
    assert t["due_at"] == "2026-11-27T16:00:00+00:00"  # a note alone keeps the deadline


async def test_reassign_moves_the_order_to_another_unit(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "d")
    sup, cg, eco = await login("sup"), await login("cg"), await login("eco")
    await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {})
    path = f"/api/v1/supervision/{n}/reassign"
    for bad in ({}, {"department": "nowhere"}, {"department": "chengguan"}):
        err = await sup.call("POST", path, bad, status=400)
        assert err["error"]["field"] == "department", bad
    t = await sup.call("POST", path, {"department": "eco"})
    assert t["state"] == "dispatched" and t["lead_department"] == "eco"
    assert [d["department"] for d in t["dispatches"]] == ["chengguan", "eco"]
    err = await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {}, status=404)
    assert err["error"]["code"] == "ticket_not_found"  # no longer chengguan's to see
    assert n not in await (await cg.client.get("/portal?tab=handling")).text()
    assert (await eco.call("POST", f"/api/v1/portal/orders/{n}/sign", {}))["state"] == "handling"


async def test_a_sign_deadline_passing_alerts_the_supervisors_live(
    center: Center, login: Any
) -> None:
    n = await _order(center, "chengguan", "e")
    other = await _order(center, "eco", "f")
    t = await center.tickets.view(n, SUP)
    sup, cg = await login("sup"), await login("cg")
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for api in (sup, cg):
        ws = await api.client.ws_connect("/ws")
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
        sockets.append(ws)
    center.tickets.clock.now = datetime.fromisoformat(t["sign_due_at"]) + timedelta(seconds=5)  # type: ignore[attr-defined]
    given = await DeadlineWatcher(center.tickets, center.tickets.clock).run_once()
    assert {(w.ticket_number, w.kind) for w in given} == {
        (n, "sign_overdue"),
        (other, "sign_overdue"),
    }

    async def warnings(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
        await ws.send_str("ping")
        out: list[dict[str, Any]] = []
        while True:
            msg = await ws.receive(timeout=5)
            assert msg.type is WSMsgType.TEXT
            data = json.loads(msg.data)
            if data["type"] == "pong":
                return out
            if data["type"] == "deadline_warning":
                out.append(data)

    to_sup = await warnings(sockets[0])
    assert {(m["number"], m["kind"]) for m in to_sup} == {
        (n, "sign_overdue"),
        (other, "sign_overdue"),
    }
    to_cg = await warnings(sockets[1])
    assert [m["number"] for m in to_cg] == [n]  # a unit hears only of its own orders
    for ws in sockets:
        await ws.close()


async def test_an_open_ticket_moves_to_another_agent(center: Center, login: Any) -> None:
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id="sup-agent",
            citizen=CitizenIdentity(name="刘女士", phone="13600136000"),
            text="举报某小区物业乱收费,要求保密",
            received_at=datetime.now(UTC),
            confidential=True,
            extra={"agent": "agent"},
        )
    )
    n = r.ticket_number
    await center.tickets.act(n, Viewer("agent", Role.AGENT), Action.SUBMIT_REVIEW)
    sup, agent, agent2 = await login("sup"), await login("agent"), await login("agent2")
    assert (await agent2.call("GET", f"/api/v1/tickets/{n}"))["citizen"]["masked"] is True
    board = await sup.call("GET", "/api/v1/supervision")
    assert [(i["number"], i["agent"]) for i in board["awaiting"]] == [(n, "agent")]
    assert {a["username"] for a in board["agents"]} == {"agent", "agent2"}
    path = f"/api/v1/supervision/{n}/assign"
    for bad in ({}, {"agent": " "}, {"agent": "nobody"}, {"agent": "cg"}, {"agent": "agent"}):
        err = await sup.call("POST", path, bad, status=400)
        assert err["error"]["field"] == "agent", bad
    await agent.call("POST", path, {"agent": "agent2"}, status=403)
    t = await sup.call("POST", path, {"agent": "agent2"})
    assert t["accepted_by"] == "agent2" and t["state"] == "pending_review"
    last = t["timeline"][-1]
    assert last["action"] == "reassign_agent" and last["actor"] == "sup"
    assert last["payload"] == {"agent": "agent2", "from_agent": "agent"}
    # The new agent is now a handler of the confidential ticket and sees who called.
    assert (await agent2.call("GET", f"/api/v1/tickets/{n}"))["citizen"]["phone"] == "13600136000"
    await center.tickets.act(n, SUP, Action.CANCEL, reason="重复诉求")
    err = await sup.call("POST", path, {"agent": "agent"}, status=409)
    assert err["error"]["code"] == "conflict"
