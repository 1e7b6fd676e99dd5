"""A citizen's Telegram photo, voice or document: getFile, download, stored on the ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.media import CHAT_RULES, MediaDownloads
from connectors.telegram.files import file_fetch
from connectors.telegram.updates import FILE_REF_PREFIX
from tests.connectors.telegram.conftest import Telegram
from tickets.attachments import FileStore
from tickets.model import Role
from tickets.privacy import Viewer

AGENT = Viewer("agent", Role.AGENT)
PHOTO = b"\xff\xd8\xff\xe0" + b"photo" * 200
OGG = b"OggS" + b"\x00" * 500
PDF = b"%PDF-1.7\n" + b"0" * 300
MAX = 64 * 1024
NOW = 1795398900


@pytest.fixture
def media(telegram: Telegram, tmp_path: Path) -> MediaDownloads:
    """The bot's file downloads into a store under tmp_path; backoff waits recorded."""
    downloads = MediaDownloads(
        "telegram",
        FILE_REF_PREFIX,
        file_fetch(telegram.bot.bot),
        FileStore(tmp_path / "attachments", replace(CHAT_RULES, max_bytes=MAX)),
        telegram.service.attach_file,
        backoff=0.5,
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    downloads.sleep = sleep
    downloads.waits = waits  # type: ignore[attr-defined]
    telegram.bot.media = downloads
    return downloads


def private(update_id: int, **message: Any) -> dict[str, Any]:
    user = {"id": 777, "is_bot": False, "first_name": "李", "last_name": "四"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": user,
            "chat": {"id": 777, "type": "private", "first_name": "李"},
            "date": NOW,  # five minutes before the fake clock
            **message,
        },
    }


async def files_on_ticket(telegram: Telegram) -> list[dict[str, Any]]:
    rows = await telegram.contacts()
    async with telegram.service.store.read() as tx:
        t = await tx.ticket(ticket_id=rows[0]["ticket_id"])
    assert t is not None
    view = await telegram.service.view(t["number"], AGENT)
    return [a for c in view["contacts"] for a in c["attachments"]]


async def test_photo_voice_and_document_are_fetched_stored_and_on_the_ticket(
    telegram: Telegram, media: MediaDownloads
) -> None:
    fake = telegram.fake
    fake.files.update({"big": PHOTO, "v1": OGG, "doc1": PDF})
    photo = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 10},
        {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960},
    ]
    assert (await telegram.post(private(1, photo=photo, caption="路灯坏了"))).status == 200
    voice = {"file_id": "v1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}
    await telegram.post(private(2, voice=voice))
    doc = {"file_id": "doc1", "file_unique_id": "d", "file_name": "现场照片说明.pdf",
           "mime_type": "application/pdf"}  # fmt: skip
    await telegram.post(private(3, document=doc))
    await media.drain()
    files = await files_on_ticket(telegram)
    assert [(a["name"], a["content_type"], a["size"]) for a in files] == [
        ("photo.jpg", "image/jpeg", len(PHOTO)),
        ("voice-v.ogg", "audio/ogg", len(OGG)),
        ("现场照片说明.pdf", "application/pdf", len(PDF)),
    ]
    for a, content in zip(files, (PHOTO, OGG, PDF), strict=True):
        assert a["ref"].startswith("sha256:")
        path = media.files.path_of(a["ref"])
        assert path is not None and path.read_bytes() == content
    # getFile for each, then the file endpoint, with the bot's own token
    assert [c.params["file_id"] for c in fake.calls("getFile")] == ["big", "v1", "doc1"]
    downloads = fake.calls("download")
    assert [c.params["path"] for c in downloads] == [
        "files/big.bin",
        "files/v1.bin",
        "files/doc1.bin",
    ]
    assert all(c.token == fake.token for c in downloads)
    # Telegram delivers update 1 again: nothing new is fetched
    await telegram.post(private(1, photo=photo, caption="路灯坏了"))
    await media.drain()
    assert len(fake.calls("getFile")) == 3


async def test_download_errors_are_retried_with_backoff(
    telegram: Telegram, media: MediaDownloads
) -> None:
    telegram.fake.files["p2"] = PHOTO
    telegram.fake.fail_downloads(2, status=502)
    photo = [{"file_id": "p2", "file_unique_id": "p", "width": 800, "height": 600}]
    await telegram.post(private(5, photo=photo))
    await media.drain()
    assert media.waits == [0.5, 1.0]  # type: ignore[attr-defined]
    assert len(telegram.fake.calls("download")) == 3
    [stored] = await files_on_ticket(telegram)
    assert stored["ref"].startswith("sha256:") and stored["size"] == len(PHOTO)


async def test_too_big_and_unknown_files_are_refused_and_recorded(
    telegram: Telegram, media: MediaDownloads
) -> None:
    telegram.fake.files["huge"] = b"x" * (MAX + 1)
    big = {"file_id": "huge", "file_unique_id": "h", "file_name": "video.mp4"}
    await telegram.post(private(6, document=big))
    gone = {"file_id": "gone", "file_unique_id": "g", "file_name": "a.pdf"}
    await telegram.post(private(7, document=gone))
    await media.drain()
    files = await files_on_ticket(telegram)
    assert [a["ref"] for a in files] == ["rejected:size", "rejected:unavailable"]
    assert telegram.fake.calls("download") == []  # the size was known from getFile


async def test_files_left_by_a_stop_are_fetched_on_the_next_start(
    telegram: Telegram, media: MediaDownloads
) -> None:
    telegram.bot.media = None  # the process died before it could fetch
    photo = [{"file_id": "p9", "file_unique_id": "p", "width": 800, "height": 600}]
    await telegram.post(private(9, photo=photo))
    [kept] = await files_on_ticket(telegram)
    assert kept["ref"] == FILE_REF_PREFIX + "p9"
    telegram.fake.files["p9"] = PHOTO
    since = telegram.clock() - timedelta(days=3)
    assert await media.resume(telegram.service.files_to_fetch, since) == 1
    await media.drain()
    [stored] = await files_on_ticket(telegram)
    assert stored["ref"].startswith("sha256:")
