"""kill -9 of a real `hotline serve` between WeChat's deliveries: what was answered is kept,
and WeChat's retries of everything make no duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest

from connectors.wechat.callback import PATH
from tests.conftest import free_port
from tests.connectors.wechat.conftest import AES_KEY, APP_ID, TOKEN, safe_mode
from tests.test_crash_safety import Server, assert_no_duplicates, stored_contacts

pytestmark = pytest.mark.slow

MESSAGES = 240
KILL_AFTER = 60
WORKERS = 8
ENV = {
    "HOTLINE_WECHAT__TOKEN": TOKEN,
    "HOTLINE_WECHAT__ENCODING_AES_KEY": AES_KEY,
    "HOTLINE_WECHAT__APP_ID": APP_ID,
}


def message(i: int) -> tuple[dict[str, str], str]:
    msg_id = 6_000_000_000_000_000_000 + i
    xml = (
        f"<xml><ToUserName><![CDATA[gh_hotline]]></ToUserName>"
        f"<FromUserName><![CDATA[oWx_crash_{i % 50}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[第{i}条诉求:路灯不亮]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
    return safe_mode(xml, nonce=f"n{i}", timestamp=str(int(time.time())))


def accepted_notices(db: Path) -> list[tuple[int, str, str]]:
    """(ticket id, channel, recipient) of every "accepted" notice in the outbox."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT ticket_id, channel, recipient FROM outbox "
            "WHERE kind = 'accepted' AND dedupe_key = 'accepted:' || ticket_id ORDER BY ticket_id"
        ).fetchall()


def ticket_recipients(db: Path) -> list[tuple[int, str, str]]:
    """(ticket id, "wechat", OpenID) of every ticket, from the contact that opened it."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT t.id, c.identity FROM tickets t JOIN contacts c ON c.ticket_id = t.id "
            "WHERE c.id = (SELECT min(id) FROM contacts WHERE ticket_id = t.id) ORDER BY t.id"
        ).fetchall()
    return [(tid, "wechat", json.loads(identity)["wechat_openid"]) for tid, identity in rows]


async def post(http: aiohttp.ClientSession, url: str, i: int) -> int:
    query, body = message(i)
    async with http.post(url + PATH, params=query, data=body.encode(), timeout=10) as resp:
        await resp.read()
        return resp.status


async def test_kill_9_between_commit_and_reply_loses_and_doubles_nothing(
    tmp_path: Path, servers: list[Server]
) -> None:
    data_dir = tmp_path / "data"
    first = Server(data_dir, free_port(), tmp_path / "serve-1.log", ENV)
    servers.append(first)
    acked: set[int] = set()
    enough, killed = asyncio.Event(), asyncio.Event()
    async with aiohttp.ClientSession() as http:
        await first.ready(http)
        todo = iter(range(MESSAGES))

        async def worker() -> None:
            for i in todo:
                if killed.is_set():
                    return
                try:
                    status = await post(http, first.url, i)
                except (aiohttp.ClientError, OSError, TimeoutError):
                    continue  # no answer: WeChat will deliver it again
                assert status == 200, first.output()
                acked.add(i)
                if len(acked) >= KILL_AFTER:
                    enough.set()

        async def killer() -> None:
            await enough.wait()
            await asyncio.sleep(0.003)
            killed.set()
            first.kill()

        await asyncio.wait_for(asyncio.gather(killer(), *(worker() for _ in range(WORKERS))), 60)
        assert first.proc.returncode == -signal.SIGKILL
        assert len(acked) < MESSAGES
        second = Server(data_dir, free_port(), tmp_path / "serve-2.log", ENV)
        servers.append(second)
        await second.ready(http)
        stored = {eid for ch, eid, _ in stored_contacts(data_dir / "hotline.db") if ch == "wechat"}
        assert_no_duplicates(stored_contacts(data_dir / "hotline.db"))
        assert {str(6_000_000_000_000_000_000 + i) for i in acked} <= stored
        # Each ticket's "accepted" notice committed with it: the kill separated none of them.
        assert accepted_notices(data_dir / "hotline.db") == ticket_recipients(
            data_dir / "hotline.db"
        )
        # WeChat retries every message (the answered ones too): all kept, none twice.
        for i in range(MESSAGES):
            assert await post(http, second.url, i) == 200
        rows = stored_contacts(data_dir / "hotline.db")
        assert_no_duplicates(rows)
        assert len([r for r in rows if r[0] == "wechat"]) == MESSAGES
