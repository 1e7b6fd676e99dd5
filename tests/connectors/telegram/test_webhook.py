"""Telegram updates through the webhook: the shared samples, forged and broken requests, dedupe."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.telegram.bot import TelegramBot
from tests.connectors.telegram.conftest import SECRET, Telegram, make_bot, sample
from tests.fakes.telegram_api import TelegramApiFake
from tickets.model import AcceptResult, InboundContact

PRIVATE_SAMPLES: dict[str, dict[str, Any]] = {
    "teloxide_message_text.json": {
        "external_id": "218485655:6557",
        "identity": {"name": "Waffle", "telegram_id": "218485655"},
        "text": "hello there",
        "received_at": datetime.fromtimestamp(1569518342, UTC),
    },
    "teloxide_private_chat_text.json": {
        "external_id": "408258968:154",
        "identity": {"name": "Hirrolot", "telegram_id": "408258968"},
        "text": "4",
        "received_at": datetime.fromtimestamp(1581448857, UTC),
    },
    "telegrambots_Update_webhook_doc_sample.json": {
        "external_id": "1111111:1365",
        "identity": {"name": "Test Firstname Test Lastname", "telegram_id": "1111111"},
        "text": "Bold and italics",
        "received_at": datetime.fromtimestamp(1441645532, UTC),
        "attachments": [
            {
                "name": "voice-AwADBAADbXXXXXXXXXXXGBdhD2l6_XX.ogg",
                "content_type": "audio/ogg",
                "size": 23000,
                "ref": "telegram-file:AwADBAADbXXXXXXXXXXXGBdhD2l6_XX",
            },
            {
                "name": "audio-AwADBAADbXXXXXXXXXXXGBdhD2l6_XX.mp3",
                "content_type": "audio/mpeg",
                "size": 3897500,
                "ref": "telegram-file:AwADBAADbXXXXXXXXXXXGBdhD2l6_XX",
            },
            {
                "name": "Testfile.pdf",
                "content_type": "application/pdf",
                "size": 536392,
                "ref": "telegram-file:AwADBAADbXXXXXXXXXXXGBdhD2l6_XX",
            },
        ],  # fmt: skip
    },
}
NOT_CONTACTS = [
    "telegrambots_update_write_access_allowed.json",  # service message in a private chat
    "teloxide_pinned_message.json",
    "teloxide_dice.json",
    "teloxide_issue_1107_bot_command_reply_in_thread.json",  # /report in a group
    "telegrambots_callback_query_with_message.json",  # a button we never made
]


@pytest.mark.parametrize("name", sorted(PRIVATE_SAMPLES))
async def test_private_sample_becomes_a_contact(telegram: Telegram, name: str) -> None:
    resp = await telegram.post(sample(name))
    assert resp.status == 200
    [row] = await telegram.contacts()
    want = PRIVATE_SAMPLES[name]
    assert row["channel"] == "telegram"
    assert row["external_id"] == want["external_id"]
    assert row["text"] == want["text"]
    assert row["received_at"] == want["received_at"]
    if "identity" in want:
        assert row["identity"] == want["identity"]
    assert row["attachments"] == want.get("attachments", [])
    assert row["ticket_id"] is not None


@pytest.mark.parametrize("name", NOT_CONTACTS)
async def test_service_and_group_samples_make_no_contact(telegram: Telegram, name: str) -> None:
    resp = await telegram.post(sample(name))
    assert resp.status == 200
    assert await telegram.contacts() == []


def test_group_command_is_parsed() -> None:
    from connectors.telegram.updates import Command, parse, route

    _, update = parse(sample("teloxide_issue_1107_bot_command_reply_in_thread.json"))
    r = route(update)
    assert isinstance(r, Command) and (r.name, r.chat_type) == ("report", "supergroup")


async def test_unknown_button_is_answered_in_its_chat(telegram: Telegram) -> None:
    await telegram.post(sample("telegrambots_callback_query_with_message.json"))
    [answer] = telegram.fake.calls("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "4382bfdwdsb323b2d9"
    assert answer.params["text"] == "该按钮已失效。"


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
async def test_webhook_without_our_secret_is_refused(
    telegram: Telegram, secret: str | None
) -> None:
    resp = await telegram.post(sample("teloxide_message_text.json"), secret=secret)
    assert resp.status == 403
    assert await telegram.contacts() == []


@pytest.mark.parametrize("body", ["not json", "[]", '{"message": {}}', '{"update_id": "1"}'])
async def test_not_an_update_is_400(telegram: Telegram, body: str) -> None:
    assert (await telegram.post(body)).status == 400


async def test_oversized_update_is_413(telegram: Telegram) -> None:
    update = sample("teloxide_message_text.json")
    update["message"]["text"] = "x" * 70_000
    assert (await telegram.post(update)).status == 413
    assert await telegram.contacts() == []


async def test_redelivered_update_is_handled_once(telegram: Telegram) -> None:
    update = sample("teloxide_message_text.json")
    answers = await asyncio.gather(*(telegram.post(update) for _ in range(3)))
    assert [a.status for a in answers] == [200, 200, 200]
    await telegram.post(update)
    assert len(await telegram.contacts()) == 1
    assert telegram.bot.processed == 1


async def test_store_down_answers_500_and_the_retry_is_accepted(telegram: Telegram) -> None:
    async def broken(c: InboundContact) -> AcceptResult:
        raise OSError("database is gone")

    good = telegram.bot.sink
    telegram.bot.sink = broken
    update = sample("teloxide_message_text.json")
    assert (await telegram.post(update)).status == 500
    telegram.bot.sink = good
    assert (await telegram.post(update)).status == 200
    assert len(await telegram.contacts()) == 1


def _private(update_id: int, **message: Any) -> dict[str, Any]:
    user = {"id": 777, "is_bot": False, "first_name": "李", "last_name": "四"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": user,
            "chat": {"id": 777, "type": "private", "first_name": "李"},
            "date": 1763863200,
            **message,
        },
    }


async def test_photo_voice_and_location_become_contacts(telegram: Telegram) -> None:
    photo = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
        {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 90000},
    ]
    await telegram.post(_private(1, photo=photo, caption="路灯坏了"))
    await telegram.post(
        _private(2, voice={"file_id": "v1", "file_unique_id": "v", "duration": 3,
                           "mime_type": "audio/ogg", "file_size": 4000})
    )  # fmt: skip
    await telegram.post(_private(3, location={"latitude": 30.66, "longitude": 104.06}))
    rows = await telegram.contacts()
    assert [(r["text"], [a["ref"] for a in r["attachments"]]) for r in rows] == [
        ("路灯坏了", ["telegram-file:big"]),
        ("[语音]", ["telegram-file:v1"]),
        ("[位置]", []),
    ]
    assert rows[2]["location"] == {"latitude": 30.66, "longitude": 104.06, "address": None}
    assert rows[0]["identity"] == {"name": "李 四", "telegram_id": "777"}


async def test_start_gets_a_welcome_and_makes_no_contact(telegram: Telegram) -> None:
    start = _private(9, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    await telegram.post(start)
    [sent] = telegram.fake.calls("sendMessage")
    assert sent.params["chat_id"] == "777" and "12345" in sent.params["text"]
    assert await telegram.contacts() == []


async def test_unreadable_private_message_is_kept_raw(telegram: Telegram) -> None:
    odd = _private(11, text="看这个", sticker={"width": "not a number"})
    odd["message"]["from"] = {"id": 777, "first_name": "李", "is_bot": "maybe", "type": 1}
    assert (await telegram.post(odd)).status == 200
    [row] = await telegram.contacts()
    assert (row["external_id"], row["text"]) == ("777:11", "看这个")


async def test_polling_feeds_the_same_handler(
    telegram: Telegram, tg_fake: tuple[TelegramApiFake, str]
) -> None:
    fake, root = tg_fake
    fake.push_updates(sample("teloxide_message_text.json"))
    poller = TelegramBot(
        make_bot(fake, root), telegram.service.accept, telegram.actions, polling=True,
        poll_timeout=0,
    )  # fmt: skip
    await poller.start()
    try:
        # Until the update is stored and the poller has asked for the ones after it.
        for _ in range(250):
            asked = [c.params.get("offset") for c in fake.calls("getUpdates")]
            if await telegram.contacts() and "892252935" in asked:
                break
            await asyncio.sleep(0.02)
    finally:
        await poller.stop()
    assert len(await telegram.contacts()) == 1
    assert fake.calls("deleteWebhook")
    offsets = [c.params.get("offset") for c in fake.calls("getUpdates")]
    assert "892252935" in offsets  # the next update after the one handled


def test_samples_are_the_shared_bytes() -> None:
    from tests.connectors.telegram.conftest import FIXTURES

    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    import hashlib

    for entry in manifest:
        digest = hashlib.sha256((FIXTURES / entry["name"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"], entry["name"]
