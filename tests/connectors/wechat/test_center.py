"""The composition root wires WeChat and Telegram from settings: routes, senders, notices."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from connectors.wechat.connector import WechatConnector
from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from tests.connectors.wechat.conftest import AES_KEY, APP_ID, TOKEN, safe_mode
from tests.fakes.clock import FakeClock
from tests.fakes.wechat_api import WechatApiFake
from tickets.model import Role
from tickets.outbox import OutboxWorker
from tickets.privacy import Viewer

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


async def test_a_citizens_picture_is_on_the_ticket_page_for_the_agent(
    center: Center, wechat_fake: tuple[WechatApiFake, str]
) -> None:
    fake, _ = wechat_fake
    picture = b"\xff\xd8\xff\xe0" + b"street-lamp" * 50
    fake.media["MEDIA_lamp_1"] = (picture, "image/jpeg")
    await center.accounts.add_user("agent01", "pw-agent01-long", Role.AGENT)
    center.app.cleanup_ctx.clear()
    server = TestServer(center.app, host="127.0.0.1")
    await server.start_server()
    stamp = int(NOW.timestamp())
    plain = (
        "<xml><ToUserName><![CDATA[gh_12345]]></ToUserName>"
        "<FromUserName><![CDATA[oCitizen43]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        "<PicUrl><![CDATA[http://mmbiz.qpic.cn/lamp]]></PicUrl>"
        "<MediaId><![CDATA[MEDIA_lamp_1]]></MediaId><MsgId>9000002</MsgId></xml>"
    )
    query, body = safe_mode(plain, timestamp=str(stamp))
    (wechat,) = center.connectors
    assert isinstance(wechat, WechatConnector) and wechat.media is not None
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            url = str(server.make_url("/wechat/callback"))
            async with http.post(url, params=query, data=body) as resp:
                assert (resp.status, await resp.text()) == (200, "success")
            await wechat.media.drain()
            [ticket], _ = await center.tickets.list(Viewer("agent01", Role.AGENT))
            number = ticket["number"]
            async with http.post(
                server.make_url("/api/v1/session"),
                json={"username": "agent01", "password": "pw-agent01-long"},
            ) as resp:
                assert resp.status == 200
            async with http.get(server.make_url(f"/tickets/{number}")) as resp:
                page = await resp.text()
            digest = hashlib.sha256(picture).hexdigest()
            assert f'href="/tickets/{number}/files/{digest}"' in page
            assert "MEDIA_lamp_1.jpg" in page
            async with http.get(server.make_url(f"/tickets/{number}/files/{digest}")) as resp:
                assert resp.status == 200 and await resp.read() == picture
    finally:
        await server.close()
