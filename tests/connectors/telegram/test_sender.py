"""Telegram notices through the durable outbox against the fake Bot API: token, shape, retries."""

from __future__ import annotations

from tests.connectors.telegram.conftest import Telegram
from tests.fakes.telegram_api import TOKEN

PAYLOAD = {"ticket_number": "20261123-000001", "department_name": "市城市管理局",
           "due_at": "2026-11-30T09:30:00+00:00", "result_text": "已处理"}  # fmt: skip


async def test_notice_is_sent_with_the_bot_token_as_form_fields(telegram: Telegram) -> None:
    await telegram.outbox.enqueue("telegram", "dispatched", "777", PAYLOAD, "d:1")
    await telegram.worker.run_once()
    [sent] = telegram.fake.calls("sendMessage")
    assert sent.token == TOKEN
    assert sent.content_type == "application/x-www-form-urlencoded"
    assert sent.params == {
        "chat_id": "777",
        "text": "工单 20261123-000001 已转交市城市管理局办理,办理时限 2026-11-30 17:30。",
    }
    [m] = await telegram.outbox.messages()
    assert m["status"] == "sent" and m["result"]["message_id"] == 1


async def test_api_down_then_back_sends_exactly_once(telegram: Telegram) -> None:
    await telegram.outbox.enqueue("telegram", "accepted", "777", PAYLOAD, "a:1")
    telegram.fake.fail_next(1, status=502)
    telegram.fake.fail_next(1, status=429, retry_after=3)
    await telegram.worker.run_once()
    [m] = await telegram.outbox.messages()
    assert (m["status"], m["attempts"]) == ("pending", 1)
    telegram.clock.advance(seconds=7)
    await telegram.worker.run_once()
    [m] = await telegram.outbox.messages()
    assert m["status"] == "pending" and "retry after" in m["last_error"]
    telegram.clock.advance(seconds=15)
    await telegram.worker.run_once()
    telegram.clock.advance(seconds=60)
    assert await telegram.worker.run_once() == 0
    [m] = await telegram.outbox.messages()
    assert m["status"] == "sent"
    ok = [c for c in telegram.fake.calls("sendMessage")]
    assert len(ok) == 3  # two refused attempts, one delivery


async def test_blocked_chat_is_dead_not_retried(telegram: Telegram) -> None:
    telegram.fake.blocked.add(777)
    await telegram.outbox.enqueue("telegram", "accepted", "777", PAYLOAD, "a:1")
    await telegram.worker.run_once()
    [m] = await telegram.outbox.messages()
    assert m["status"] == "dead" and "Forbidden" in m["last_error"]
