"""Outbound WeChat messages through the durable outbox against the fake API: shape, token, retry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest_asyncio

from connectors.wechat.client import WechatApi
from connectors.wechat.sender import WechatSender
from tests.connectors.wechat.conftest import APP_ID
from tests.fakes.clock import FakeClock
from tests.fakes.wechat_api import WechatApiFake
from tickets.outbox import Outbox, OutboxWorker
from tickets.service import TicketService

OPENID = "oWx_citizen_1"
PAYLOAD = {
    "ticket_number": "20261123-000001",
    "subject": "夜间施工噪声",
    "category_name": "噪声污染",
    "department_name": "市城市管理局",
    "due_at": "2026-11-30T09:30:00+00:00",
    "result_text": "已责令停工",
    "at": "2026-11-23T02:00:00+00:00",
}
TEMPLATES = {
    "accepted": "TPL_ACCEPTED",
    "dispatched": "TPL_PROGRESS",
    "result": "TPL_PROGRESS",
    "rating_request": "TPL_RATING",
}


@dataclass
class Out:
    fake: WechatApiFake
    api: WechatApi
    outbox: Outbox
    worker: OutboxWorker
    seen: dict[str, datetime]
    clock: FakeClock

    asked: list[str]  # OpenIDs whose last message the sender looked up

    async def enqueue(self, kind: str, key: str, recipient: str = OPENID, **payload: str) -> None:
        await self.outbox.enqueue("wechat", kind, recipient, {**PAYLOAD, **payload}, key)


@pytest_asyncio.fixture
async def out(
    service: TicketService, clock: FakeClock, wechat_fake: tuple[WechatApiFake, str]
) -> AsyncIterator[Out]:
    fake, base = wechat_fake
    api = WechatApi(APP_ID, fake.app_secret, base_url=base)
    seen: dict[str, datetime] = {OPENID: clock() - timedelta(hours=1)}
    asked: list[str] = []

    async def last_seen(openid: str) -> datetime | None:
        asked.append(openid)
        return seen.get(openid)

    sender = WechatSender(
        api, TEMPLATES, last_seen=last_seen, now=clock,
        rating_url="https://12345.example.gov.cn/rate/{ticket}",
    )  # fmt: skip
    outbox = Outbox(service.store, clock)
    yield Out(fake, api, outbox, OutboxWorker(outbox, {"wechat": sender}), seen, clock, asked)
    await api.close()


async def test_notices_in_the_window_go_as_customer_service_text_with_one_token(out: Out) -> None:
    for kind in ("accepted", "dispatched", "result", "rating_request"):
        await out.enqueue(kind, f"{kind}:1")
    assert await out.worker.run_once() == 4
    sent = out.fake.sent()
    assert [r.path for r in sent] == ["/cgi-bin/message/custom/send"] * 4
    assert {r.query["access_token"] for r in sent} == {"ACCESS_TOKEN_1"}
    assert [r.path for r in out.fake.requests].count("/cgi-bin/token") == 1
    assert sent[0].body == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {
            "content": "您的诉求已受理,工单号 20261123-000001。我们会尽快办理,并在这里告诉您进度。"
        },
    }
    assert "市城市管理局" in sent[1].body["text"]["content"]
    assert "2026-11-30 17:30" in sent[1].body["text"]["content"]  # Beijing time
    assert "已责令停工" in sent[2].body["text"]["content"]
    rating = sent[3].body["text"]["content"]
    for level in ("5 非常满意", "4 满意", "3 基本满意", "2 不满意", "1 非常不满意"):
        assert level in rating
    assert [m["status"] for m in await out.outbox.messages()] == ["sent"] * 4


async def test_outside_the_window_a_template_message_is_sent(out: Out) -> None:
    out.seen[OPENID] = out.clock() - timedelta(hours=49)
    await out.enqueue("dispatched", "dispatched:1")
    await out.enqueue("rating_request", "rate:1")
    await out.worker.run_once()
    [progress, rating] = out.fake.sent()
    assert progress.path == "/cgi-bin/message/template/send"
    assert progress.body == {
        "touser": OPENID,
        "template_id": "TPL_PROGRESS",
        "client_msg_id": "dispatched:1",
        "data": {
            "first": {"value": "您的诉求已转交办理"},
            "keyword1": {"value": "20261123-000001"},
            "keyword2": {"value": "夜间施工噪声"},
            "keyword3": {"value": "已转交市城市管理局"},
            "remark": {"value": "办理时限 2026-11-30 17:30"},
        },
    }
    assert rating.body["template_id"] == "TPL_RATING"
    assert rating.body["url"] == "https://12345.example.gov.cn/rate/20261123-000001"
    assert "5非常满意" in rating.body["data"]["remark"]["value"]
    results = [m["result"] for m in await out.outbox.messages()]
    assert results == [{"via": "template", "msgid": 1000}, {"via": "template", "msgid": 1001}]


async def test_a_notice_that_says_when_the_citizen_wrote_needs_no_lookup(out: Out) -> None:
    """An "accepted" notice carries the time of the message that opened the ticket: inside
    48 hours of it the window is open whatever came later; past them, the last message
    decides (here none is known, so a template goes)."""
    now = out.clock()
    await out.enqueue("accepted", "accepted:1", wrote_at=(now - timedelta(hours=47)).isoformat())
    await out.enqueue(
        "accepted", "accepted:2", "oWx_other", wrote_at=(now - timedelta(hours=49)).isoformat()
    )
    await out.enqueue("accepted", "accepted:3", "oWx_third", wrote_at="not a time")
    await out.worker.run_once()
    by_user = {r.body["touser"]: r.path for r in out.fake.sent()}
    assert by_user == {
        OPENID: "/cgi-bin/message/custom/send",
        "oWx_other": "/cgi-bin/message/template/send",
        "oWx_third": "/cgi-bin/message/template/send",
    }
    assert sorted(out.asked) == ["oWx_other", "oWx_third"]


async def test_window_closed_on_wechat_side_falls_back_to_template(out: Out) -> None:
    out.fake.out_of_window.add(OPENID)
    await out.enqueue("result", "result:1")
    await out.worker.run_once()
    assert [r.path for r in out.fake.sent()] == [
        "/cgi-bin/message/custom/send",
        "/cgi-bin/message/template/send",
    ]
    assert len(out.fake.delivered()) == 1


async def test_expired_token_is_refreshed_and_the_call_retried_once(out: Out) -> None:
    await out.enqueue("accepted", "a:1")
    await out.worker.run_once()
    out.fake.expire_token()  # 42001 for the cached token
    await out.enqueue("accepted", "a:2")
    await out.worker.run_once()
    tokens = [r.query.get("access_token") for r in out.fake.sent()]
    assert tokens == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert out.api.token_fetches == 2
    assert len(out.fake.delivered()) == 2


async def test_invalid_token_40001_is_refreshed_too(out: Out) -> None:
    await out.api.access_token()
    out.fake.token = "rotated-elsewhere"  # another process fetched a token: ours is invalid
    await out.enqueue("accepted", "a:1")
    await out.worker.run_once()
    assert [r.query.get("access_token") for r in out.fake.sent()] == [
        "ACCESS_TOKEN_1",
        "ACCESS_TOKEN_2",
    ]
    assert [m["status"] for m in await out.outbox.messages()] == ["sent"]


async def test_token_expiry_by_time_fetches_a_new_one(out: Out) -> None:
    now = [0.0]
    out.api._monotonic = lambda: now[0]
    await out.api.access_token()
    now[0] = 6899.0
    assert await out.api.access_token() == "ACCESS_TOKEN_1"
    now[0] = 6901.0  # 7200 s less the 300 s margin
    assert await out.api.access_token() == "ACCESS_TOKEN_2"


async def test_api_outage_is_retried_with_backoff_and_sends_exactly_once(out: Out) -> None:
    await out.enqueue("accepted", "a:1")
    out.fake.fail_next(2, status=502)
    await out.worker.run_once()
    [m] = await out.outbox.messages()
    assert (m["status"], m["attempts"]) == ("pending", 1)
    assert "502" in m["last_error"]
    assert await out.worker.run_once() == 0  # not due yet: backoff
    out.clock.advance(seconds=7)
    await out.worker.run_once()  # the second failure (system busy as errcode -1 now)
    out.fake.fail_next(1, errcode=-1)
    out.clock.advance(seconds=15)
    await out.worker.run_once()
    out.clock.advance(seconds=30)
    await out.worker.run_once()
    [m] = await out.outbox.messages()
    assert m["status"] == "sent"
    assert len(out.fake.delivered()) == 1
    # enqueueing the same notice again (a repeated event) sends nothing more
    await out.enqueue("accepted", "a:1")
    out.clock.advance(seconds=60)
    assert await out.worker.run_once() == 0
    assert len(out.fake.delivered()) == 1


async def test_unfollowed_citizen_is_dead_not_retried(out: Out) -> None:
    out.fake.unfollowed.add(OPENID)
    await out.enqueue("accepted", "a:1")
    await out.worker.run_once()
    [m] = await out.outbox.messages()
    assert m["status"] == "dead" and "43004" in m["last_error"]


async def test_no_template_outside_the_window_is_dead(out: Out) -> None:
    out.seen.clear()
    await out.enqueue("text", "t:1")
    await out.worker.run_once()
    [m] = await out.outbox.messages()
    assert m["status"] == "dead" and "no template" in m["last_error"]
