"""The online desk in a whole center: WeChat messages posted as WeChat signs them, offered
over the agents' websockets, one offer timing out and going to the other agent, the reply
reaching the fake WeChat API exactly once, and the waiting queue surviving a restart."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from agent_console.push import wallboard
from agent_console.web import SERVICES
from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from router import online_routing as routing
from router.online_desk import QUEUE_SHOWN, message_order
from tests.connectors.wechat.conftest import AES_KEY, APP_ID, TOKEN, safe_mode
from tests.fakes.clock import FakeClock
from tests.fakes.wechat_api import WechatApiFake
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.outbox import OutboxWorker

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse 12345"
MSG_IDS = itertools.count(9_100_000)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest_asyncio.fixture
async def wechat_fake() -> AsyncIterator[tuple[WechatApiFake, str]]:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    fake = WechatApiFake(app_id=APP_ID)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def _center(data_dir: Path, base: str, secret: str, clock: FakeClock) -> Center:
    settings = load_settings(
        data_dir=data_dir,
        wechat={
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "app_id": APP_ID,
            "app_secret": secret,
            "api_base_url": base,
        },
        online={"offer_seconds": 30},
    )
    return build(settings, clock=clock, hasher=PasswordHasher(time_cost=1, memory_cost=1024))


class Floor:
    """A served center with signed-in agents, their sockets, and a WeChat citizen."""

    def __init__(self, center: Center, server: TestServer, clock: FakeClock) -> None:
        self.center = center
        self.server = server
        self.clock = clock
        self.clients: list[TestClient[Any, Any]] = []
        self.csrf: dict[str, str] = {}
        self.http: dict[str, TestClient[Any, Any]] = {}
        self.sockets: dict[str, ClientWebSocketResponse] = {}
        self.msg_ids = MSG_IDS  # WeChat's ids are unique across restarts too

    async def agent(self, username: str, socket: bool = True) -> None:
        client: TestClient[Any, Any] = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        resp = await client.post(
            "/api/v1/session", json={"username": username, "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        self.csrf[username] = (await resp.json())["csrf_token"]
        self.http[username] = client
        if socket:
            await self.open_workspace(username)

    async def open_workspace(self, username: str) -> None:
        ws = await self.http[username].ws_connect("/ws")
        assert (await self.next(ws))["type"] == "hello"
        self.sockets[username] = ws

    async def call(self, username: str, method: str, path: str, body: Any = None) -> Any:
        resp = await self.http[username].request(
            method, path, json=body, headers={"X-CSRF-Token": self.csrf[username]}
        )
        return resp.status, await resp.json()

    async def next(self, ws: ClientWebSocketResponse, kind: str | None = None) -> Any:
        while True:
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type is WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            if kind is None or data["type"] == kind:
                return data

    async def citizen_says(self, openid: str, xml_body: str) -> None:
        stamp = int(self.clock().timestamp())
        plain = (
            f"<xml><ToUserName><![CDATA[gh_12345]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{stamp}</CreateTime>{xml_body}<MsgId>{next(self.msg_ids)}</MsgId></xml>"
        )
        query, body = safe_mode(plain, timestamp=str(stamp))
        async with ClientSession() as http:
            url = str(self.server.make_url("/wechat/callback"))
            async with http.post(url, params=query, data=body) as resp:
                assert (resp.status, await resp.text()) == (200, "success")
        await self.settle()

    async def settle(self) -> None:
        await self.center.bus.drain()  # type: ignore[attr-defined]
        assert self.center.online is not None
        await self.center.online.drain()
        await self.center.bus.drain()  # type: ignore[attr-defined]

    async def close(self) -> None:
        for ws in self.sockets.values():
            await ws.close()
        for c in self.clients:
            await c.close()
        await self.server.close()


async def _floor(center: Center, clock: FakeClock) -> Floor:
    center.app.cleanup_ctx.clear()
    server = TestServer(center.app, host="127.0.0.1")
    await server.start_server()
    return Floor(center, server, clock)


@pytest_asyncio.fixture
async def floor(tmp_path: Path, wechat_fake: tuple[WechatApiFake, str]) -> AsyncIterator[Floor]:
    fake, base = wechat_fake
    clock = FakeClock(NOW)
    center = _center(tmp_path / "data", base, fake.app_secret, clock)
    await center.start()
    await load_reference_data(center.tickets)
    for name in ("zhang", "li"):
        await center.accounts.add_user(name, PASSWORD, Role.AGENT)
    await center.accounts.add_user("sup", PASSWORD, Role.SUPERVISOR)
    f = await _floor(center, clock)
    yield f
    await f.close()
    await center.stop()


TEXT = "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{}]]></Content>"


async def test_offer_times_out_goes_to_the_other_agent_and_the_reply_is_sent_once(
    floor: Floor, wechat_fake: tuple[WechatApiFake, str]
) -> None:
    fake, _ = wechat_fake
    desk = floor.center.online
    assert desk is not None
    await floor.agent("zhang")
    await floor.agent("li")
    # zhang has been ready longest, so zhang gets the first offer.
    assert await floor.call("zhang", "POST", "/api/v1/agent/queue", {"action": "login"}) == (
        200, {"action": "login", "message": ""},
    )  # fmt: skip
    floor.clock.advance(seconds=5)
    await floor.call("li", "POST", "/api/v1/agent/queue", {"action": "login"})

    await floor.citizen_says("oCitizen42", TEXT.format("小区门口夜间施工噪声扰民,能管管吗"))
    offer = await floor.next(floor.sockets["zhang"], "chat_offer")
    assert offer["channel"] == "wechat" and offer["kind"] == "chat"
    assert offer["preview"] == "小区门口夜间施工噪声扰民,能管管吗" and offer["language"] == "zh"
    ticket_id = offer["ticket_id"]
    status, overview = await floor.call("li", "GET", "/api/v1/online")
    assert status == 200 and overview["figures"]["waiting"] == 1 and overview["mine"] == []
    # li may not take what is offered to zhang.
    status, err = await floor.call("li", "POST", f"/api/v1/online/{ticket_id}/accept")
    assert status == 409 and err["error"]["code"] == "online_not_offered"

    # zhang does not answer in 30 s: the offer goes back and on to li.
    floor.clock.advance(seconds=29)
    await desk.tick()
    assert desk.queue[0].offered_to == "zhang"
    floor.clock.advance(seconds=1)
    await desk.tick()
    await floor.settle()
    gone = await floor.next(floor.sockets["zhang"], "chat_offer_gone")
    assert gone == {"type": "chat_offer_gone", "ticket_id": ticket_id, "reason": "timeout"}
    again = await floor.next(floor.sockets["li"], "chat_offer")
    assert again["ticket_id"] == ticket_id

    status, chat = await floor.call("li", "POST", f"/api/v1/online/{ticket_id}/accept")
    assert status == 200, chat
    assert chat["status"] == "taken" and chat["agent"] == "li"
    assert [m["text"] for m in chat["messages"]] == ["小区门口夜间施工噪声扰民,能管管吗"]
    assert desk.presence.agents["li"].state.value == "chatting"
    assert desk.presence.agents["li"].chats == 1
    assert desk.figures(floor.clock())["waiting"] == 0

    # The citizen goes on: a voice message with WeChat's recognition, and a location.
    await floor.citizen_says(
        "oCitizen42",
        "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[media-v1]]></MediaId>"
        "<Format><![CDATA[amr]]></Format><Recognition><![CDATA[就在幸福路12号]]></Recognition>",
    )
    said = await floor.next(floor.sockets["li"], "chat_message")
    assert said["ticket_id"] == ticket_id and said["message"]["text"] == "就在幸福路12号"
    assert said["message"]["attachments"][0]["kind"] == "voice"
    await floor.citizen_says(
        "oCitizen42",
        "<MsgType><![CDATA[location]]></MsgType><Location_X>30.67</Location_X>"
        "<Location_Y>104.06</Location_Y><Scale>15</Scale><Label><![CDATA[幸福路12号]]></Label>",
    )
    where = await floor.next(floor.sockets["li"], "chat_message")
    assert where["message"]["location"] == {
        "latitude": 30.67, "longitude": 104.06, "address": "幸福路12号",
    }  # fmt: skip

    # li answers; a double click sends the same key twice: stored once.
    answer = {"text": "您好,已记录,城管将在今晚核查施工许可。", "key": "k-1"}
    status, reply = await floor.call("li", "POST", f"/api/v1/online/{ticket_id}/reply", answer)
    assert status == 200 and reply["status"] == "pending", reply
    status, twice = await floor.call("li", "POST", f"/api/v1/online/{ticket_id}/reply", answer)
    assert status == 200 and twice["outbox_id"] == reply["outbox_id"]
    # zhang may not answer li's conversation.
    status, err = await floor.call(
        "zhang", "POST", f"/api/v1/online/{ticket_id}/reply", {"text": "x"}
    )
    assert status == 409 and err["error"]["code"] == "online_not_yours"

    worker = OutboxWorker(floor.center.outbox, floor.center.senders)
    await worker.run_once()
    await worker.run_once()
    await floor.settle()
    replies = [
        r for r in fake.delivered()
        if r.body.get("text", {}).get("content") == answer["text"]
    ]  # fmt: skip
    assert len(replies) == 1
    assert replies[0].body["touser"] == "oCitizen42" and replies[0].body["msgtype"] == "text"
    status_news = await floor.next(floor.sockets["li"], "reply_status")
    assert status_news["status"] == "sent" and status_news["id"] == reply["outbox_id"]
    _, chat = await floor.call("li", "GET", f"/api/v1/online/{ticket_id}")
    assert [(m["from"], m.get("status")) for m in chat["messages"]] == [
        ("citizen", None), ("citizen", None), ("citizen", None), ("agent", "sent"),
    ]  # fmt: skip

    # The ticket's timeline tells the conversation.
    number = chat["number"]
    status, ticket = await floor.call("li", "GET", f"/api/v1/tickets/{number}")
    actions = [e["action"] for e in ticket["timeline"]]
    assert "chat_taken" in actions and actions.count("chat_reply") == 1
    note = next(e for e in ticket["timeline"] if e["action"] == "chat_reply")
    assert note["reason"] == answer["text"] and note["actor"] == "li"

    # End: li's slot is free, the conversation is no longer theirs.
    status, _ = await floor.call("li", "POST", f"/api/v1/online/{ticket_id}/end")
    assert status == 200
    assert desk.presence.agents["li"].state.value == "ready"
    status, err = await floor.call("li", "POST", f"/api/v1/online/{ticket_id}/reply", answer)
    assert status == 409


async def test_logging_out_hands_back_and_nobody_over_their_limit(floor: Floor) -> None:
    desk = floor.center.online
    assert desk is not None
    desk.presence.max_chats = 2  # the service level admins set
    await floor.agent("zhang")
    await floor.call("zhang", "POST", "/api/v1/agent/queue", {"action": "login"})
    for i in range(3):
        await floor.citizen_says(f"oCitizen{i}", TEXT.format(f"第{i}个问题"))
    offered = [c for c in desk.queue if c.offered_to == "zhang"]
    assert len(offered) == 2 and len(desk.queue) == 3  # max_chats = 2
    # zhang pauses: the offers come back and wait.
    status, _ = await floor.call(
        "zhang", "POST", "/api/v1/agent/queue", {"action": "pause", "reason": "lunch"}
    )
    assert status == 200
    await floor.settle()
    assert all(c.offered_to is None for c in desk.queue)
    assert desk.figures(floor.clock())["waiting"] == 3
    # Every workspace gets the queue in one message: here, the last one says all three wait.
    news = await floor.next(floor.sockets["zhang"], "online_queue")
    while any(q["offered_to"] for q in news["queue"]):
        news = await floor.next(floor.sockets["zhang"], "online_queue")
    assert news["figures"]["waiting"] == 3
    assert [q["preview"] for q in news["queue"]] == ["第0个问题", "第1个问题", "第2个问题"]
    board = await wallboard(floor.center.app[SERVICES])
    assert board["online"]["waiting"] == 3 and board["online"]["longest_wait_seconds"] == 0.0


async def test_waiting_and_taken_conversations_survive_a_restart(
    tmp_path: Path, wechat_fake: tuple[WechatApiFake, str]
) -> None:
    fake, base = wechat_fake
    clock = FakeClock(NOW)
    center = _center(tmp_path / "data", base, fake.app_secret, clock)
    await center.start()
    await load_reference_data(center.tickets)
    await center.accounts.add_user("zhang", PASSWORD, Role.AGENT)
    floor = await _floor(center, clock)
    try:
        # zhang takes one conversation; the other citizen is still waiting at the restart.
        assert center.online is not None
        await floor.agent("zhang")
        await floor.call("zhang", "POST", "/api/v1/agent/queue", {"action": "login"})
        await floor.citizen_says("oTaken", TEXT.format("路灯不亮"))
        taken = (await floor.next(floor.sockets["zhang"], "chat_offer"))["ticket_id"]
        status, _ = await floor.call("zhang", "POST", f"/api/v1/online/{taken}/accept")
        assert status == 200
        await floor.call(
            "zhang", "POST", "/api/v1/agent/queue", {"action": "pause", "reason": "lunch"}
        )
        await floor.citizen_says("oWaiting", TEXT.format("我的社保卡丢了怎么补办"))
        assert len(center.online.queue) == 1 and center.online.queue[0].offered_to is None
    finally:
        await floor.close()
        await center.stop()

    clock.advance(minutes=3)
    again = _center(tmp_path / "data", base, fake.app_secret, clock)
    await again.start()
    floor = await _floor(again, clock)
    try:
        desk = again.online
        assert desk is not None
        [waiting] = desk.queue
        assert waiting.channel == "wechat" and waiting.language == "zh"
        assert desk.figures(clock())["longest_wait_seconds"] == 180.0
        assert desk.taken == {taken: "zhang"}
        await floor.agent("zhang")
        await floor.call("zhang", "POST", "/api/v1/agent/queue", {"action": "login"})
        await floor.settle()
        # Signing in again, zhang has the conversation taken before and counts it as a chat.
        assert desk.presence.agents["zhang"].chats == 1
        _, overview = await floor.call("zhang", "GET", "/api/v1/online")
        assert [c["ticket_id"] for c in overview["mine"]] == [taken]
        assert overview["mine"][0]["messages"][0]["text"] == "路灯不亮"
        offer = await floor.next(floor.sockets["zhang"], "chat_offer")
        assert offer["ticket_id"] == waiting.ticket_id
        assert offer["preview"] == "我的社保卡丢了怎么补办"
        # Ended, then the citizen writes again: the conversation queues anew.
        assert (await floor.call("zhang", "POST", f"/api/v1/online/{taken}/end"))[0] == 200
        clock.advance(minutes=1)
        await floor.citizen_says("oTaken", TEXT.format("还是不亮"))
        assert any(c.ticket_id == taken for c in desk.queue)
    finally:
        await floor.close()
        await again.stop()


async def test_a_failed_reply_shows_retrying_then_sent(
    floor: Floor, wechat_fake: tuple[WechatApiFake, str]
) -> None:
    fake, _ = wechat_fake
    await floor.agent("li")
    await floor.call("li", "POST", "/api/v1/agent/queue", {"action": "login"})
    await floor.citizen_says("oRetry", TEXT.format("Is the passport office open on Saturday?"))
    offer = await floor.next(floor.sockets["li"], "chat_offer")
    assert offer["language"] == "en"
    await floor.call("li", "POST", f"/api/v1/online/{offer['ticket_id']}/accept")
    worker = OutboxWorker(floor.center.outbox, floor.center.senders)
    await worker.run_once()  # the "accepted" notice goes first
    text = {"text": "Yes, from 9:00 to 12:00.", "key": "k-retry"}
    _, reply = await floor.call("li", "POST", f"/api/v1/online/{offer['ticket_id']}/reply", text)
    fake.fail_next(1, errcode=-1)  # WeChat busy: worth a retry
    await worker.run_once()
    await floor.settle()
    news = await floor.next(floor.sockets["li"], "reply_status")
    assert (news["id"], news["status"]) == (reply["outbox_id"], "retrying")
    assert "system error" in news["error"]
    _, chat = await floor.call("li", "GET", f"/api/v1/online/{offer['ticket_id']}")
    assert chat["messages"][-1]["status"] == "pending" and chat["messages"][-1]["attempts"] == 1
    floor.clock.advance(seconds=10)
    await worker.run_once()
    await floor.settle()
    news = await floor.next(floor.sockets["li"], "reply_status")
    assert news["status"] == "sent"
    texts = [r.body["text"]["content"] for r in fake.delivered() if r.body.get("msgtype") == "text"]
    assert texts.count(text["text"]) == 1


async def test_skills_send_an_english_writer_to_the_agent_who_reads_english(floor: Floor) -> None:
    await floor.agent("sup")
    for name, languages in (("zhang", ["zh"]), ("li", ["zh", "en"])):
        status, row = await floor.call(
            "sup", "PUT", f"/api/v1/agents/{name}/skills",
            {"categories": ["complaint"], "languages": languages, "max_chats": None},
        )  # fmt: skip
        assert status == 200 and row["languages"] == sorted(languages)
    await floor.agent("zhang")
    await floor.agent("li")
    await floor.call("zhang", "POST", "/api/v1/agent/queue", {"action": "login"})
    floor.clock.advance(minutes=5)  # zhang has waited longest, yet only li reads English
    await floor.call("li", "POST", "/api/v1/agent/queue", {"action": "login"})
    await floor.citizen_says("oVisitor", TEXT.format("My residence permit card was lost"))
    offer = await floor.next(floor.sockets["li"], "chat_offer")
    assert offer["language"] == "en"
    await floor.citizen_says("oLocal", TEXT.format("居住证丢了怎么补办"))
    assert (await floor.next(floor.sockets["zhang"], "chat_offer"))["language"] == "zh"
    status, err = await floor.call("sup", "PUT", "/api/v1/agents/li/skills", {"languages": ["fr"]})
    assert status == 400 and err["error"]["field"] == "languages"


async def test_a_telegram_reply_goes_out_with_send_message_once(tmp_path: Path) -> None:
    from tests.connectors.telegram.conftest import make_bot  # noqa: F401  (PTB test settings)
    from tests.fakes.telegram_api import TOKEN as TG_TOKEN
    from tests.fakes.telegram_api import TelegramApiFake

    fake = TelegramApiFake()
    api = TestServer(fake.app(), host="127.0.0.1")
    await api.start_server()
    clock = FakeClock(NOW)
    settings = load_settings(
        data_dir=tmp_path / "data",
        telegram={"bot_token": TG_TOKEN, "api_base_url": fake.base_url(str(api.make_url("")))},
    )
    center = build(settings, clock=clock, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    await center.start()
    await load_reference_data(center.tickets)
    await center.accounts.add_user("li", PASSWORD, Role.AGENT)
    floor = await _floor(center, clock)
    try:
        await floor.agent("li")
        await floor.call("li", "POST", "/api/v1/agent/queue", {"action": "login"})
        await center.tickets.accept(
            InboundContact(
                channel=Channel.TELEGRAM, external_id="tg:555:1",
                citizen=CitizenIdentity(telegram_id="5550001", name="Alex"),
                text="Where can I renew my residence permit?", received_at=clock(),
            )
        )  # fmt: skip
        await floor.settle()
        offer = await floor.next(floor.sockets["li"], "chat_offer")
        assert (offer["channel"], offer["citizen"], offer["language"]) == ("telegram", "Alex", "en")
        await floor.call("li", "POST", f"/api/v1/online/{offer['ticket_id']}/accept")
        answer = "At any district service centre; bring your passport."
        _, reply = await floor.call(
            "li", "POST", f"/api/v1/online/{offer['ticket_id']}/reply", {"text": answer, "key": "t"}
        )
        worker = OutboxWorker(center.outbox, center.senders)
        await worker.run_once()
        await worker.run_once()
        await floor.settle()
        sent = [c for c in fake.calls("sendMessage") if c.params.get("text") == answer]
        assert len(sent) == 1 and int(sent[0].params["chat_id"]) == 5550001
        news = await floor.next(floor.sockets["li"], "reply_status")
        assert (news["id"], news["status"]) == (reply["outbox_id"], "sent")
    finally:
        await floor.close()
        await center.stop()
        await api.close()


async def test_no_offer_to_an_agent_whose_workspace_is_closed(floor: Floor) -> None:
    desk = floor.center.online
    assert desk is not None
    await floor.agent("zhang", socket=False)  # signed in over the API only
    await floor.call("zhang", "POST", "/api/v1/agent/queue", {"action": "login"})
    await floor.citizen_says("oNobody", TEXT.format("公交卡充值点在哪里"))
    assert [c.offered_to for c in desk.queue] == [None]
    await floor.open_workspace("zhang")
    await desk.tick()  # the desk's clock finds the workspace open
    await floor.settle()
    offer = await floor.next(floor.sockets["zhang"], "chat_offer")
    assert offer["preview"] == "公交卡充值点在哪里"


async def test_after_call_work_runs_out_on_the_desks_clock_and_chats_wait_for_it(
    floor: Floor,
) -> None:
    desk = floor.center.online
    assert desk is not None
    desk.presence.after_call_seconds = 20  # the service level admins set
    await floor.agent("li")
    await floor.call("li", "POST", "/api/v1/agent/queue", {"action": "login"})
    desk.presence.change("li", "call_answered", floor.clock())
    floor.clock.advance(minutes=2)
    desk.presence.change("li", "call_ended", floor.clock())
    await floor.settle()
    _, overview = await floor.call("li", "GET", "/api/v1/online")
    assert overview["presence"]["state"] == "after_call"
    await floor.citizen_says("oAfterCall", TEXT.format("请问不动产登记在哪里办"))
    assert [c.offered_to for c in desk.queue] == [None]  # not during after-call work
    floor.clock.advance(seconds=20)
    await desk.tick()
    await floor.settle()
    ready = await floor.next(floor.sockets["li"], "presence")
    assert (ready["state"], ready["chats"]) == ("ready", 0)
    offer = await floor.next(floor.sockets["li"], "chat_offer")
    assert offer["preview"] == "请问不动产登记在哪里办"


async def test_a_burst_waits_in_the_store_and_the_workspace_lists_the_longest_waiting(
    tmp_path: Path, wechat_fake: tuple[WechatApiFake, str]
) -> None:
    """Accepting an online contact queues its conversation in the same transaction: a
    center that stops before its desk heard of them (the bus never delivered) still has
    every one waiting after the restart; the workspace lists the longest waiting only."""
    fake, base = wechat_fake
    clock = FakeClock(NOW)
    center = _center(tmp_path / "data", base, fake.app_secret, clock)
    await center.start()
    await load_reference_data(center.tickets)
    assert center.online is not None
    n = QUEUE_SHOWN + 5
    contacts = [
        InboundContact(
            channel=Channel.WECHAT, external_id=f"burst-{i}",
            citizen=CitizenIdentity(wechat_openid=f"oBurst{i:03d}"), text=f"第{i}个问题",
            received_at=clock(),
        )
        for i in range(n)
    ]  # fmt: skip
    center.bus._handlers.clear()  # type: ignore[attr-defined]  # as if the process died
    await asyncio.gather(*(center.tickets.accept(c) for c in contacts))
    assert center.online.queue == ()  # the desk was never told
    await center.stop()

    clock.advance(minutes=2)
    again = _center(tmp_path / "data", base, fake.app_secret, clock)
    await again.start()
    try:
        desk = again.online
        assert desk is not None and len(desk.queue) == n
        listed = await desk.waiting()
        assert len(listed) == QUEUE_SHOWN
        assert desk.figures(clock())["waiting"] == n
        assert all(q["number"] and q["preview"].startswith("第") for q in listed)
        # More arrive while the list is kept: it stays the oldest of the whole queue.
        clock.advance(seconds=30)
        more = [
            InboundContact(
                channel=Channel.WECHAT, external_id=f"later-{i}",
                citizen=CitizenIdentity(wechat_openid=f"oLater{i:03d}"), text=f"又一个问题{i}",
                received_at=clock(),
            )
            for i in range(7)
        ]  # fmt: skip
        await asyncio.gather(*(again.tickets.accept(c) for c in more))
        await again.bus.drain()  # type: ignore[attr-defined]
        await desk.drain()
        assert len(desk.queue) == n + 7
        assert desk.oldest() == routing.oldest(desk.queue, QUEUE_SHOWN)
        assert desk.figures(clock())["longest_wait_seconds"] == 150.0
    finally:
        await again.stop()


def test_messages_stand_by_time_then_as_stored() -> None:
    at, later = "2026-11-24T01:58:03+00:00", "2026-11-24T01:58:03.500000+00:00"
    messages = [
        {"id": "c103", "at": at}, {"id": "r7", "at": at}, {"id": "c12", "at": later},
        {"id": "c9", "at": at},
    ]  # fmt: skip
    assert [m["id"] for m in sorted(messages, key=message_order)] == ["c9", "c103", "r7", "c12"]
