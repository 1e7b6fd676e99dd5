"""The websocket hub: who receives which event, refusals, back-pressure and shutdown."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from agent_console.push import Client, Hub, hub_of
from hotline.bootstrap import Center
from tickets.events import CallAnswered, CallerHistory, CallOffered, TransferOutcome
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

WS = aiohttp.ClientWebSocketResponse


async def _socket(login: Any, username: str) -> WS:
    api = await login(username)
    ws: WS = await api.client.ws_connect("/ws")
    hello = json.loads((await ws.receive(timeout=5)).data)
    assert hello == {"type": "hello", "username": username, "role": hello["role"]}
    return ws


async def _drain(ws: WS, *, skip: tuple[str, ...] = ("wallboard",)) -> list[dict[str, Any]]:
    """Everything queued for this socket before a ping we send now (FIFO: a barrier)."""
    await ws.send_str("ping")
    got: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == "pong":
            return got
        if data["type"] not in skip:
            got.append(data)


def _types(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in messages]


async def _ticket(center: Center, text: str = "井盖丢失,夜里有人掉下去") -> str:
    result = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id=f"push-{text}",
            citizen=CitizenIdentity(name="王芳", phone="13911112222"),
            text=text,
            received_at=center.tickets.clock(),
            category="complaint.street_vendor",
            district="jinniu",
        )
    )
    return result.ticket_number


async def test_unauthenticated_and_cross_site_sockets_are_refused(
    anon: TestClient[Any, Any], login: Any
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_cookie:
        await anon.ws_connect("/ws")
    assert no_cookie.value.status == 401
    anon.session.cookie_jar.update_cookies({"hl_session": "forged-token"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as forged:
        await anon.ws_connect("/ws")
    assert forged.value.status == 401
    api = await login("agent")
    with pytest.raises(aiohttp.WSServerHandshakeError) as elsewhere:
        await api.client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    assert elsewhere.value.status == 403


async def test_an_agent_gets_only_their_own_screen_pops(center: Center, login: Any) -> None:
    agent, agent2, sup, cg, police = [
        await _socket(login, u) for u in ("agent", "agent2", "sup", "cg", "police")
    ]
    try:
        history = ({"number": "20261120-000001", "state": "handling", "rating": None},)
        await center.bus.publish(
            CallOffered(AT, "c1", "13911112222", "12345", "hotline", "PJSIP/8001", "agent", None)
        )
        await center.bus.publish(CallerHistory(AT, "c1", "PJSIP/8001", "agent", history))
        await center.bus.publish(CallAnswered(AT, "c1", "PJSIP/8001", "agent", "20261123-000001"))
        await center.bus.publish(
            TransferOutcome(AT, "c1", "110", False, "BUSY", "20261123-000001", "agent")
        )
        await center.bus.publish(
            CallOffered(AT, "c2", "13800138000", "12345", "hotline", "PJSIP/8002", "agent2", ())
        )
        mine = await _drain(agent)
        assert _types(mine) == [
            "call_offered",
            "caller_history",
            "call_answered",
            "transfer_outcome",
        ]
        assert mine[0]["caller"] == "13911112222" and mine[0]["history"] is None
        assert mine[1]["history"] == list(history)
        assert mine[3] == {**mine[3], "ok": False, "reason": "BUSY", "line": "110"}
        other = await _drain(agent2)
        assert [(m["type"], m["call_id"]) for m in other] == [("call_offered", "c2")]
        assert len(_types(await _drain(sup))) == 5  # supervisors see the whole floor
        # The pop carries the citizen's number: never for departments or police.
        assert await _drain(cg) == [] and await _drain(police) == []
    finally:
        for ws in (agent, agent2, sup, cg, police):
            await ws.close()


async def test_a_department_never_gets_another_departments_ticket_events(
    center: Center, login: Any
) -> None:
    number = await _ticket(center)
    sockets = {u: await _socket(login, u) for u in ("cg", "cg_jinniu", "eco", "police", "sup")}
    agent = await login("agent")
    try:
        await agent.call(
            "POST", f"/api/v1/tickets/{number}/actions/dispatch", {"department": "chengguan"}
        )
        got = {u: await _drain(ws) for u, ws in sockets.items()}
        (cg,) = got["cg"]
        assert cg["type"] == "ticket_changed" and cg["number"] == number
        assert (cg["action"], cg["to_state"], cg["departments"]) == (
            "dispatch",
            "dispatched",
            ["chengguan"],
        )
        assert "code" not in cg["payload"]  # the anti-forgery code stays on the sheet
        assert got["cg_jinniu"] == [] and got["eco"] == [] and got["police"] == []
        assert _types(got["sup"]) == ["ticket_changed"]
        # Passed on to its own sub-unit: now the sub-unit hears of it, the others still not.
        cg_api = await login("cg")
        await cg_api.call("POST", f"/api/v1/tickets/{number}/actions/sign", {})
        await cg_api.call(
            "POST",
            f"/api/v1/tickets/{number}/actions/pass_on",
            {"department": "chengguan.jinniu"},
        )
        got = {u: await _drain(ws) for u, ws in sockets.items()}
        assert [m["action"] for m in got["cg_jinniu"]] == ["pass_on"]
        assert got["eco"] == [] and got["police"] == []
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_police_gets_the_110_transfer_and_its_hand_back(center: Center, login: Any) -> None:
    number = await _ticket(center, "小区门口有人持刀打架")
    police, eco, agent2 = [await _socket(login, u) for u in ("police", "eco", "agent2")]
    agent = await login("agent")
    try:
        await agent.call("POST", f"/api/v1/tickets/{number}/actions/{Action.TRANSFER_110.value}")
        (arrived,) = await _drain(police)
        assert (arrived["action"], arrived["to_state"]) == ("transfer_110", "with_police")
        assert "13911112222" not in json.dumps(arrived, ensure_ascii=False)
        # The context comes from the API under the police role: masked citizen.
        police_api = await login("police")
        ticket = await police_api.call("GET", f"/api/v1/tickets/{number}")
        assert ticket["citizen"]["phone"] == "139****2222"
        assert await _drain(eco) == [] and await _drain(agent2) == []
        await police_api.call(
            "POST",
            f"/api/v1/tickets/{number}/actions/police_hand_back",
            {"reason": "非警务:占道经营,请城管处理"},
        )
        (back,) = await _drain(police)
        assert (back["action"], back["to_state"]) == ("police_hand_back", "received")
    finally:
        for ws in (police, eco, agent2):
            await ws.close()


async def test_supervisors_get_wallboard_snapshots(center: Center, login: Any) -> None:
    hub = hub_of(center.app)
    hub.wallboard_seconds = 0.2
    sup = await _socket(login, "sup")
    agent = await _socket(login, "agent")
    try:
        async with asyncio.timeout(5):
            while True:
                board = json.loads((await sup.receive()).data)
                if board["type"] == "wallboard" and board["agents_online"] == 1:
                    break
        assert board["waiting"] == 0 and board["today"]["offered"] == 0
        assert set(board["tickets"]) == {
            "pending_review",
            "returned",
            "supervised",
            "with_police",
            "overdue",
        }
        assert "wallboard" not in _types(await _drain(agent, skip=()))
    finally:
        await sup.close()
        await agent.close()


def test_a_slow_browser_is_told_to_resync_instead_of_slowing_the_hub() -> None:
    client = Client(None, "agent", Role.AGENT, frozenset(), "t", asyncio.Queue(3))  # type: ignore[arg-type]
    for n in range(5):
        client.offer(json.dumps({"type": "ticket_changed", "n": n}))
    queued = [json.loads(client.queue.get_nowait()) for _ in range(client.queue.qsize())]
    assert queued[0] == {"type": "resync", "dropped": 3}
    assert [m["n"] for m in queued[1:]] == [4]


async def test_sockets_close_when_the_app_shuts_down(center: Center, login: Any) -> None:
    ws = await _socket(login, "agent")
    hub: Hub = hub_of(center.app)
    await hub.close()
    msg = await ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    await ws.close()
    assert ws.closed
