"""A WeChat callback on loopback over a real ticket service, a fake WeChat API, signing helpers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, ClientSession, web
from aiohttp.test_utils import TestServer

from connectors.media import CHAT_RULES, MediaDownloads
from connectors.wechat.callback import PATH, WechatCallback, media_fetch
from connectors.wechat.client import WechatApi
from connectors.wechat.crypto import CallbackCrypto, signature
from connectors.wechat.messages import MEDIA_REF_PREFIX
from tests.fakes.wechat_api import WechatApiFake
from tickets.attachments import FileStore
from tickets.service import TicketService

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "wechat"
TOKEN = "test"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APP_ID = "wx5823bf96d3bd56c7"
MAX_BODY = 64 * 1024
MAX_MEDIA = 256 * 1024  # the largest picture or voice the tests' center keeps


def fixture_bytes(name: str) -> bytes:
    """One shared sample, byte for byte."""
    return (FIXTURES / name).read_bytes()


def signed(
    token: str = TOKEN, timestamp: str = "1410685589", nonce: str = "nonce1"
) -> dict[str, str]:
    """The query WeChat adds to a plain-mode callback."""
    return {
        "signature": signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": "o_test",
    }


def safe_mode(
    plain_xml: str, nonce: str = "n0nce", timestamp: str = "1409659813"
) -> tuple[dict[str, str], str]:
    """Query and body of a safe-mode callback carrying `plain_xml`, as WeChat sends it."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_ID)
    envelope = crypto.encrypt(plain_xml, nonce, timestamp)
    from connectors.wechat.messages import parse_xml

    fields = parse_xml(envelope)
    body = (
        f"<xml><ToUserName><![CDATA[{APP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    )
    query = {
        **signed(TOKEN, timestamp, nonce),
        "encrypt_type": "aes",
        "msg_signature": fields["MsgSignature"],
    }
    return query, body


@dataclass
class Wechat:
    """The callback under test and a client to post to it."""

    url: str
    http: ClientSession
    callback: WechatCallback
    service: TicketService
    fake: WechatApiFake | None = None
    api: WechatApi | None = None

    async def post(self, body: bytes | str, query: dict[str, str]) -> ClientResponse:
        resp = await self.http.post(
            self.url + PATH, params=query, data=body, headers={"Content-Type": "text/xml"}
        )
        await resp.read()
        return resp

    async def contacts(self) -> list[dict[str, Any]]:
        async with self.service.store.read() as tx:
            from sqlalchemy import select

            from tickets.tables import contacts

            rows = (await tx.conn.execute(select(contacts).order_by(contacts.c.id))).mappings()
            return [dict(r) for r in rows]


@pytest.fixture
def backend() -> str:
    """The connector's tests run on SQLite; the store contract runs on both backends."""
    return "sqlite"


@pytest_asyncio.fixture
async def wechat_fake() -> AsyncIterator[tuple[WechatApiFake, str]]:
    """The fake WeChat API on 127.0.0.1 and its base URL."""
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    fake = WechatApiFake(app_id=APP_ID)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest_asyncio.fixture
async def wechat(
    service: TicketService, wechat_fake: tuple[WechatApiFake, str], tmp_path: Path
) -> AsyncIterator[Wechat]:
    """A callback app (AES key configured) whose sink is the real ticket service."""
    fake, base = wechat_fake
    api = WechatApi(APP_ID, fake.app_secret, base_url=base)
    media = MediaDownloads(
        "wechat",
        MEDIA_REF_PREFIX,
        media_fetch(api),
        FileStore(tmp_path / "attachments", replace(CHAT_RULES, max_bytes=MAX_MEDIA)),
        service.attach_file,
        backoff=0.01,
    )
    callback = WechatCallback(CallbackCrypto(TOKEN, AES_KEY, APP_ID), service.accept, media)
    app = web.Application(client_max_size=MAX_BODY)
    app.add_routes(callback.routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield Wechat(str(server.make_url("")).rstrip("/"), http, callback, service, fake, api)
    await media.drain()
    await media.close()
    await api.close()
    await server.close()


@pytest.fixture
def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.xml"))
