"""The composition root wires WeChat and Telegram from settings: routes, senders, notices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from tests.connectors.wechat.conftest import AES_KEY, APP_ID, TOKEN, safe_mode
from tests.fakes.clock import FakeClock
from tests.fakes.wechat_api import WechatApiFake
from tickets.outbox import OutboxWorker

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def center(tmp_path: Path, wechat_fake: tuple[WechatApiFake, str]) -> AsyncIterator[Center]:
    fake, base = wechat_fake
    settings = load_settings(
        data_dir=tmp_path / "data",
        wechat={
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "app_id": APP_ID,
            "app_secret": fake.app_secret,
            "api_base_url": base,
        },
    )
    c = build(settings, clock=FakeClock(NOW), hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    await c.start()
    await load_reference_data(c.tickets)
    yield c
    await c.stop()


async def test_an_encrypted_message_becomes_a_ticket_and_the_citizen_is_told(
    center: Center, wechat_fake: tuple[WechatApiFake, str]
) -> None:
    fake, _ = wechat_fake
    assert [c.name for c in center.connectors] == ["wechat"]
    assert set(center.senders) == {"wechat"}
    center.app.cleanup_ctx.clear()
    server = TestServer(center.app, host="127.0.0.1")
    await server.start_server()
    stamp = int(NOW.timestamp())
    plain = (
        "<xml><ToUserName><![CDATA[gh_12345]]></ToUserName>"
        "<FromUserName><![CDATA[oCitizen42]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[小区门口夜间施工噪声扰民]]></Content><MsgId>9000001</MsgId></xml>"
    )
    query, body = safe_mode(plain, timestamp=str(stamp))
    try:
        async with ClientSession() as http:
            url = str(server.make_url("/wechat/callback"))
            async with http.post(url, params=query, data=body) as resp:
                assert (resp.status, await resp.text()) == (200, "success")
    finally:
        await server.close()
    await center.bus.drain()  # type: ignore[attr-defined]
    await OutboxWorker(center.outbox, center.senders).run_once()
    [sent] = fake.delivered()
    assert sent.body["touser"] == "oCitizen42" and sent.body["msgtype"] == "text"
    assert "已受理" in sent.body["text"]["content"]
    [m] = await center.outbox.messages()
    assert m["status"] == "sent" and m["kind"] == "accepted"
