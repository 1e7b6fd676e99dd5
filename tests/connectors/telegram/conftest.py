"""A Telegram bot on loopback over a real ticket service; python-telegram-bot talks to a fake."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, ClientSession, web
from aiohttp.test_utils import TestServer
from telegram import Bot
from telegram.request import HTTPXRequest

from connectors.telegram.bot import PATH, SECRET_HEADER, TelegramBot
from connectors.telegram.sender import TelegramSender
from router.channel_actions import ChannelActions
from router.department_notices import DepartmentNotices
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import TOKEN, TelegramApiFake
from tickets.bus import InProcessBus
from tickets.model import Role
from tickets.outbox import Outbox, OutboxWorker
from tickets.service import TicketService

# httpx honours proxy variables; calls to the fake must never go through one.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# PTB 22 warns (an error here) when it builds RetryAfter unless we take its timedelta form now.
os.environ["PTB_TIMEDELTA"] = "1"

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "telegram"
SECRET = "s3cret-webhook-token_1"
GROUP = -1001276785818  # the supergroup of the shared samples


def sample(name: str) -> dict[str, Any]:
    """One shared update (getUpdates envelopes unwrapped)."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    if "result" in data:
        [data] = data["result"]
    return data


@pytest.fixture
def backend() -> str:
    """The connector's tests run on SQLite; the store contract runs on both backends."""
    return "sqlite"


@dataclass
class Telegram:
    """The bot under test, the fake API, and the center parts it talks to."""

    url: str
    http: ClientSession
    bot: TelegramBot
    fake: TelegramApiFake
    service: TicketService
    actions: ChannelActions
    outbox: Outbox
    worker: OutboxWorker
    clock: FakeClock

    async def post(
        self, update: dict[str, Any] | str, secret: str | None = SECRET
    ) -> ClientResponse:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        body = update if isinstance(update, str) else json.dumps(update)
        resp = await self.http.post(self.url + PATH, data=body, headers=headers)
        await resp.read()
        await self.bot.drain()
        return resp

    async def contacts(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from tickets.tables import contacts

        async with self.service.store.read() as tx:
            rows = (await tx.conn.execute(select(contacts).order_by(contacts.c.id))).mappings()
            return [dict(r) for r in rows]

    async def add_staff(
        self, username: str, telegram_id: int, role: Role, dept: str | None
    ) -> None:
        async with self.service.store.write() as tx:
            await tx.insert_user(
                {
                    "username": username,
                    "password_hash": "x",
                    "role": role.value,
                    "department": dept,
                    "telegram_id": str(telegram_id),
                    "created_at": self.clock(),
                }
            )


@pytest_asyncio.fixture
async def tg_fake() -> AsyncIterator[tuple[TelegramApiFake, str]]:
    fake = TelegramApiFake()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def make_bot(fake: TelegramApiFake, root: str, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        base_url=fake.base_url(root),
        base_file_url=fake.base_file_url(root),
        request=HTTPXRequest(connection_pool_size=8),
        get_updates_request=HTTPXRequest(),
    )


@pytest_asyncio.fixture
async def telegram(
    service: TicketService, clock: FakeClock, tg_fake: tuple[TelegramApiFake, str]
) -> AsyncIterator[Telegram]:
    fake, root = tg_fake
    ptb = make_bot(fake, root)
    actions = ChannelActions(service, service.store, clock)
    outbox = Outbox(service.store, clock)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(DepartmentNotices(service, service.store, outbox))
    bot = TelegramBot(ptb, service.accept, actions, webhook_secret=SECRET)
    await bot.start()
    app = web.Application(client_max_size=64 * 1024)
    app.add_routes(bot.routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    worker = OutboxWorker(outbox, {"telegram": TelegramSender(ptb)})
    async with ClientSession() as http:
        yield Telegram(
            str(server.make_url("")).rstrip("/"), http, bot, fake, service, actions, outbox,
            worker, clock,
        )  # fmt: skip
    await bot.stop()
    await server.close()
